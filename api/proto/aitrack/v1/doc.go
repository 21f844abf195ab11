// Package aitrackv1 is the gRPC contract between aitrack-wrap, the aitrack
// CLI and aitrackd, generated from recorder.proto (`make generate`; the
// generated files are committed and checked by `make check-generate`).
package aitrackv1
