package ptyrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

const (
	outputBufSize = 128 << 10
	inputBufSize  = 32 << 10
	// outputSettle is how long the output must stay quiet before we stop
	// ourselves after the child stopped, so that what it printed last
	// ("suspended, run fg") reaches the terminal first; settleLimit bounds
	// the wait when something in the child's session keeps printing.
	outputSettle = 20 * time.Millisecond
	settleLimit  = 500 * time.Millisecond
	// drainIdle ends the drain after the child exited when no output came
	// for that long: it only matters when something else still holds the
	// PTY (a background process, or macOS's kept slave); otherwise the
	// master reports EOF as soon as the output is consumed.
	drainIdle = 100 * time.Millisecond
)

// session is one terminal-mode run.
type session struct {
	opts  Options
	inFd  int
	tty   *rawTerminal
	sigs  *terminalSignals
	modes modeTracker // owned by relayOutput until outputDone

	// master is non-blocking and registered with Go's poller, so that reads
	// take deadlines (the drain) and Close interrupts them. Nothing may call
	// master.Fd(), which would switch it back to blocking mode.
	master *os.File
	pid    int
	size   unix.Winsize // the PTY's current size

	suspended bool        // stopped ourselves after the child stopped
	childGone atomic.Bool // the child was reaped: relayOutput drains
	// relaying is set while relayOutput handles a chunk; relayedAt is when
	// it last finished one (UnixNano).
	relaying   atomic.Bool
	relayedAt  atomic.Int64
	outputDone chan struct{}
	inputDone  chan struct{}
}

func runTerminal(ctx context.Context, cmd *exec.Cmd, opts Options) (Result, error) {
	// Signals first: one arriving between raw mode and its handler would
	// kill us with the terminal left raw (util-linux#4499).
	sigs := notifyTerminalSignals()
	defer sigs.stop()

	s := &session{
		opts:       opts,
		inFd:       int(opts.Stdin.Fd()),
		sigs:       sigs,
		outputDone: make(chan struct{}),
		inputDone:  make(chan struct{}),
	}
	s.tty = &rawTerminal{fd: s.inFd}
	cooked, err := unix.IoctlGetTermios(s.inFd, ioctlGetTermios)
	if err != nil {
		return Result{}, fmt.Errorf("ptyrun: read the terminal's modes: %w", err)
	}
	s.size = initialSize(s.inFd)

	master, slave, err := pty.Open()
	if err != nil {
		return Result{}, fmt.Errorf("ptyrun: open a pseudo-terminal: %w", err)
	}
	defer slave.Close() // already closed on Linux once the child has it
	// The child's terminal starts as a copy of the user's (erase key, IUTF8,
	// …) at the user's size, as script(1) does: it never sees 0x0.
	if err := unix.IoctlSetTermios(int(slave.Fd()), ioctlSetTermios, cooked); err != nil {
		master.Close()
		return Result{}, fmt.Errorf("ptyrun: set up the pseudo-terminal's modes: %w", err)
	}
	if s.master, err = pollable(master); err != nil {
		return Result{}, fmt.Errorf("ptyrun: set up the pseudo-terminal: %w", err)
	}
	defer s.master.Close()
	if err := setWinsize(s.master, &s.size); err != nil {
		return Result{}, fmt.Errorf("ptyrun: set the pseudo-terminal's size: %w", err)
	}

	if err := s.tty.makeRaw(); err != nil {
		return Result{}, fmt.Errorf("ptyrun: put the terminal in raw mode: %w", err)
	}
	defer s.tty.restore()

	// Closing wakeWrite stops relayInput.
	wakeRead, wakeWrite, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("ptyrun: create a pipe: %w", err)
	}
	defer wakeRead.Close()
	defer wakeWrite.Close()

	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A new session whose controlling terminal is the slave (Ctty 0 is the
	// child's stdin): the child and its jobs get Ctrl-C/Ctrl-Z from the
	// inner line discipline, never from ours.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("ptyrun: start %s: %w", cmd.Args[0], err)
	}
	s.pid = cmd.Process.Pid
	// The child is reaped with wait4 (exec.Cmd.Wait does not report
	// stops); Release frees the Process's pidfd.
	defer cmd.Process.Release()
	if !keepSlaveUntilReaped {
		slave.Close()
	}

	if opts.OnStart != nil {
		opts.OnStart(s.pid, Size{Cols: s.size.Col, Rows: s.size.Row})
	}
	go s.relayOutput()
	go s.relayInput(int(wakeRead.Fd()))

	res := s.waitChild(ctx)

	// Drain: everything the child wrote is read and written out before Run
	// returns, then the input relay is stopped. relayOutput reads on until
	// the PTY reports its end or stays idle for drainIdle; a past deadline
	// wakes it if it waits for the PTY to become readable, since the
	// hang-up can come with the child's last output as one wake-up, which
	// it spent on that output.
	s.childGone.Store(true)
	_ = s.master.SetReadDeadline(time.Now())
	s.awaitOutput()
	slave.Close()
	s.master.Close()
	wakeWrite.Close()
	<-s.inputDone

	if resets := s.modes.resets(); len(resets) > 0 {
		// After the child's last byte; best effort, the terminal may be gone.
		_, _ = opts.Stdout.Write(resets)
	}
	return res, nil
}

