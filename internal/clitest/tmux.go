package clitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Size is a terminal size in cells.
type Size struct{ Width, Height int }

// tmuxConf is the private server's configuration. Claude Code prints a hint
// above its prompt unless focus events are on; remain-on-exit keeps the last
// screen readable after the program ends; status off gives the program the
// whole window. (window-size manual would fit, but it makes tmux 3.3a's
// server exit at new-session; without clients the size stays as given.)
const tmuxConf = `set -g focus-events on
set -g default-terminal tmux-256color
set -g history-limit 100000
set -g remain-on-exit on
set -g status off
`

// sessionName is the one session on each private tmux server.
const sessionName = "clitest"

// markerVar is set in the environment of everything a Tmux starts, so Kill
// can find the processes that escaped the pane (daemons, SIGHUP-ignorers).
const markerVar = "AITRACK_CLITEST_ID"

// pollInterval is how often WaitFor and WaitExit look at the pane.
const pollInterval = 100 * time.Millisecond

// Tmux is one program running in a detached tmux session of a fixed size on
// a private tmux server. The methods that wait return errors; the others stop
// the test if tmux fails. The server and everything it started are killed
// when the test ends, after logging the screen if the test failed.
type Tmux struct {
	t      testing.TB
	socket string
	marker string
}

// StartTmux starts cmd in a new tmux server and session of the given size.
// cmd.Env is the program's whole environment (tmux adds TERM and TMUX).
func StartTmux(t testing.TB, cmd Command, size Size) *Tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skipf("skipping: tmux is needed to drive terminal programs: %v", err)
	}
	if len(cmd.Args) == 0 {
		t.Fatal("clitest.StartTmux: empty command")
	}
	// A socket path must stay under ~100 bytes, so not under t.TempDir().
	dir, err := os.MkdirTemp("", "clitest-tmux-")
	if err != nil {
		t.Fatalf("clitest.StartTmux: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte(tmuxConf), 0o600); err != nil {
		t.Fatalf("clitest.StartTmux: %v", err)
	}
	id := make([]byte, 8)
	rand.Read(id)
	x := &Tmux{t: t, socket: filepath.Join(dir, "tmux.sock"), marker: hex.EncodeToString(id)}

	quoted := make([]string, len(cmd.Args))
	for i, a := range cmd.Args {
		quoted[i] = shellQuote(a)
	}
	env := append(append([]string(nil), cmd.Env...), markerVar+"="+x.marker)
	args := []string{"-f", conf, "new-session", "-d", "-s", sessionName,
		"-x", strconv.Itoa(size.Width), "-y", strconv.Itoa(size.Height)}
	if cmd.Dir != "" {
		args = append(args, "-c", cmd.Dir)
	}
	// The tmux server inherits env, and so does the program; exec keeps the
	// program as the pane's process.
	args = append(args, "exec "+strings.Join(quoted, " "))
	if _, err := x.run(env, args...); err != nil {
		x.Kill()
		t.Fatalf("clitest.StartTmux: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if screen, err := x.capture(CaptureOptions{History: true}); err == nil {
				t.Logf("tmux screen and scrollback of %q at the end of the failed test:\n%s", cmd.Args[0], screen)
			}
		}
		x.Kill()
	})
	return x
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// run runs one tmux command on the private server.
func (x *Tmux) run(env []string, args ...string) (string, error) {
	c := exec.Command("tmux", append([]string{"-S", x.socket}, args...)...)
	c.Env = env
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("tmux %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// do runs a tmux command and stops the test if it fails.
func (x *Tmux) do(args ...string) string {
	x.t.Helper()
	out, err := x.run(nil, args...)
	if err != nil {
		x.t.Fatalf("clitest: %v", err)
	}
	return out
}

// SendKeys sends tmux key names, e.g. "Enter", "Escape", "C-c", "Up".
func (x *Tmux) SendKeys(keys ...string) {
	x.t.Helper()
	x.do(append([]string{"send-keys", "-t", sessionName}, keys...)...)
}

// SendText types text literally, as if typed on a keyboard (not pasted).
func (x *Tmux) SendText(text string) {
	x.t.Helper()
	x.do("send-keys", "-t", sessionName, "-l", text)
}

// submitGap is the least time Submit leaves between the last typed key and
// Enter: Gemini CLI takes an Enter within 30 ms of a typed key for part of a
// paste and inserts a newline instead of submitting.
const submitGap = 150 * time.Millisecond

// Submit types a prompt, waits until the visible screen shows it (so no
// keystroke is lost to a busy CLI) and then submitGap more, and presses
// Enter. Codex drops a typed "?" (it opens the shortcuts help), so prompts
// for Codex should avoid it.
func (x *Tmux) Submit(ctx context.Context, prompt string) error {
	x.t.Helper()
	x.SendText(prompt)
	if _, err := x.waitFor(ctx, strconv.Quote(prompt), CaptureOptions{Join: true}, func(s string) bool {
		return strings.Contains(s, prompt)
	}); err != nil {
		return fmt.Errorf("typed prompt not shown: %w", err)
	}
	// Not synchronisation (the screen check above is): the CLIs tell typing
	// from pasting by key timing, and the CLI read the last key before it
	// drew it.
	select {
	case <-time.After(submitGap):
	case <-ctx.Done():
		return fmt.Errorf("submitting a prompt: %w", ctx.Err())
	}
	x.SendKeys("Enter")
	return nil
}

// CaptureOptions selects what Capture returns.
type CaptureOptions struct {
	// Escapes keeps colours and attributes as SGR sequences (capture-pane -e).
	Escapes bool
	// Join joins wrapped lines and keeps trailing spaces (capture-pane -J).
	Join bool
	// History includes the scrollback above the visible screen (-S -).
	History bool
}

// Capture returns the visible screen as text, one line per row.
func (x *Tmux) Capture() string {
	x.t.Helper()
	return x.CaptureWith(CaptureOptions{})
}

// CaptureWith returns the screen as selected by o.
func (x *Tmux) CaptureWith(o CaptureOptions) string {
	x.t.Helper()
	s, err := x.capture(o)
	if err != nil {
		x.t.Fatalf("clitest: %v", err)
	}
	return s
}

func (x *Tmux) capture(o CaptureOptions) (string, error) {
	args := []string{"capture-pane", "-p", "-t", sessionName}
	if o.Escapes {
		args = append(args, "-e")
	}
	if o.Join {
		args = append(args, "-J")
	}
	if o.History {
		args = append(args, "-S", "-")
	}
	return x.run(nil, args...)
}

// WaitFor polls the screen and its scrollback (wrapped lines joined) until
// it contains substr, and returns that capture. The error carries the last
// capture when ctx ends first.
func (x *Tmux) WaitFor(ctx context.Context, substr string) (string, error) {
	return x.waitFor(ctx, strconv.Quote(substr), everything, func(s string) bool { return strings.Contains(s, substr) })
}

// WaitForMatch is WaitFor for a regular expression.
func (x *Tmux) WaitForMatch(ctx context.Context, re *regexp.Regexp) (string, error) {
	return x.waitFor(ctx, "/"+re.String()+"/", everything, re.MatchString)
}

// everything is the screen and its scrollback with wrapped lines joined.
var everything = CaptureOptions{Join: true, History: true}

func (x *Tmux) waitFor(ctx context.Context, what string, o CaptureOptions, match func(string) bool) (string, error) {
	var last string
	err := poll(ctx, func() (bool, error) {
		s, err := x.capture(o)
		last = s
		return err == nil && match(s), err
	})
	if err != nil {
		return last, fmt.Errorf("waiting for %s on the screen: %w; last screen:\n%s", what, err, last)
	}
	return last, nil
}

// poll calls done every pollInterval until it reports true or an error, or
// ctx ends.
func poll(ctx context.Context, done func() (bool, error)) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// WaitExit waits until the program has exited. The pane stays, so the last
// screen remains readable (tmux may scroll it into the history). No exit
// status is returned: tmux 3.3a leaves it unset for about one exit in ten, so
// a test that needs it should have the program record it, e.g. with
// sh -c 'prog; echo $? >status'.
func (x *Tmux) WaitExit(ctx context.Context) error {
	err := poll(ctx, func() (bool, error) {
		out, err := x.run(nil, "display-message", "-p", "-t", sessionName, "#{pane_dead}")
		return strings.TrimSpace(out) == "1", err
	})
	if err != nil {
		return fmt.Errorf("waiting for the program to exit: %w", err)
	}
	return nil
}

// AlternateScreen reports whether the program has switched to the
// terminal's alternate screen (full-screen renderers do; inline ones draw on
// the main screen and leave their history in the scrollback).
func (x *Tmux) AlternateScreen() bool {
	x.t.Helper()
	return strings.TrimSpace(x.do("display-message", "-p", "-t", sessionName, "#{alternate_on}")) == "1"
}

// Resize changes the terminal size; the program gets SIGWINCH.
func (x *Tmux) Resize(size Size) {
	x.t.Helper()
	x.do("resize-window", "-t", sessionName, "-x", strconv.Itoa(size.Width), "-y", strconv.Itoa(size.Height))
}

// Kill stops the tmux server and SIGKILLs every process it started that
// is still alive, including those that ignore SIGHUP or left the pane's
// process group. It is safe to call more than once.
func (x *Tmux) Kill() {
	x.run(nil, "kill-server") // fails harmlessly when the server is gone
	killMarked(markerVar + "=" + x.marker)
}
