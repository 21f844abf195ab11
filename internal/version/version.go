// Package version holds the build version and the wire protocol number that
// the wrapper, the CLI and the daemon exchange in their handshake.
package version

// Version is set at link time (-ldflags "-X .../version.Version=...").
var Version = "dev"

// Protocol is the gRPC contract's version; MinProtocol the oldest a daemon
// still accepts from a client.
const (
	Protocol    = 1
	MinProtocol = 1
)