// waitChild runs the session until the child exits: it forwards signals and
// size changes and follows the child's stops.
func (s *session) waitChild(ctx context.Context) Result {
	kill := killTimer{grace: s.opts.KillGrace}
	defer kill.stop()
	done := ctx.Done()
	for {
		select {
		case <-s.sigs.child:
			if res, exited := s.reap(); exited {
				return res
			}
		case <-s.sigs.winch:
			s.syncSize()
		case <-s.sigs.cont:
			s.resume()
		case sig := <-s.sigs.quit:
			s.signalChild(sig.(syscall.Signal))
			kill.arm()
		case <-done:
			done = nil
			s.signalChild(unix.SIGTERM)
			kill.arm()
		case <-kill.C:
			s.signalChild(unix.SIGKILL)
		}
	}
}

// reap collects the child's status changes; a stop suspends us like it.
func (s *session) reap() (Result, bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(s.pid, &ws, syscall.WNOHANG|syscall.WUNTRACED, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			// ECHILD: something else reaped our child; its status is lost.
			return Result{ExitCode: 1}, true
		case pid == 0:
			return Result{}, false
		case ws.Stopped():
			s.suspend()
		default:
			return resultOf(ws), true
		}
	}
}

// signalChild sends sig to the child's process group (the child leads it).
func (s *session) signalChild(sig syscall.Signal) {
	_ = unix.Kill(-s.pid, sig) // ESRCH: it is gone already
}

// suspend does what a shell expects when its job's program stops: the
// child stopped (Ctrl-Z, or it stopped itself), so we give the terminal
// back in its normal mode and stop ourselves; resume undoes it on SIGCONT.
func (s *session) suspend() {
	s.awaitOutputSettled()
	s.tty.restore()
	s.suspended = true
	_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
}

func (s *session) resume() {
	if !s.suspended {
		return
	}
	s.suspended = false
	// Best effort: with the terminal gone there is nothing to put back, and
	// the child must still be continued.
	_ = s.tty.makeRaw()
	s.syncSize() // the window may have changed while we were stopped
	s.signalChild(unix.SIGCONT)
}

// syncSize gives the PTY the user's terminal size; the kernel sends the
// child SIGWINCH. SIGWINCH is coalesced by its one-slot channel.
func (s *session) syncSize() {
	ws, err := unix.IoctlGetWinsize(s.inFd, unix.TIOCGWINSZ)
	// 0x0 means no size is known (some consoles): keep the current one.
	if err != nil || ws.Row == 0 || ws.Col == 0 || *ws == s.size {
		return
	}
	if err := setWinsize(s.master, ws); err != nil {
		return
	}
	s.size = *ws
	if s.opts.OnResize != nil {
		s.opts.OnResize(Size{Cols: ws.Col, Rows: ws.Row}, time.Now())
	}
}

// awaitOutputSettled waits until relayOutput has relayed everything the
// PTY holds and nothing came for outputSettle, or settleLimit passed. The
// PTY's queue counts: a child that prints and stops at once leaves its last
// bytes there, read by nobody yet, long after the last chunk relayed.
func (s *session) awaitOutputSettled() {
	limit := time.Now().Add(settleLimit)
	for time.Now().Before(limit) {
		quiet := time.Since(time.Unix(0, s.relayedAt.Load()))
		if !s.relaying.Load() && quiet >= outputSettle && s.queued() == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// queued is the number of output bytes waiting in the PTY (0 when it
// cannot tell).
func (s *session) queued() int {
	rc, err := s.master.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), ioctlReadable) })
	return n
}

// awaitOutput waits for relayOutput to finish draining. A termination
// signal cuts the drain short: whatever still holds the PTY, the user
// wants out.
func (s *session) awaitOutput() {
	for {
		select {
		case <-s.outputDone:
			return
		case <-s.sigs.quit:
			s.master.Close()
		}
	}
}

// relayOutput copies the PTY's output to the user's terminal and OnOutput
// until every slave fd is closed (Linux reports EIO for that) or, once the
// child is gone, until the output stays idle for drainIdle.
func (s *session) relayOutput() {
	defer close(s.outputDone)
	defer s.restoreOnPanic()
	buf := make([]byte, outputBufSize)
	stdoutOK := true
	rc, err := s.master.SyscallConn()
	if err != nil {
		return
	}
	for {
		var n int
		if s.childGone.Load() {
			// Renewed before each read so that time spent writing to a slow
			// terminal never counts as idle.
			idle := time.Now().Add(drainIdle)
			_ = s.master.SetReadDeadline(idle)
			if n, err = s.master.Read(buf); errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(idle) {
				continue // runTerminal's wake-up, come late
			}
		} else if n, err = readWhenReady(rc, buf); errors.Is(err, os.ErrDeadlineExceeded) {
			continue // woken by runTerminal: the child is gone
		}
		if n > 0 {
			s.relaying.Store(true)
			at := time.Now()
			chunk := buf[:n]
			s.modes.scan(chunk)
			if stdoutOK {
				// A terminal that is gone must not stop the drain: the
				// child would block on a full PTY and the recording would
				// lose its end.
				_, werr := s.opts.Stdout.Write(chunk)
				stdoutOK = werr == nil
			}
			if s.opts.OnOutput != nil {
				s.opts.OnOutput(chunk, at)
			}
			s.relayedAt.Store(time.Now().UnixNano())
			s.relaying.Store(false)
		}
		if err != nil {
			return
		}
	}
}

