//go:build linux

package ptyrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

var size97x31 = Size{Cols: 97, Rows: 31}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name       string
		script     string
		wantCode   int
		wantSignal syscall.Signal
	}{
		{"success", "exit 0", 0, 0},
		{"failure", "exit 1", 1, 0},
		{"other code", "exit 3", 3, 0},
		{"killed by SIGINT", "kill -INT $$", 130, unix.SIGINT},
		{"killed by SIGKILL", "kill -KILL $$", 137, unix.SIGKILL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startWrapper(t, wrapperConfig{size: size97x31}, "sh", "-c", tt.script)
			if got := o.wait().ExitCode(); got != tt.wantCode {
				t.Errorf("wrapper exit code = %d, want %d; output %q", got, tt.wantCode, o.output())
			}
			wantEvent := fmt.Sprintf("exit %d %d", tt.wantCode, int(tt.wantSignal))
			if events := o.eventLines(); events[len(events)-1] != wantEvent {
				t.Errorf("events = %q, want the last one %q", events, wantEvent)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		r    Result
		want int
	}{
		{Result{ExitCode: 0}, 0},
		{Result{ExitCode: 42}, 42},
		{Result{ExitCode: 137, Signal: unix.SIGKILL}, 137},
		{Result{Signal: unix.SIGTERM}, 143},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.r), func(t *testing.T) {
			if got := ExitCode(tt.r); got != tt.want {
				t.Errorf("ExitCode(%+v) = %d, want %d", tt.r, got, tt.want)
			}
		})
	}
}

// TestMissingProgram runs Run in this process on a real terminal: the error
// says "not found" and the terminal is left untouched.
func TestMissingProgram(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	started := false
	_, err = Run(context.Background(), Options{
		Argv:  []string{"aitrack-no-such-program", "--flag"},
		Stdin: slave, Stdout: slave,
		OnStart: func(int, Size) { started = true },
	})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Run error = %v, want one matching exec.ErrNotFound", err)
	}
	if started {
		t.Error("OnStart was called for a program that does not exist")
	}
	after, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("the terminal's modes changed:\n before %+v\n after  %+v", *before, *after)
	}
}

func TestWindowSize(t *testing.T) {
	tests := []struct {
		name      string
		outer     Size
		wantFirst string // what stty size shows at start
		wantStart string // the start event's size
	}{
		{"the outer size", size97x31, "31 97", "97x31"},
		{"unknown size is 80x24", Size{}, "24 80", "80x24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startWrapper(t, wrapperConfig{size: tt.outer},
				"sh", "-c", `stty size; while read line; do stty size; done`)
			o.expect(tt.wantFirst + "\r\n")
			if pid := o.childPid(); pid <= 0 {
				t.Fatalf("bad child pid %d", pid)
			}

			// A 0x0 report is ignored; the real size after it is applied.
			o.resize(Size{})
			o.resize(Size{Cols: 120, Rows: 40})
			o.waitSize("40 120")

			o.typeIn("\x04") // EOF for read
			if code := o.wait().ExitCode(); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			want := []string{"start", "resize 120x40", "exit 0 0"}
			got := o.eventLines()
			if len(got) != len(want) || !strings.HasSuffix(got[0], " "+tt.wantStart) || got[1] != want[1] || got[2] != want[2] {
				t.Errorf("events = %q, want start … %s, %q", got, tt.wantStart, want[1:])
			}
		})
	}
}

// waitSize presses Enter until the child's stty size shows want: the
// wrapper applies a resize asynchronously.
func (o *outerTerminal) waitSize(want string) {
	o.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(o.output()[o.cursor:], "\n"+want+"\r\n") {
		if time.Now().After(deadline) {
			o.t.Fatalf("stty size never showed %q; output %q", want, o.output())
		}
		o.typeIn("\r")
		time.Sleep(20 * time.Millisecond)
	}
	o.expect("\n" + want + "\r\n")
}

// TestChildTerminalModes: the child's terminal starts with the user's modes
// (here an erase key of ^H), as with script(1).
func TestChildTerminalModes(t *testing.T) {
	o := startWrapper(t, wrapperConfig{size: size97x31, setup: func(t testing.TB, slave *os.File) {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		tio.Cc[unix.VERASE] = 0x08
		if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
			t.Fatal(err)
		}
	}}, "stty", "-a")
	o.wait()
	if !strings.Contains(o.output(), "erase = ^H;") {
		t.Errorf("the child's terminal does not have the user's erase key; stty -a:\n%s", o.output())
	}
}

