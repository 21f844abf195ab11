package clitest

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// shCommand runs a shell script in tmux with a minimal environment.
func shCommand(t *testing.T, script string, env ...string) Command {
	return Command{
		Args: []string{"/bin/sh", "-c", script},
		Env:  append([]string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}, env...),
		Dir:  t.TempDir(),
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTmuxSubmitAndWaitFor(t *testing.T) {
	term := StartTmux(t, shCommand(t, `echo ready; read line; echo "got:$line:$GREETING"; read x`, "GREETING=from-env"), Size{Width: 80, Height: 24})
	ctx := testContext(t)
	if _, err := term.WaitFor(ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	if err := term.Submit(ctx, "it's a 'quoted' line"); err != nil {
		t.Fatal(err)
	}
	screen, err := term.WaitForMatch(ctx, regexp.MustCompile(`got:.*:from-env`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(screen, "got:it's a 'quoted' line:from-env") {
		t.Errorf("typed text arrived altered:\n%s", screen)
	}
}

func TestTmuxWaitForTimesOutWithTheScreen(t *testing.T) {
	term := StartTmux(t, shCommand(t, `echo something else; read x`), Size{Width: 80, Height: 24})
	ctx := testContext(t)
	if _, err := term.WaitFor(ctx, "something else"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := term.WaitFor(short, "never printed")
	if err == nil || !strings.Contains(err.Error(), "something else") || !strings.Contains(err.Error(), `"never printed"`) {
		t.Errorf("error %v, want one naming the awaited text and showing the last screen", err)
	}
}

func TestTmuxResize(t *testing.T) {
	term := StartTmux(t, shCommand(t, `stty size; while read l; do stty size; done`), Size{Width: 100, Height: 30})
	ctx := testContext(t)
	if _, err := term.WaitFor(ctx, "30 100"); err != nil {
		t.Fatal(err)
	}
	term.Resize(Size{Width: 70, Height: 20})
	term.SendKeys("Enter")
	if _, err := term.WaitFor(ctx, "20 70"); err != nil {
		t.Fatal(err)
	}
}

func TestTmuxCaptureOptions(t *testing.T) {
	long := strings.Repeat("x", 50) + "END"
	term := StartTmux(t, shCommand(t, `seq 1 60; printf '\033[31mred\033[0m\n'; echo `+long+`; echo done; read x`), Size{Width: 40, Height: 10})
	ctx := testContext(t)
	if _, err := term.WaitFor(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		opts           CaptureOptions
		want, dontWant []string
	}{
		{"visible screen only", CaptureOptions{}, []string{"red", "done"}, []string{"\x1b[31m", "\n1\n", long}},
		{"escapes", CaptureOptions{Escapes: true}, []string{"\x1b[31mred"}, nil},
		{"joined", CaptureOptions{Join: true}, []string{long}, nil},
		{"history", CaptureOptions{History: true}, []string{"1\n2\n3\n"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := term.CaptureWith(tc.opts)
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("capture lacks %q:\n%s", w, s)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(s, w) {
					t.Errorf("capture has %q:\n%s", w, s)
				}
			}
		})
	}
}

func TestTmuxAlternateScreen(t *testing.T) {
	term := StartTmux(t, shCommand(t, `echo main; read x; printf '\033[?1049h'; echo alt; read x`), Size{Width: 80, Height: 24})
	ctx := testContext(t)
	if _, err := term.WaitFor(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if term.AlternateScreen() {
		t.Error("alternate screen reported before the program switched")
	}
	term.SendKeys("Enter")
	if _, err := term.WaitFor(ctx, "alt"); err != nil {
		t.Fatal(err)
	}
	if !term.AlternateScreen() {
		t.Error("alternate screen not reported after the program switched")
	}
}

func TestTmuxWaitExit(t *testing.T) {
	dir := t.TempDir()
	status := dir + "/status"
	term := StartTmux(t, shCommand(t, `echo bye; read x; sh -c 'exit 7'; echo $? >`+shellQuote(status)), Size{Width: 80, Height: 24})
	ctx := testContext(t)
	// Output of a program that exits at once can be lost in tmux, so it
	// waits for a key after printing.
	if _, err := term.WaitFor(ctx, "bye"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := term.WaitExit(short); err == nil {
		t.Fatal("WaitExit returned while the program was still waiting for input")
	}
	term.SendKeys("Enter")
	if err := term.WaitExit(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(status); err != nil || strings.TrimSpace(string(b)) != "7" {
		t.Errorf("recorded status %q, %v; want 7", b, err)
	}
	if s := term.CaptureWith(CaptureOptions{History: true}); !strings.Contains(s, "bye") {
		t.Errorf("screen after exit lacks the output:\n%s", s)
	}
}

// TestTmuxKillReachesEscapedProcesses starts what Gemini and Codex do: a
// process that ignores SIGHUP and one that leaves the pane's session.
func TestTmuxKillReachesEscapedProcesses(t *testing.T) {
	term := StartTmux(t, shCommand(t, `trap '' HUP; setsid sh -c "trap '' HUP; exec sleep 1000" & echo started; exec sleep 1000`), Size{Width: 80, Height: 24})
	if _, err := term.WaitFor(testContext(t), "started"); err != nil {
		t.Fatal(err)
	}
	marker := markerVar + "=" + term.marker
	// The tmux server, the pane's sleep and the escaped sleep.
	if n := len(markedProcesses(marker)); n < 3 {
		t.Fatalf("%d marked processes before Kill, want at least 3", n)
	}
	term.Kill()
	if pids := markedProcesses(marker); len(pids) != 0 {
		t.Errorf("processes %v survived Kill", pids)
	}
}
