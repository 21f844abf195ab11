// Package ptyrun runs a program in a pseudo-terminal as transparently as
// util-linux script(1), so that the user cannot tell a wrapper is there: the
// user's terminal goes to raw mode, bytes are relayed unchanged both ways,
// window size changes, signals and job control (a child that stops itself)
// are passed through, terminal modes a crashed child left on are reset, and
// the child's exit status is returned. When stdin or stdout is not a
// terminal it runs the program without a PTY and tees its output (pipe mode).
//
// It only exposes hooks to observe a session (OnStart, OnOutput, OnResize);
// it knows nothing about recording, transport or storage. It is for Linux
// and macOS, and for one Run at a time per process, because terminal modes
// and signal dispositions are process-wide.
package ptyrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/term"
)

// Size is a terminal size in character cells.
type Size struct{ Cols, Rows uint16 }

// Options describe the program to run and the terminal to run it on.
//
// The hooks are called synchronously from the relay loops, so they must
// return quickly and never block (hand the data to a bounded queue, drop on
// overflow): a slow hook stalls the user's terminal. OnOutput is never
// called concurrently with itself, but it runs on another goroutine than
// OnStart and OnResize.
type Options struct {
	// Argv is the program and its arguments; Argv[0] is looked up in PATH.
	Argv []string
	// Env is the child's environment, passed unchanged (nil: this
	// process's). TERM, COLORTERM, LANG… must reach the child as they are:
	// programs pick colours, key protocols and synchronized output from them.
	Env []string
	// Dir is the child's working directory ("" for the current one).
	Dir string
	// Stdin and Stdout are the user's terminal, or pipes/files (pipe mode).
	Stdin, Stdout *os.File
	// Stderr receives the child's stderr in pipe mode (nil: os.Stderr). In
	// terminal mode the child's stderr is the PTY, like its stdout.
	Stderr *os.File

	// OnStart is called once the child has started, before any OnOutput,
	// with its pid and the PTY's size (Size{} in pipe mode: no terminal).
	OnStart func(pid int, size Size)
	// OnOutput is called with each chunk read from the PTY (in pipe mode:
	// from the child's stdout or stderr) and the time it was read. p is
	// reused once OnOutput returns: copy it to keep it.
	OnOutput func(p []byte, at time.Time)
	// OnResize is called after each size change forwarded to the PTY.
	OnResize func(size Size, at time.Time)
	// OnInput is called with each chunk from the user's terminal after it
	// was written to the PTY (terminal mode only: in pipe mode the child
	// reads stdin itself). The slice is reused: copy it to keep it.
	OnInput func(p []byte, at time.Time)

	// KillGrace is how long the child has to exit after a forwarded
	// termination signal (or ctx's end) before its process group gets
	// SIGKILL; 0 means 2s, as script(1).
	KillGrace time.Duration
}

// Result is how the child ended.
type Result struct {
	// ExitCode is the child's exit status, or 128+signal when a signal
	// killed it (the shell convention).
	ExitCode int
	// Signal is the signal that killed the child, 0 when it exited.
	Signal syscall.Signal
}

const defaultKillGrace = 2 * time.Second

// Run runs opts.Argv until it exits and returns how it ended. In terminal
// mode (Stdin and Stdout are terminals) the child gets a PTY of the user's
// size and the user's terminal is in raw mode until Run returns; it is
// restored on every path, including panics in the hooks. Run returns after
// the child exited and its output was drained.
//
// SIGTERM, SIGHUP, SIGINT and SIGQUIT received while Run runs are forwarded
// to the child (SIGKILL follows after KillGrace); the end of ctx counts as a
// SIGTERM. In pipe mode SIGINT and SIGQUIT are not forwarded: the child
// shares this process's group, so the terminal already sent them to it.
//
// The error is non-nil only when the program could not be started; when it
// was not found the error satisfies errors.Is(err, exec.ErrNotFound).
func Run(ctx context.Context, opts Options) (Result, error) {
	if len(opts.Argv) == 0 {
		return Result{}, errors.New("ptyrun: no program given (empty Argv)")
	}
	if opts.Stdin == nil || opts.Stdout == nil {
		return Result{}, errors.New("ptyrun: Options.Stdin and Options.Stdout are required")
	}
	cmd := exec.Command(opts.Argv[0], opts.Argv[1:]...)
	if cmd.Err != nil {
		return Result{}, fmt.Errorf("ptyrun: %w", cmd.Err)
	}
	cmd.Env = opts.Env
	cmd.Dir = opts.Dir
	if opts.KillGrace <= 0 {
		opts.KillGrace = defaultKillGrace
	}
	if term.IsTerminal(int(opts.Stdin.Fd())) && term.IsTerminal(int(opts.Stdout.Fd())) {
		return runTerminal(ctx, cmd, opts)
	}
	return runPipe(ctx, cmd, opts)
}

// ExitCode is the status a wrapper should exit with to mirror the child:
// the child's exit status, or 128+signal when a signal killed it.
func ExitCode(r Result) int {
	if r.Signal != 0 {
		return 128 + int(r.Signal)
	}
	return r.ExitCode
}

func resultOf(ws syscall.WaitStatus) Result {
	if ws.Signaled() {
		r := Result{Signal: ws.Signal()}
		r.ExitCode = ExitCode(r)
		return r
	}
	return Result{ExitCode: ws.ExitStatus()}
}

// killTimer escalates a forwarded termination signal to SIGKILL after the
// grace period; its channel is nil (never ready) until armed.
type killTimer struct {
	grace time.Duration
	timer *time.Timer
	C     <-chan time.Time
}

func (k *killTimer) arm() {
	if k.timer == nil {
		k.timer = time.NewTimer(k.grace)
		k.C = k.timer.C
	}
}

func (k *killTimer) stop() {
	if k.timer != nil {
		k.timer.Stop()
	}
}
