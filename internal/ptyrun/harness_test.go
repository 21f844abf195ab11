//go:build linux

package ptyrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// The test binary doubles as the wrapper under test and as test children:
// TestMain runs a helper instead of the tests when envHelper says so.
const (
	envHelper      = "PTYRUN_TEST_HELPER"       // "wrap" or "suspender"
	envChildHelper = "PTYRUN_TEST_CHILD_HELPER" // envHelper for the wrapper's child
	envTap         = "PTYRUN_TEST_TAP"          // file receiving OnOutput's bytes
	envEvents      = "PTYRUN_TEST_EVENTS"       // file receiving start/resize/exit lines
	envGrace       = "PTYRUN_TEST_GRACE"        // KillGrace
	envPanic       = "PTYRUN_TEST_PANIC"        // OnOutput panics
	// envHold names a directory: the first OnOutput creates "blocked" in it
	// and returns only once "release" exists (a hook that stalls).
	envHold = "PTYRUN_TEST_HOLD"
)

// waitLimit bounds every wait in these tests; reaching it is a failure, not
// a measurement.
const waitLimit = 20 * time.Second

func TestMain(m *testing.M) {
	switch os.Getenv(envHelper) {
	case "wrap":
		os.Exit(helperWrap(os.Args[1:]))
	case "suspender":
		os.Exit(helperSuspender())
	}
	os.Exit(m.Run())
}

// helperWrap is a minimal aitrack-wrap: Run on this process's stdio.
func helperWrap(argv []string) int {
	events := io.Discard
	if path := os.Getenv(envEvents); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
		events = f
	}
	var tap io.Writer = io.Discard
	if path := os.Getenv(envTap); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
		tap = f
	}
	grace, _ := time.ParseDuration(os.Getenv(envGrace))
	panics := os.Getenv(envPanic) != ""
	hold := os.Getenv(envHold)

	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envHelper+"=") {
			env = append(env, kv)
		}
	}
	if child := os.Getenv(envChildHelper); child != "" {
		env = append(env, envHelper+"="+child)
	}
	res, err := Run(context.Background(), Options{
		Argv: argv, Env: env, Stdin: os.Stdin, Stdout: os.Stdout, KillGrace: grace,
		OnStart: func(pid int, size Size) {
			fmt.Fprintf(events, "start %d %dx%d\n", pid, size.Cols, size.Rows)
		},
		OnOutput: func(p []byte, _ time.Time) {
			if panics {
				panic("test: OnOutput panics")
			}
			if hold != "" {
				holdOnce(hold)
				hold = ""
			}
			if _, err := tap.Write(p); err != nil {
				panic(err)
			}
		},
		OnResize: func(size Size, _ time.Time) {
			fmt.Fprintf(events, "resize %dx%d\n", size.Cols, size.Rows)
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", argv[0], err)
		if errors.Is(err, exec.ErrNotFound) {
			return 127
		}
		return 126
	}
	fmt.Fprintf(events, "exit %d %d\n", res.ExitCode, int(res.Signal))
	return ExitCode(res)
}

func holdOnce(dir string) {
	if err := os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o600); err != nil {
		panic(err)
	}
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "release")); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	panic("test: never released")
}

// helperSuspender behaves like Claude Code: raw mode, Ctrl-Z makes it give
// the terminal back and stop itself with SIGSTOP (SIGTSTP would be
// discarded: as a session leader whose parent is outside its session, its
// process group is orphaned), Ctrl-C makes it die of SIGINT.
func helperSuspender() int {
	state, err := term.MakeRaw(0)
	if err != nil {
		fmt.Println(err)
		return 125
	}
	fmt.Print("ready\r\n")
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			return 1
		}
		switch buf[0] {
		case 0x1a:
			_ = term.Restore(0, state)
			fmt.Print("suspending\n") // cooked: the terminal adds the \r
			_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
			if state, err = term.MakeRaw(0); err != nil {
				return 125
			}
			fmt.Print("resumed\r\n")
		case 0x03:
			_ = term.Restore(0, state)
			_ = unix.Kill(os.Getpid(), unix.SIGINT)
			time.Sleep(waitLimit) // until the signal is delivered
			return 1
		}
	}
}

// outerTerminal is the user's terminal in a test: a real PTY whose slave is
// the wrapper's stdin, stdout and stderr (and controlling terminal) and
// whose master the test reads and types into.
type outerTerminal struct {
	t      testing.TB
	master *os.File // pollable
	cmd    *exec.Cmd
	before unix.Termios // the terminal's modes before the wrapper ran
	tap    string
	events string

	mu     sync.Mutex
	out    bytes.Buffer
	sink   io.Writer // instead of out when set
	cursor int       // where the next expect starts looking in out

	readDone chan struct{}
	exited   chan struct{}
}

type wrapperConfig struct {
	size        Size // of the outer terminal
	env         []string
	sink        io.Writer // receives the output instead of the buffer
	childHelper string
	grace       time.Duration
	panics      bool
	setup       func(t testing.TB, slave *os.File) // on the outer terminal before the wrapper starts
	holdHook    string                             // the OnOutput hold directory (envHold)
}

