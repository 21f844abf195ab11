package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/asciicast"
	"github.com/aitrack/aitrack/internal/clitest"
	"github.com/aitrack/aitrack/internal/mlflowclient"
)

// interactiveSize is the user's terminal when a wrapped program starts.
var interactiveSize = clitest.Size{Width: 100, Height: 30}

// interactiveTimeout bounds one wrapped program's whole session; the
// binaries run with -race on a shared machine.
const interactiveTimeout = 2 * time.Minute

// promptAfterInterrupt is how soon a REPL's prompt must be back after
// Ctrl-C: far more than a relayed byte takes under load, far less than the
// interrupted sleep.
const promptAfterInterrupt = 5 * time.Second

// outerShell is the user's shell around the wrapper ("$@"): it records the
// terminal's modes before and after the wrapper and the wrapper's exit
// status, then waits, so that the terminal is still live when the test
// looks at it.
const outerShell = `out=$1; shift
stty -g >"$out/modes-before"
"$@"
echo $? >"$out/status"
stty -g >"$out/modes-after"
echo outer-shell-done
read x
`

// wrapped is a real program run through the real aitrack-wrap in tmux,
// as a user runs it from a shell.
type wrapped struct {
	t        *testing.T
	e        *env
	ctx      context.Context
	term     *clitest.Tmux
	out      string // the outer shell's records
	scenario string
}

// startWrapped runs argv through aitrack-wrap in dir. HOME is a fresh
// directory, so that the programs' histories (python, less, vim, bash) stay
// out of the user's, and LESS is empty, so that the user's options cannot
// change what less shows.
func (e *env) startWrapped(scenario, dir string, argv ...string) *wrapped {
	e.t.Helper()
	out := e.t.TempDir()
	args := append([]string{"/bin/sh", "-c", outerShell, "sh", out,
		e.bin("aitrack-wrap"), "--param", "scenario=" + scenario, "--"}, argv...)
	env := append(slices.Clone(e.vars), "HOME="+e.t.TempDir(), "LESS=")
	term := clitest.StartTmux(e.t, clitest.Command{Args: args, Env: env, Dir: dir}, interactiveSize)
	ctx, cancel := context.WithTimeout(context.Background(), interactiveTimeout)
	e.t.Cleanup(cancel)
	return &wrapped{t: e.t, e: e, ctx: ctx, term: term, out: out, scenario: scenario}
}

// waitFor waits until the screen or its scrollback shows substr.
func (w *wrapped) waitFor(substr string) {
	w.t.Helper()
	if _, err := w.term.WaitFor(w.ctx, substr); err != nil {
		w.t.Fatal(err)
	}
}

// waitMatch waits until the screen or its scrollback matches re.
func (w *wrapped) waitMatch(re string) {
	w.t.Helper()
	if _, err := w.term.WaitForMatch(w.ctx, regexp.MustCompile(re)); err != nil {
		w.t.Fatal(err)
	}
}

// submit types line and presses Enter.
func (w *wrapped) submit(line string) {
	w.t.Helper()
	if err := w.term.Submit(w.ctx, line); err != nil {
		w.t.Fatal(err)
	}
}

// waitScreen waits until the visible screen satisfies ok, e.g. after a
// redraw that leaves older copies of the same text in the scrollback.
func (w *wrapped) waitScreen(what string, ok func(screen string, alternate bool) bool) {
	w.t.Helper()
	w.e.eventually(remaining(w.ctx), what, func() error {
		if screen := w.term.Capture(); !ok(screen, w.term.AlternateScreen()) {
			return fmt.Errorf("screen:\n%s", screen)
		}
		return nil
	})
}

// remaining is the time left before ctx's deadline.
func remaining(ctx context.Context) time.Duration {
	d, _ := ctx.Deadline()
	return time.Until(d)
}

