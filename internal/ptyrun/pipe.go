package ptyrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pipeWaitDelay bounds how long Run waits, after the child exited, for
// processes it left behind to close its stdout and stderr.
const pipeWaitDelay = time.Second

// runPipe runs the child without a PTY: stdin is passed through as is (the
// child sees EOF when the caller's input ends), stdout and stderr are teed
// to the caller's files and OnOutput.
func runPipe(ctx context.Context, cmd *exec.Cmd, opts Options) (Result, error) {
	quit := make(chan os.Signal, 4)
	signal.Notify(quit, unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT)
	defer signal.Stop(quit)

	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	tap := &outputTap{hook: opts.OnOutput}
	cmd.Stdin = opts.Stdin
	cmd.Stdout = tap.to(opts.Stdout)
	cmd.Stderr = tap.to(stderr)
	cmd.WaitDelay = pipeWaitDelay
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("ptyrun: start %s: %w", cmd.Args[0], err)
	}
	if opts.OnStart != nil {
		opts.OnStart(cmd.Process.Pid, Size{})
	}
	waited := make(chan struct{})
	go func() {
		// Its error says how the child ended (ProcessState has it) or that
		// a copy failed, e.g. EPIPE, which the child sees itself.
		_ = cmd.Wait()
		close(waited)
	}()

	kill := killTimer{grace: opts.KillGrace}
	defer kill.stop()
	done := ctx.Done()
	for {
		select {
		case <-waited:
			return resultOf(cmd.ProcessState.Sys().(syscall.WaitStatus)), nil
		case sig := <-quit:
			// The child is in our process group: a terminal's SIGINT and
			// SIGQUIT reached it already, forwarding them would double them.
			if sig == unix.SIGTERM || sig == unix.SIGHUP {
				_ = cmd.Process.Signal(sig)
				kill.arm()
			}
		case <-done:
			done = nil
			_ = cmd.Process.Signal(unix.SIGTERM)
			kill.arm()
		case <-kill.C:
			_ = cmd.Process.Kill()
		}
	}
}

// outputTap hands what the child writes to the hook, then to its
// destination; the mutex keeps the hook from running concurrently for
// stdout and stderr.
type outputTap struct {
	mu   sync.Mutex
	hook func(p []byte, at time.Time)
}

func (t *outputTap) to(dst io.Writer) io.Writer {
	return tapWriter{tap: t, dst: dst}
}

type tapWriter struct {
	tap *outputTap
	dst io.Writer
}

// Write records p before writing it, so that a failing destination (a
// closed pipe) still leaves the bytes in the recording; its error is
// returned so the child gets EPIPE like without the wrapper.
func (w tapWriter) Write(p []byte) (int, error) {
	if w.tap.hook != nil {
		w.tap.call(p, time.Now())
	}
	return w.dst.Write(p)
}

func (t *outputTap) call(p []byte, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hook(p, at)
}
