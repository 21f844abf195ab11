// Package background lowers the daemon's CPU priority, so that parsing,
// redaction and delivery never take the CPU from the terminal the user is
// typing in: the wrapper and its child keep the normal priority, and the
// daemon's work, which can always wait, gets what is left.
//
// It is not a scheduler: the daemon's goroutines are not told apart.
package background

// Nice is the niceness the daemon runs at: on a busy machine the kernel
// gives a nice-0 process about ten times its share.
const Nice = 10

// Lower sets the calling process's niceness to Nice, unless it is already
// at least that nice.
func Lower() error { return lower(Nice) }