func TestEnvironmentPassedUnchanged(t *testing.T) {
	o := startWrapper(t, wrapperConfig{size: size97x31,
		env: []string{"TERM=xterm-kitty", "COLORTERM=truecolor", "LANG=C.UTF-8", "TERM_PROGRAM=test-term"}},
		"sh", "-c", `printf '<%s|%s|%s|%s>' "$TERM" "$COLORTERM" "$LANG" "$TERM_PROGRAM"`)
	o.wait()
	if want := "<xterm-kitty|truecolor|C.UTF-8|test-term>"; o.output() != want {
		t.Errorf("output = %q, want exactly %q", o.output(), want)
	}
}

func TestInteractiveShell(t *testing.T) {
	o := startWrapper(t, wrapperConfig{size: size97x31, env: []string{"PS1=$ ", "TERM=dumb"}},
		"bash", "--norc", "--noprofile", "-i")
	o.expect("$ ")

	t.Run("typed input echoes and runs", func(t *testing.T) {
		o.typeIn("echo hel''lo\r")
		o.expect("echo hel''lo\r\n")
		o.expect("hello\r\n$ ")
	})
	t.Run("Ctrl-C interrupts a command", func(t *testing.T) {
		o.typeIn("sleep 100\r")
		o.expect("sleep 100\r\n")
		descendant(t, o.cmd.Process.Pid, "sleep")
		o.typeIn("\x03")
		o.expect("$ ")
		o.typeIn("echo status=$?\r")
		o.expect("status=130\r\n$ ")
	})
	t.Run("Ctrl-Z and fg in the child shell", func(t *testing.T) {
		o.typeIn("sleep 100\r")
		o.expect("sleep 100\r\n")
		sleep := descendant(t, o.cmd.Process.Pid, "sleep")
		o.typeIn("\x1a")
		o.expect("Stopped")
		o.expect("$ ")
		waitProcessState(t, sleep, func(s byte) bool { return s == 'T' }, "stopped")
		if state := processState(t, o.cmd.Process.Pid); state == 'T' {
			t.Error("the wrapper stopped although its child, the shell, did not")
		}
		o.typeIn("fg\r")
		o.expect("sleep 100\r\n")
		waitProcessState(t, sleep, func(s byte) bool { return s != 'T' }, "continued")
		o.typeIn("\x03")
		o.expect("$ ")
	})
	o.typeIn("exit 7\r")
	if code := o.wait().ExitCode(); code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
}

// TestSuspendAndResume: a child that stops itself (Claude Code does on
// Ctrl-Z) stops the wrapper with the terminal in its normal modes; SIGCONT to
// the wrapper puts the terminal back in raw mode and continues the child.
func TestSuspendAndResume(t *testing.T) {
	o := startWrapper(t, wrapperConfig{size: size97x31, childHelper: "suspender"}, os.Args[0])
	o.expect("ready\r\n")
	child := o.childPid()
	wrapper := o.cmd.Process.Pid
	raw := o.termios()
	if raw == o.before {
		t.Fatal("the terminal is not in raw mode while the child runs")
	}

	o.typeIn("\x1a")
	o.expect("suspending\r\n")
	waitProcessState(t, child, func(s byte) bool { return s == 'T' }, "stopped")
	waitProcessState(t, wrapper, func(s byte) bool { return s == 'T' }, "stopped")
	if got := o.termios(); got != o.before {
		t.Errorf("while stopped, the terminal's modes are not the user's:\n want %+v\n got  %+v", o.before, got)
	}

	if err := o.cmd.Process.Signal(unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	o.expect("resumed\r\n")
	waitProcessState(t, wrapper, func(s byte) bool { return s != 'T' }, "running")
	deadline := time.Now().Add(waitLimit)
	for o.termios() != raw {
		if time.Now().After(deadline) {
			t.Fatal("the terminal did not go back to raw mode after SIGCONT")
		}
		time.Sleep(5 * time.Millisecond)
	}

	o.typeIn("\x03")
	if code := o.wait().ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130; output %q", code, o.output())
	}
}