func startWrapper(t testing.TB, cfg wrapperConfig, argv ...string) *outerTerminal {
	t.Helper()
	dir := t.TempDir()
	o := &outerTerminal{
		t:        t,
		tap:      filepath.Join(dir, "tap"),
		events:   filepath.Join(dir, "events"),
		sink:     cfg.sink,
		readDone: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Cols: cfg.size.Cols, Rows: cfg.size.Rows}); err != nil {
		t.Fatal(err)
	}
	if cfg.setup != nil {
		cfg.setup(t, slave)
	}
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	o.before = *before

	o.cmd = exec.Command(os.Args[0], argv...)
	o.cmd.Env = append(os.Environ(), cfg.env...)
	// The race detector otherwise sleeps 1s at a successful exit.
	o.cmd.Env = append(o.cmd.Env, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	o.cmd.Env = append(o.cmd.Env, envHelper+"=wrap", envTap+"="+o.tap, envEvents+"="+o.events,
		envChildHelper+"="+cfg.childHelper, envGrace+"="+cfg.grace.String())
	if cfg.holdHook != "" {
		o.cmd.Env = append(o.cmd.Env, envHold+"="+cfg.holdHook)
	}
	if cfg.panics {
		o.cmd.Env = append(o.cmd.Env, envPanic+"=1")
	}
	o.cmd.Stdin, o.cmd.Stdout, o.cmd.Stderr = slave, slave, slave
	o.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // so that the master reports EIO once the wrapper is gone
	if o.master, err = pollable(master); err != nil {
		t.Fatal(err)
	}
	go o.read()
	go func() {
		_ = o.cmd.Wait()
		close(o.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-o.exited:
		default:
			_ = o.cmd.Process.Kill()
			<-o.exited
		}
		o.master.Close()
		<-o.readDone
	})
	return o
}

func (o *outerTerminal) read() {
	defer close(o.readDone)
	buf := make([]byte, 128<<10)
	for {
		n, err := o.master.Read(buf)
		o.mu.Lock()
		if o.sink != nil {
			_, _ = o.sink.Write(buf[:n])
		} else {
			o.out.Write(buf[:n])
		}
		o.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (o *outerTerminal) output() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.out.String()
}

// expect waits for want to appear in the output after what earlier expects
// matched, and returns the output up to the end of the match.
func (o *outerTerminal) expect(want string) string {
	o.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		o.mu.Lock()
		seen := o.out.String()
		if i := strings.Index(seen[o.cursor:], want); i >= 0 {
			o.cursor += i + len(want)
			o.mu.Unlock()
			return seen[:o.cursor]
		}
		o.mu.Unlock()
		if time.Now().After(deadline) {
			o.t.Fatalf("%q did not appear; output after the last match:\n%q", want, seen[o.cursor:])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (o *outerTerminal) typeIn(s string) {
	o.t.Helper()
	if _, err := o.master.Write([]byte(s)); err != nil {
		o.t.Fatal(err)
	}
}

// wait waits for the wrapper to exit and its output to be read to the end
// (EIO), then checks that the terminal's modes are back to what they were.
func (o *outerTerminal) wait() *os.ProcessState {
	o.t.Helper()
	select {
	case <-o.exited:
	case <-time.After(waitLimit):
		o.t.Fatalf("the wrapper did not exit; output:\n%q", o.output())
	}
	select {
	case <-o.readDone:
	case <-time.After(waitLimit):
		o.t.Fatal("the outer terminal did not report EOF after the wrapper exited")
	}
	if after := o.termios(); after != o.before {
		o.t.Errorf("the terminal's modes after the wrapper exited differ from before:\n before %+v\n after  %+v", o.before, after)
	}
	return o.cmd.ProcessState
}

// termios reads the outer terminal's modes through the master (Linux
// answers TCGETS on a master with its slave's modes).
func (o *outerTerminal) termios() unix.Termios {
	o.t.Helper()
	rc, err := o.master.SyscallConn()
	if err != nil {
		o.t.Fatal(err)
	}
	var tio *unix.Termios
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) { tio, ioctlErr = unix.IoctlGetTermios(int(fd), unix.TCGETS) }); err != nil {
		o.t.Fatal(err)
	}
	if ioctlErr != nil {
		o.t.Fatal(ioctlErr)
	}
	return *tio
}

func (o *outerTerminal) resize(size Size) {
	o.t.Helper()
	if err := setWinsize(o.master, &unix.Winsize{Col: size.Cols, Row: size.Rows}); err != nil {
		o.t.Fatal(err)
	}
	// The kernel signals the terminal's foreground group (the wrapper's)
	// only on a change; say it again like a terminal emulator may.
	_ = o.cmd.Process.Signal(unix.SIGWINCH)
}

// eventLines are the lines the wrapper's hooks and exit wrote.
func (o *outerTerminal) eventLines() []string {
	o.t.Helper()
	data, err := os.ReadFile(o.events)
	if err != nil {
		o.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// childPid waits for the start event and returns the child's pid.
func (o *outerTerminal) childPid() int {
	o.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		data, _ := os.ReadFile(o.events)
		var pid, cols, rows int
		if _, err := fmt.Sscanf(string(data), "start %d %dx%d\n", &pid, &cols, &rows); err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("no start event; events: %q", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processState is the state letter of /proc/PID/stat ('S', 'T', …).
func processState(t *testing.T, pid int) byte {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		t.Fatalf("unexpected /proc/%d/stat: %q", pid, data)
	}
	return data[i+2]
}

func waitProcessState(t *testing.T, pid int, want func(byte) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if want(processState(t, pid)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not become %s (state %c)", pid, what, processState(t, pid))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// descendant waits for a process named comm below pid and returns its pid.
func descendant(t *testing.T, ancestor int, comm string) int {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if readComm(pid) == comm && hasAncestor(pid, ancestor) {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s process below %d", comm, ancestor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readComm(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(data))
}

func hasAncestor(pid, ancestor int) bool {
	for pid > 1 {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		i := bytes.LastIndexByte(data, ')')
		var state byte
		var ppid int
		if _, err := fmt.Sscanf(string(data[i+2:]), "%c %d", &state, &ppid); err != nil {
			return false
		}
		if ppid == ancestor {
			return true
		}
		pid = ppid
	}
	return false
}
