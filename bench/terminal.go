package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// terminal is a program running on a fresh pseudo-terminal whose master the
// harness holds: the harness is the terminal emulator. The program is the
// session leader with the slave as its controlling terminal, so programs
// that open /dev/tty (asciinema) find it.
type terminal struct {
	master *os.File
	fd     int
	cmd    *exec.Cmd
	// started is taken just before the program is started.
	started time.Time
	done    chan struct{} // closed when cmd.Wait returned
	waitErr error
	// final is the program's /proc stat read after it exited but before
	// it was reaped: the only moment its own CPU time can be read apart
	// from its children's.
	final    procStat
	finalErr error
}

// terminalSize is what every candidate sees: a common window size.
var terminalSize = pty.Winsize{Rows: 40, Cols: 120}

// startOnTerminal starts argv on a new pty with env and working directory dir.
func startOnTerminal(argv, env []string, dir string) (*terminal, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	defer slave.Close()
	if err := pty.Setsize(master, &terminalSize); err != nil {
		master.Close()
		return nil, fmt.Errorf("set the terminal size: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// Pdeathsig: nothing outlives a harness that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	t := &terminal{master: master, cmd: cmd, done: make(chan struct{})}
	// Fd puts the master in blocking mode: reads go straight to read(2)
	// on this goroutine's thread, with no poller in the measured path.
	t.fd = int(master.Fd())
	t.started = time.Now()
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go t.reap()
	return t, nil
}

func (t *terminal) reap() {
	pid := t.cmd.Process.Pid
	var info unix.Siginfo
	// WNOWAIT leaves the zombie in place for /proc.
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	t.final, t.finalErr = readProcStat(pid)
	t.waitErr = t.cmd.Wait()
	close(t.done)
}

// treeCPU is the CPU time of the program and every descendant it reaped;
// valid once done is closed.
func (t *terminal) treeCPU() time.Duration {
	ru, ok := t.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// read reads from the master; io.EOF once every slave is closed (Linux
// reports that as EIO).
func (t *terminal) read(p []byte) (int, error) {
	for {
		n, err := unix.Read(t.fd, p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EIO) || (err == nil && n == 0):
			return 0, errEOF
		case err != nil:
			return 0, fmt.Errorf("read the terminal: %w", err)
		}
		return n, nil
	}
}

func (t *terminal) write(p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(t.fd, p)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write to the terminal: %w", err)
		}
		p = p[n:]
	}
	return nil
}

var errEOF = errors.New("terminal closed")

// drain reads and discards until the terminal closes, returning the count.
func (t *terminal) drain() int64 {
	var total atomic.Int64
	t.drainCounting(&total)
	return total.Load()
}

// drainCounting is drain adding to a counter as bytes arrive, for readers
// on other goroutines.
func (t *terminal) drainCounting(total *atomic.Int64) {
	buf := make([]byte, 64<<10)
	for {
		n, err := t.read(buf)
		total.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// waitExit waits up to limit for the program to exit.
func (t *terminal) waitExit(limit time.Duration) error {
	select {
	case <-t.done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("%s did not exit within %s", t.cmd.Path, limit)
	}
}

// hangUp closes the terminal as a closed window does (the kernel hangs up
// the session), then kills whatever is left after grace. It always reaps.
func (t *terminal) hangUp(grace time.Duration) {
	t.master.Close()
	if t.waitExit(grace) != nil {
		syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
}

// kill ends the program's whole session at once; used when a measurement
// went wrong and the program may be stuck.
func (t *terminal) kill() {
	select {
	case <-t.done:
		return // reaped: the group ID may already be someone else's
	default:
		syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// close releases the master after the program has exited.
func (t *terminal) close() {
	<-t.done
	t.master.Close()
}