// TestByteExact: 50 MB through the wrapper arrive on the outer terminal and
// in OnOutput exactly as the same command writes them to a PTY directly.
func TestByteExact(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB relay")
	}
	data := filepath.Join(t.TempDir(), "random")
	random := make([]byte, 37_500_000) // 50,000,000 bytes once in base64
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, random, 0o600); err != nil {
		t.Fatal(err)
	}
	script := "base64 " + data + "; echo END-OF-OUTPUT"

	direct := sha256.New()
	var directTail tail
	directN := runInPTY(t, io.MultiWriter(direct, &directTail), "sh", "-c", script)
	if !bytes.HasSuffix(directTail.last, []byte("\r\nEND-OF-OUTPUT\r\n")) {
		t.Fatalf("the direct run ends with %q, not with the marker line", directTail.last)
	}

	outer := &countingHash{h: sha256.New()}
	o := startWrapper(t, wrapperConfig{size: size97x31, sink: outer}, "sh", "-c", script)
	if code := o.wait().ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	tap, err := os.Open(o.tap)
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	tapped := sha256.New()
	tapN, err := io.Copy(tapped, tap)
	if err != nil {
		t.Fatal(err)
	}

	if directN < 50_000_000 {
		t.Fatalf("the direct run wrote only %d bytes", directN)
	}
	if outer.n != directN || !bytes.Equal(outer.Sum(nil), direct.Sum(nil)) {
		t.Errorf("outer terminal got %d bytes (sha256 %x), direct run %d bytes (sha256 %x)",
			outer.n, outer.Sum(nil), directN, direct.Sum(nil))
	}
	if tapN != directN || !bytes.Equal(tapped.Sum(nil), direct.Sum(nil)) {
		t.Errorf("OnOutput got %d bytes (sha256 %x), direct run %d bytes (sha256 %x)",
			tapN, tapped.Sum(nil), directN, direct.Sum(nil))
	}
}

