package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/clitest"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/sessionlog"
)

// logRoots are where each CLI keeps its session logs, under its HOME.
var logRoots = map[string]string{"claude": ".claude/projects", "codex": ".codex/sessions"}

// TestSessionLogUnavailable takes the CLI's log away, before the session
// or in the middle of it: the session is still recorded, from the terminal
// alone, and its tags say why.
//
// "unreadable" puts a file where the log directory goes. Tests run as root
// in CI, where chmod 000 stops no read; a file in the directory's place
// fails the CLI's writes and the daemon's reads as chmod 000 does for a
// normal user (both run as the same user).
func TestSessionLogUnavailable(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	for _, c := range []struct{ renderer, how string }{
		{"claude-classic", "unreadable"},
		{"claude-classic", "deleted"},
		{"codex-inline", "unreadable"},
		{"codex-inline", "deleted"},
	} {
		t.Run(c.renderer+"/"+c.how, func(t *testing.T) {
			e := e.with(t)
			r := rendererNamed(c.renderer)
			var blocked string
			if c.how == "unreadable" {
				r.name += "-unreadable" // the run's scenario
				command := r.command
				r.command = func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command {
					cmd := command(t, m, dir)
					blocked = filepath.Join(cmd.Home, logRoots[r.provider])
					if err := os.MkdirAll(filepath.Dir(blocked), 0o700); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(blocked, []byte("not a directory\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					return cmd
				}
			}
			dir := gitRepo(t)
			prompts := []struct{ text, answer string }{{"first: go", "first-turn-done"}, {"second: go", "second-turn-done"}}
			s := e.startAI(r, dir, "", clitest.Script{
				clitest.Shell("echo one"), clitest.Say(prompts[0].answer),
				clitest.Shell("echo two"), clitest.Say(prompts[1].answer),
			}, clitest.Size{Width: 120, Height: 40})
			s.prompt(t, prompts[0].text, prompts[0].answer)
			var log string
			if c.how == "deleted" {
				log = e.followedLog(s.scenario)
				if err := os.Remove(log); err != nil {
					t.Fatal(err)
				}
			}
			s.prompt(t, prompts[1].text, prompts[1].answer)
			s.quit(t)
			run := e.finishedRun(`params.scenario = "`+s.scenario+`"`, 60*time.Second)

			if run.Info.Status != "FINISHED" {
				t.Errorf("run status %s, want FINISHED", run.Info.Status)
			}
			src, _ := run.Tag("aitrack.sources")
			note, _ := run.Tag("aitrack.session_log")
			t.Logf("aitrack.session_log = %q", note)
			// The note names the directory (or the log) and what happened.
			want := map[string][]string{
				"unreadable": {"not found: session log directory unreadable: ", blocked, ": not a directory"},
				"deleted":    {"lost: " + log, sessionlog.ErrGone.Error()},
			}[c.how]
			if src != "terminal" || !strings.HasPrefix(note, want[0]) || !containsAll(note, want[1:]) {
				t.Errorf("aitrack.sources = %q, aitrack.session_log = %q; want terminal, and a note holding %q", src, note, want)
			}
			// The terminal view alone: these renderers show each command.
			truth := modelTruth(t, s.model, []string{prompts[0].text, prompts[1].text})
			for k, want := range map[string]int{"commands_executed": len(truth.Commands), "user_prompts": len(truth.Prompts)} {
				if m, ok := run.Metric(k); !ok || m.Value != float64(want) {
					t.Errorf("metric %s = %v (present %v), want %v", k, m.Value, ok, want)
				}
			}
			// Codex may still end its turn when /quit comes, and then
			// never draws the answer again: the prompt is the sure sign.
			if screen := e.artifact(run, "transcript.txt"); !strings.Contains(screen, prompts[1].text) {
				t.Errorf("transcript.txt lacks the second turn:\n%s", screen)
			}
		})
	}
}

// followedLog waits until the live run of the session with scenario names
// the log the daemon follows, and returns its path.
func (e *env) followedLog(scenario string) string {
	e.t.Helper()
	c := e.client()
	ctx := context.Background()
	var path string
	e.eventually(60*time.Second, "the daemon follows the session's log", func() error {
		expID, err := c.GetOrCreateExperiment(ctx, e.experiment)
		if err != nil {
			return err
		}
		runs, err := c.SearchRuns(ctx, mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: `params.scenario = "` + scenario + `"`})
		if err != nil {
			return err
		}
		if len(runs) != 1 {
			return fmt.Errorf("%d runs of scenario %s", len(runs), scenario)
		}
		p, _ := runs[0].Tag("aitrack.session_log")
		if !filepath.IsAbs(p) {
			return errors.New("aitrack.session_log = " + p)
		}
		path = p
		return nil
	})
	return path
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