// finish waits until the wrapper has returned to the outer shell and checks
// what it left the user: exit status 0, the terminal's modes as they were,
// the primary screen, and no line of the wrapper's own.
func (w *wrapped) finish() {
	w.t.Helper()
	w.waitFor("outer-shell-done")
	if status := w.record("status"); status != "0" {
		w.t.Errorf("aitrack-wrap exited with %s, want 0", status)
	}
	before, after := w.record("modes-before"), w.record("modes-after")
	if before == "" || before != after {
		w.t.Errorf("terminal modes (stty -g) after the wrapper differ from before:\nbefore %s\nafter  %s", before, after)
	}
	if w.term.AlternateScreen() {
		w.t.Error("the terminal is still on the alternate screen after the wrapper returned")
	}
	if all := w.term.CaptureWith(clitest.CaptureOptions{History: true}); strings.Contains(all, "aitrack:") {
		w.t.Errorf("the wrapper wrote to the terminal:\n%s", all)
	}
}

// record reads one of the outer shell's records.
func (w *wrapped) record(name string) string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.out, name))
	if err != nil {
		w.t.Fatalf("the outer shell's %s: %v", name, err)
	}
	return strings.TrimSpace(string(b))
}

// recorded waits for the session's run, checks that it FINISHED and that
// its raw transcript holds every one of want, and returns the run and the
// transcript.
func (w *wrapped) recorded(want ...string) (mlflowclient.Run, string) {
	w.t.Helper()
	run := w.e.finishedRun(`params.scenario = "`+w.scenario+`"`, 60*time.Second)
	if run.Info.Status != "FINISHED" {
		w.t.Errorf("run status %s, want FINISHED", run.Info.Status)
	}
	raw := w.e.artifact(run, "transcript.raw")
	for _, s := range want {
		if !strings.Contains(raw, s) {
			w.t.Errorf("raw transcript (%d bytes) lacks %q", len(raw), s)
		}
	}
	return run, raw
}

// TestInteractivePython drives the python3 REPL through the wrapper: input
// echoes, Ctrl-C interrupts a running statement, a resize reaches the
// child, and exit() leaves the terminal as it was.
func TestInteractivePython(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	w := e.startWrapped("python-repl", e.dir, "python3", "-q")
	w.waitFor(">>> ")

	w.submit("print(6*7)")
	w.waitMatch(`(?m)^42$`)

	// The child starts at the terminal's size.
	w.submit("import os; os.get_terminal_size()")
	w.waitFor("os.terminal_size(columns=100, lines=30)")

	// "sleeping" alone on a line is the statement's output, not its echo:
	// Ctrl-C must hit the sleep, not the line editor.
	w.submit(`import time; print("sleeping"); time.sleep(100)`)
	w.waitMatch(`(?m)^sleeping$`)
	start := time.Now()
	w.term.SendKeys("C-c")
	prompt, cancel := context.WithTimeout(w.ctx, promptAfterInterrupt)
	defer cancel()
	if _, err := w.term.WaitForMatch(prompt, regexp.MustCompile(`KeyboardInterrupt\n>>> `)); err != nil {
		t.Fatalf("Ctrl-C did not bring the prompt back within %v: %v", promptAfterInterrupt, err)
	}
	t.Logf("the prompt came back %v after Ctrl-C", time.Since(start))

	// The new size reaches the child asynchronously (SIGWINCH, then
	// TIOCSWINSZ on the wrapper's PTY), so ask until it shows.
	w.term.Resize(clitest.Size{Width: 120, Height: 40})
	const resized = "os.terminal_size(columns=120, lines=40)"
	w.e.eventually(30*time.Second, "the child sees the new size", func() error {
		if s := w.term.CaptureWith(clitest.CaptureOptions{Join: true, History: true}); strings.Contains(s, resized) {
			return nil
		}
		w.submit("os.get_terminal_size()")
		time.Sleep(300 * time.Millisecond)
		return fmt.Errorf("no %s on the screen", resized)
	})

	w.submit("exit()")
	w.finish()

	run, _ := w.recorded("42\r\n", "\r\nsleeping\r\n", "KeyboardInterrupt", "columns=100, lines=30", resized)
	checkCastResize(t, e.artifact(run, "session.cast"), "120x40")
}