// TestDrainAfterExit: the child exits while most of its output is still in
// the PTY, because the relay is stalled (by a hook, as a slow terminal
// would): none of it is lost, however long the stall. 6000 bytes fit in
// the PTY's buffer (about 10 KB for large writes on Linux), so the child
// can exit.
func TestDrainAfterExit(t *testing.T) {
	hold := t.TempDir()
	o := startWrapper(t, wrapperConfig{size: size97x31, holdHook: hold}, "sh", "-c",
		`echo first; while [ ! -e "$PTYRUN_TEST_HOLD/blocked" ]; do sleep 0.01; done
		head -c 6000 /dev/zero | tr '\0' x; printf '\nEND\n'`)
	child := o.childPid()
	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", child)); errors.Is(err, os.ErrNotExist) {
			break // exited and reaped by the wrapper
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(3 * drainIdle) // a stall longer than the drain's idle window
	if err := os.WriteFile(filepath.Join(hold, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := o.wait().ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	want := "first\r\n" + strings.Repeat("x", 6000) + "\r\nEND\r\n"
	if got := o.output(); got != want {
		t.Errorf("the terminal got %d bytes ending %q, want %d bytes ending %q", len(got), got[max(0, len(got)-20):], len(want), want[len(want)-20:])
	}
	if tapped, err := os.ReadFile(o.tap); err != nil || string(tapped) != want {
		t.Errorf("OnOutput got %d bytes (%v), want %d", len(tapped), err, len(want))
	}
}

type countingHash struct {
	n int64
	h hash.Hash
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (c *countingHash) Sum(b []byte) []byte { return c.h.Sum(b) }

// runInPTY runs argv directly in a PTY at 97x31 and copies all its output to
// w; it returns the byte count.
func runInPTY(t testing.TB, w io.Writer, argv ...string) int64 {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 97, Rows: 31})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	n, err := io.Copy(w, master)
	if err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestModesResetAfterChildDies(t *testing.T) {
	const enable = "\x1b[?1049h\x1b[?25l\x1b[?1000;1006h\x1b[?2004h\x1b[>1u"
	tests := []struct {
		name   string
		script string
		want   string // all the outer terminal must receive
	}{
		{"killed with modes on", `printf '` + enable + `'; kill -KILL $$`,
			enable + "\x1b[?1000l\x1b[?1006l\x1b[?2004l\x1b[<1u\x1b[?1049l\x1b[?25h"},
		{"child resets its modes", `printf '` + enable + `\033[<u\033[?2004l\033[?1006;1000l\033[?25h\033[?1049l'`,
			enable + "\x1b[<u\x1b[?2004l\x1b[?1006;1000l\x1b[?25h\x1b[?1049l"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startWrapper(t, wrapperConfig{size: size97x31}, "sh", "-c", tt.script)
			o.wait()
			if got := o.output(); got != tt.want {
				t.Errorf("the terminal received\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func TestSignalsToWrapper(t *testing.T) {
	tests := []struct {
		name   string
		sig    syscall.Signal
		script string
		want   int
	}{
		{"SIGTERM", unix.SIGTERM, "echo ready; exec sleep 100", 143},
		{"SIGHUP", unix.SIGHUP, "echo ready; exec sleep 100", 129},
		{"SIGINT", unix.SIGINT, "echo ready; exec sleep 100", 130},
		{"SIGQUIT", unix.SIGQUIT, "echo ready; exec sleep 100", 131},
		{"TERM trapped: SIGKILL after the grace", unix.SIGTERM, `trap "" TERM; echo ready; sleep 100`, 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startWrapper(t, wrapperConfig{size: size97x31, grace: 300 * time.Millisecond}, "sh", "-c", tt.script)
			o.expect("ready\r\n")
			if err := o.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			if code := o.wait().ExitCode(); code != tt.want {
				t.Errorf("exit code %d, want %d", code, tt.want)
			}
		})
	}
}

// TestTerminalRestoredWhenHookPanics: a panic in a hook crashes the wrapper,
// but not before the terminal is out of raw mode.
func TestTerminalRestoredWhenHookPanics(t *testing.T) {
	o := startWrapper(t, wrapperConfig{size: size97x31, panics: true}, "sh", "-c", "echo boom; sleep 100")
	st := o.wait()
	if st.ExitCode() != 2 || !strings.Contains(o.output(), "test: OnOutput panics") {
		t.Errorf("exit code %d, want 2 with the panic reported; output %q", st.ExitCode(), o.output())
	}
}

// TestExitDoesNotWaitForBackgroundHolders: a process the child left behind
// still holds the PTY; the wrapper returns once the output goes idle.
func TestExitDoesNotWaitForBackgroundHolders(t *testing.T) {
	o := startWrapper(t, wrapperConfig{size: size97x31}, "sh", "-c", `trap "" HUP; sleep 100 & echo started`)
	child := o.childPid()
	t.Cleanup(func() { _ = unix.Kill(-child, unix.SIGKILL) })
	if code := o.wait().ExitCode(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !strings.Contains(o.output(), "started\r\n") {
		t.Errorf("output %q lacks the child's last line", o.output())
	}
}

// TestContextCancel runs Run in this process: the end of ctx ends the child
// like a SIGTERM, in both modes.
func TestContextCancel(t *testing.T) {
	tests := []struct {
		name  string
		stdio func(t *testing.T) (stdin, stdout *os.File)
	}{
		{"terminal", func(t *testing.T) (*os.File, *os.File) {
			master, slave, err := pty.Open()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { master.Close() })
			t.Cleanup(func() { slave.Close() })
			go func() { _, _ = io.Copy(io.Discard, master) }() // ends with EIO once slave is closed
			return slave, slave
		}},
		{"pipes", func(t *testing.T) (*os.File, *os.File) {
			inRead, inWrite, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			outRead, outWrite, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []*os.File{inRead, inWrite, outRead, outWrite} {
				t.Cleanup(func() { f.Close() })
			}
			return inRead, outWrite
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdin, stdout := tt.stdio(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res, err := Run(ctx, Options{
				Argv: []string{"sleep", "100"}, Stdin: stdin, Stdout: stdout,
				OnStart: func(int, Size) { cancel() },
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := (Result{ExitCode: 143, Signal: unix.SIGTERM}); res != want {
				t.Errorf("Run = %+v, want %+v", res, want)
			}
		})
	}
}

// tail keeps the last bytes written to it.
type tail struct{ last []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.last = append(t.last, p...)
	if len(t.last) > 64 {
		t.last = slices.Clone(t.last[len(t.last)-64:])
	}
	return len(p), nil
}

// BenchmarkBulkOutput: bytes/s of a child's output reaching the terminal,
// through the wrapper and directly.
func BenchmarkBulkOutput(b *testing.B) {
	const size = 16 << 20
	script := fmt.Sprintf("head -c %d /dev/zero", size)
	b.Run("wrapper", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			sink := &countingHash{h: sha256.New()}
			o := startWrapper(b, wrapperConfig{size: size97x31, sink: sink}, "sh", "-c", script)
			o.wait()
			if sink.n != size {
				b.Fatalf("got %d bytes", sink.n)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if n := runInPTY(b, io.Discard, "sh", "-c", script); n != size {
				b.Fatalf("got %d bytes", n)
			}
		}
	})
}

// BenchmarkKeystrokeRoundTrip: one byte typed, echoed by `cat` in raw mode,
// read back (the wrapper adds a PTY hop each way).
func BenchmarkKeystrokeRoundTrip(b *testing.B) {
	echoed := make(chan int, 1)
	o := startWrapper(b, wrapperConfig{size: size97x31, sink: notifyWriter(echoed)}, "sh", "-c", "stty raw -echo; echo ready; exec cat")
	<-echoed // ready
	for b.Loop() {
		o.typeIn("k")
		<-echoed
	}
	b.StopTimer()
	o.typeIn("\x04")
	_ = o.cmd.Process.Signal(unix.SIGTERM)
	o.wait()
}

type notifyWriter chan int

func (w notifyWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		select {
		case w <- len(p):
		default:
		}
	}
	return len(p), nil
}