// readWhenReady reads what the PTY holds, first waiting until it holds
// something. A read that finds the PTY empty is not free on Linux: the tty
// layer first waits for its pending flush work, a sleep and a kworker
// round trip, and a loop that reads again right after each chunk finds it
// empty about every other time (a fifth of the context switches of a bulk
// copy through the wrapper). script(1)'s poll loop never reads an empty PTY
// either.
func readWhenReady(rc syscall.RawConn, buf []byte) (n int, err error) {
	first := true
	rerr := rc.Read(func(fd uintptr) bool {
		if first {
			first = false
			if k, err := unix.IoctlGetInt(int(fd), ioctlReadable); err == nil && k == 0 {
				return false // wait until it is readable
			}
		}
		for {
			n, err = unix.Read(int(fd), buf)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
	switch {
	case rerr != nil:
		return 0, rerr
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// relayInput copies the user's keystrokes (and the terminal's replies) to
// the PTY until wake is closed. It polls rather than blocking in read so
// that it can stop without swallowing a keystroke meant for the shell.
func (s *session) relayInput(wake int) {
	defer close(s.inputDone)
	defer s.restoreOnPanic()
	buf := make([]byte, inputBufSize)
	for {
		ready, err := waitReadable(s.inFd, wake)
		if err != nil || !ready {
			return
		}
		n, err := unix.Read(s.inFd, buf)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil || n == 0 { // hang-up or EOF: nothing more to relay
			return
		}
		if _, err := s.master.Write(buf[:n]); err != nil {
			return
		}
		if s.opts.OnInput != nil {
			s.opts.OnInput(buf[:n], time.Now())
		}
	}
}

// restoreOnPanic puts the terminal back before a panic (in a hook) crashes
// the program; Run's own defers do not run for other goroutines' panics.
func (s *session) restoreOnPanic() {
	if r := recover(); r != nil {
		s.tty.restore()
		panic(r)
	}
}

// rawTerminal switches the user's terminal between its own modes and raw
// mode. It is safe for concurrent use: the panic guard restores it from the
// relay goroutines.
type rawTerminal struct {
	fd    int
	mu    sync.Mutex
	saved *term.State // the modes to restore; nil when not raw
}

func (t *rawTerminal) makeRaw() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.saved != nil {
		return nil
	}
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return err
	}
	t.saved = st
	return nil
}

func (t *rawTerminal) restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.saved == nil {
		return
	}
	_ = term.Restore(t.fd, t.saved) // best effort: the terminal may be gone (SIGHUP)
	t.saved = nil
}

// terminalSignals are the signals a terminal session handles, each kind on
// its own channel so that a burst of one never drops another; one-slot
// channels coalesce repeats (SIGWINCH storms, SIGCHLD).
type terminalSignals struct {
	child, winch, cont, quit chan os.Signal
}

func notifyTerminalSignals() *terminalSignals {
	s := &terminalSignals{
		child: make(chan os.Signal, 1),
		winch: make(chan os.Signal, 1),
		cont:  make(chan os.Signal, 1),
		quit:  make(chan os.Signal, 4),
	}
	signal.Notify(s.child, unix.SIGCHLD)
	signal.Notify(s.winch, unix.SIGWINCH)
	signal.Notify(s.cont, unix.SIGCONT)
	signal.Notify(s.quit, unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT)
	return s
}

func (s *terminalSignals) stop() {
	for _, c := range []chan os.Signal{s.child, s.winch, s.cont, s.quit} {
		signal.Stop(c)
	}
}

// initialSize is the user's terminal size, 80x24 where it is unknown (0).
func initialSize(fd int) unix.Winsize {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		ws = &unix.Winsize{}
	}
	if ws.Col == 0 {
		ws.Col = 80
	}
	if ws.Row == 0 {
		ws.Row = 24
	}
	return *ws
}

// pollable replaces f by a non-blocking duplicate registered with Go's
// poller (deadlines, Close interrupting Read) and closes f.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// setWinsize is pty.Setsize without (*os.File).Fd, which would make a
// pollable file blocking again.
func setWinsize(f *os.File, ws *unix.Winsize) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws)
	}); err != nil {
		return err
	}
	return ioctlErr
}
