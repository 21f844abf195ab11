package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/clitest"
	"github.com/aitrack/aitrack/internal/sessionlog"
)

// TestSessionLogInterruptedTurn interrupts a turn while the CLI runs a long
// command, then has a second turn complete. Hooks that fire at the end of
// a turn lose such turns; the run must still hold the interrupted turn's
// prompt and command, one interruption, and the second turn, exactly.
func TestSessionLogInterruptedTurn(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	for _, c := range []struct {
		renderer string
		// interrupt is the key that stops a running turn: Claude Code
		// takes Ctrl-C; Codex takes Escape ("esc to interrupt"), its
		// Ctrl-C asks first whether to cancel or leave the task running.
		interrupt string
	}{
		{"claude-classic", "C-c"},
		{"codex-inline", "Escape"},
	} {
		r := rendererNamed(c.renderer)
		t.Run(c.renderer, func(t *testing.T) {
			e := e.with(t)
			dir := gitRepo(t)
			started := filepath.Join(t.TempDir(), "started")
			long := "touch " + started + " && sleep 30"
			prompts := []string{"first: run the long command", "second: go on"}
			s := e.startAI(r, dir, "", clitest.Script{
				clitest.Shell(long),
				clitest.Shell("echo after-the-interrupt"),
				clitest.Say("second-turn-done"),
			}, clitest.Size{Width: 120, Height: 40})
			if err := s.term.Submit(s.ctx, prompts[0]); err != nil {
				t.Fatal(err)
			}
			e.eventually(aiSessionTimeout, "the long command runs", func() error {
				_, err := os.Stat(started)
				return err
			})
			s.term.SendKeys(c.interrupt)
			// Both CLIs say so, and take the next prompt only then.
			if _, err := s.term.WaitForMatch(s.ctx, regexp.MustCompile(`(?i)interrupted`)); err != nil {
				t.Fatal(err)
			}
			s.prompt(t, prompts[1], "second-turn-done")
			s.quit(t)
			run := e.finishedRun(`params.scenario = "`+s.scenario+`"`, 60*time.Second)

			truth := modelTruth(t, s.model, prompts)
			// The CLI told the model the command was stopped: it has no
			// exit status. Otherwise the turn was not interrupted.
			if len(truth.Commands) == 0 || truth.Commands[0] != (sessionlog.Command{Text: long, ExitCode: -1}) {
				t.Fatalf("the model's tool results %+v: the long command was not interrupted", truth.Commands)
			}
			facts := checkEnrichedRun(t, e, run, truth)
			// No command failed, so the interruption is the only error.
			if len(facts.Errors) != 1 || facts.Errors[0].Kind != "interrupted" {
				t.Errorf("errors in the log %+v, want one interruption", facts.Errors)
			}
			if m, ok := run.Metric("errors_encountered"); !ok || m.Value != 1 {
				t.Errorf("metric errors_encountered = %v (present %v), want 1", m.Value, ok)
			}
		})
	}
}