// checkCastResize checks that the asciicast recording starts at
// interactiveSize and records a resize to size.
func checkCastResize(t *testing.T, cast, size string) {
	t.Helper()
	var resizes []string
	h, err := asciicast.Read(strings.NewReader(cast), nil, func(ev asciicast.Event) error {
		if ev.Code == "r" {
			resizes = append(resizes, ev.Data)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("session.cast: %v", err)
	}
	if h.Width != interactiveSize.Width || h.Height != interactiveSize.Height {
		t.Errorf("session.cast header %dx%d, want %dx%d", h.Width, h.Height, interactiveSize.Width, interactiveSize.Height)
	}
	if !slices.Contains(resizes, size) {
		t.Errorf("session.cast resizes %q, want one to %s", resizes, size)
	}
}

// vimFile is a file for vim to edit; its first line shows when vim draws.
const vimFile = "first line of the file\nsecond line\n"

// writeVimFile writes vimFile into dir and returns its path.
func writeVimFile(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(path, []byte(vimFile), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// onAlternateScreenShowing is a waitScreen condition: a full-screen program
// has drawn want.
func onAlternateScreenShowing(want string) func(string, bool) bool {
	return func(screen string, alternate bool) bool { return alternate && strings.Contains(screen, want) }
}

// TestInteractiveVim edits a file with vim through the wrapper.
func TestInteractiveVim(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	path := writeVimFile(t, e.dir)
	w := e.startWrapped("vim", e.dir, "vim", "-u", "NONE", "-N", "file.txt")
	w.waitScreen("vim draws the file", onAlternateScreenShowing("first line of the file"))

	const typed = "inserted through the wrapper"
	w.term.SendText("O" + typed)
	w.waitFor(typed)
	w.term.SendKeys("Escape")
	w.submit(":wq")
	w.finish()

	if b, err := os.ReadFile(path); err != nil || string(b) != typed+"\n"+vimFile {
		t.Errorf("file after :wq = %q, %v; want %q", b, err, typed+"\n"+vimFile)
	}
	w.recorded("first line of the file", typed)
}

// TestInteractiveLess pages through a file with less through the wrapper.
func TestInteractiveLess(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	var lines strings.Builder
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&lines, "line %d of the file\n", i)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "long.txt"), []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	w := e.startWrapped("less", e.dir, "less", "long.txt")
	w.waitScreen("less shows the first page", onAlternateScreenShowing("line 1 of the file"))
	if screen := w.term.Capture(); strings.Contains(screen, "line 200 of the file") {
		t.Fatalf("the last line shows before G:\n%s", screen)
	}

	w.term.SendKeys("G")
	w.waitScreen("G shows the end", func(screen string, alternate bool) bool {
		return alternate && strings.Contains(screen, "line 200 of the file") && !strings.Contains(screen, "line 1 of the file")
	})
	w.term.SendKeys("q")
	w.finish()

	w.recorded("line 1 of the file", "line 200 of the file")
}

// TestInteractiveSuspendResume suspends jobs of a wrapped bash with Ctrl-Z
// and resumes them with fg, as in any terminal: cat, which the PTY's line
// discipline stops, and vim, which stops itself.
func TestInteractiveSuspendResume(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	writeVimFile(t, e.dir)
	// PS1 comes from an rc file: tmux starts the pane through a
	// non-interactive bash, which unsets PS1 from the environment.
	rc := filepath.Join(e.dir, "bashrc")
	if err := os.WriteFile(rc, []byte("PS1='inner$ '\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := e.startWrapped("bash-job-control", e.dir, "bash", "--noprofile", "--rcfile", rc, "-i")
	w.waitFor("inner$ ")

	// Keys typed before bash has put the terminal back in canonical mode
	// would wait for another newline, as in any terminal; so each line for
	// cat waits for output bash prints after that: "reading", the job
	// that fg resumes. A line echoed twice (the terminal's echo, then cat's
	// copy) shows that cat runs in the foreground: a Ctrl-Z before that
	// would reach bash.
	w.submit("echo reading; cat")
	w.waitMatch(`(?m)^reading$`)
	w.submit("to cat before the stop")
	w.waitMatch(`(?m)^to cat before the stop\nto cat before the stop$`)
	w.term.SendKeys("C-z")
	w.waitMatch(`\[1\]\+ +Stopped +cat`)
	w.submit("jobs")
	w.waitMatch(`inner\$ jobs\n\[1\]\+ +Stopped +cat`)
	w.submit("fg")
	w.waitMatch(`(?m)^inner\$ fg\ncat$`)
	w.submit("to cat after fg")
	w.waitMatch(`(?m)^to cat after fg\nto cat after fg$`)
	w.term.SendKeys("C-d")
	w.waitScreen("cat ends", func(screen string, _ bool) bool {
		return strings.HasSuffix(strings.TrimSpace(screen), "to cat after fg\ninner$")
	})

	w.submit("vim -u NONE -N file.txt")
	w.waitScreen("vim draws the file", onAlternateScreenShowing("first line of the file"))
	w.term.SendKeys("C-z")
	w.waitScreen("vim stops and the shell's prompt is back", func(screen string, alternate bool) bool {
		return !alternate && strings.HasSuffix(strings.TrimSpace(screen), "inner$")
	})
	w.submit("jobs")
	w.waitMatch(`inner\$ jobs\n\[1\]\+ +Stopped +vim -u NONE -N file\.txt`)
	w.submit("fg")
	w.waitScreen("vim redraws after fg", onAlternateScreenShowing("first line of the file"))
	w.submit(":q")
	w.waitScreen("vim exits to the shell", func(screen string, alternate bool) bool {
		return !alternate && strings.HasSuffix(strings.TrimSpace(screen), "inner$")
	})
	w.submit("exit")
	w.finish()

	_, raw := w.recorded("to cat after fg")
	for _, stopped := range []string{`Stopped +cat`, `Stopped +vim`} {
		if !regexp.MustCompile(stopped).MatchString(raw) {
			t.Errorf("the raw transcript lacks /%s/", stopped)
		}
	}
	if n := strings.Count(raw, "first line of the file"); n < 2 {
		t.Errorf("the raw transcript shows vim's file %d times, want at least 2 (drawn, then redrawn after fg)", n)
	}
}

// TestInteractiveShellMarks: an interactive bash, zsh or fish through the
// wrapper gets the invisible prompt marks (OSC 133), so its run counts the
// commands typed at the prompt, whatever the prompt looks like, and a
// command's failure from its real exit status, not from its error text.
func TestInteractiveShellMarks(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			if _, err := exec.LookPath(shell); err != nil {
				t.Skipf("%s not installed (make test installs it as root)", shell)
			}
			e := newEnv(t)
			// fish's generated completions exist, as after its first
			// start: otherwise it makes them from the man pages in the
			// background, which holds the terminal open.
			data := t.TempDir()
			if err := os.MkdirAll(filepath.Join(data, "fish", "generated_completions"), 0o700); err != nil {
				t.Fatal(err)
			}
			e.vars = append(e.vars, "XDG_DATA_HOME="+data)
			e.startDaemon()
			w := e.startWrapped(shell+"-shell-marks", e.dir, shell)
			w.submit("echo marks-ready")
			w.waitMatch(`(?m)^marks-ready$`)
			w.submit("ls /nonexistent-aitrack")
			w.waitFor("No such file or directory")
			w.submit("false")
			w.submit("echo 'error: printed, not failed'")
			w.waitMatch(`(?m)^error: printed, not failed$`)
			w.submit("exit")
			w.finish()

			run, _ := w.recorded("marks-ready")
			if v, _ := run.Tag("aitrack.shell_marks"); v != "on" {
				t.Errorf("tag aitrack.shell_marks = %q, want on", v)
			}
			m := mlMetrics(run)
			if m["commands_executed"] != 5 || m["errors_encountered"] != 2 {
				t.Errorf("commands_executed %v, errors_encountered %v; want 5 and 2 (ls and false exited non-zero)", m["commands_executed"], m["errors_encountered"])
			}
			events := w.e.artifact(run, "events.jsonl")
			for _, want := range []string{`"exit status 2: ls /nonexistent-aitrack"`, `"exit status 1: false"`} {
				if !strings.Contains(events, want) {
					t.Errorf("events.jsonl lacks %s:\n%s", want, events)
				}
			}
		})
	}
}
