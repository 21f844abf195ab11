// Package bench is aitrack's benchmark harness: it measures aitrack-wrap
// side by side with what users would otherwise run (the program on its own
// terminal, util-linux script, asciinema), and aitrackd under realistic
// load against a real MLflow, then writes BENCHMARKS.md and BENCHMARKS.json
// with every figure next to its budget.
//
// The harness plays the terminal: it holds the master of a pseudo-terminal
// and runs each candidate on the slave, as a terminal emulator runs a shell.
// It measures built binaries from the outside; it is not a unit benchmark
// of any package (those are `go test -bench` in each package), and it never
// decides anything from speed in tests.
//
// Linux only: it reads /proc.
package bench
