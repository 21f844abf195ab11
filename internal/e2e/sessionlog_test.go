package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/clitest"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/sessionlog"
)

// recordSessionLogs turns the fixture writing of TestSessionLogEnrichment
// on: each CLI's own log (the run's session-log.jsonl) and the fake model's
// account of the session go to internal/sessionlog/testdata.
var recordSessionLogs = flag.Bool("record-sessionlog", false, "TestSessionLogEnrichment: write the CLIs' session logs into internal/sessionlog/testdata")

const sessionLogFixtures = "../sessionlog/testdata"

// sessionLogTruth is <renderer>.truth.json: what the fake model saw.
type sessionLogTruth struct {
	Prompts  []string             `json:"prompts"`
	Commands []sessionlog.Command `json:"commands"`
	Usage    clitest.Usage        `json:"usage"`
}

// TestSessionLogEnrichment runs the real CLIs through the wrapper and
// checks that the run takes its commands, exit codes and tokens from the
// CLI's own log: they equal what the fake model received and reported,
// even where the screen shows no commands (Claude's fullscreen renderer).
func TestSessionLogEnrichment(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	for _, name := range []string{"claude-classic", "claude-fullscreen", "codex-inline", "codex-altscreen", "gemini-inline", "gemini-altbuffer"} {
		r := rendererNamed(name)
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			dir := gitRepo(t)
			prompts := []struct{ text, answer string }{{"first: inspect the repository", "first-turn-done"}, {"second: count", "second-turn-done"}}
			s := e.startAI(r, dir, "", clitest.Script{
				clitest.Shell("git status"),
				clitest.Shell("ls /nonexistent-aitrack-dir"),
				clitest.WriteFile(filepath.Join(dir, "notes.txt"), "line one\n"),
				clitest.Shell("cat notes.txt"),
				clitest.Say(prompts[0].answer),
				clitest.Shell("echo second | wc -c"),
				clitest.Say(prompts[1].answer),
			}, clitest.Size{Width: 120, Height: 40})
			for _, p := range prompts {
				s.prompt(t, p.text, p.answer)
			}
			s.quit(t)
			run := e.finishedRun(`params.scenario = "`+s.scenario+`"`, 60*time.Second)

			var typed []string
			for _, p := range prompts {
				typed = append(typed, p.text)
			}
			truth := modelTruth(t, s.model, typed)
			checkEnrichedRun(t, e, run, truth)
			if *recordSessionLogs {
				log := e.artifact(run, "session-log.jsonl")
				b, _ := json.MarshalIndent(truth, "", "  ")
				for ext, data := range map[string][]byte{".jsonl": []byte(log), ".truth.json": append(b, '\n')} {
					if err := os.WriteFile(filepath.Join(sessionLogFixtures, name+ext), data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// modelTruth is the truth of a session from the fake model's records: the
// shell commands it got results for and the usage it reported, with the
// prompts the test typed.
func modelTruth(t *testing.T, m *clitest.FakeModel, prompts []string) sessionLogTruth {
	truth := sessionLogTruth{Prompts: prompts, Usage: conversationUsage(t, m)}
	for _, res := range m.ToolResults() {
		if res.Command != "" {
			truth.Commands = append(truth.Commands, sessionlog.Command{Text: res.Command, ExitCode: res.ExitCode})
		}
	}
	return truth
}

// conversationUsage is the usage the fake model reported for the
// conversation's requests. Side requests (Codex asks for a session title
// off the conversation) are left out: Codex's rollout does not record their
// usage, so no log-based count can include them.
func conversationUsage(t *testing.T, m *clitest.FakeModel) clitest.Usage {
	var u, side clitest.Usage
	for _, r := range m.Requests() {
		p := &u
		if r.Side {
			p = &side
		}
		p.InputTokens += r.Usage.InputTokens
		p.OutputTokens += r.Usage.OutputTokens
	}
	if side != (clitest.Usage{}) {
		t.Logf("side requests' usage, not in the comparison: %+v", side)
	}
	return u
}

// checkEnrichedRun compares an enriched run with the truth, and returns
// the facts of the log copy the run holds.
func checkEnrichedRun(t *testing.T, e *env, run mlflowclient.Run, truth sessionLogTruth) sessionlog.Facts {
	t.Helper()
	if src, _ := run.Tag("aitrack.sources"); src != "terminal+log" {
		note, _ := run.Tag("aitrack.session_log")
		t.Fatalf("aitrack.sources = %q (%s), want terminal+log", src, note)
	}
	// The artifact is the CLI's log as the daemon read it: its commands
	// are the ones the model got results for, with the same exit codes.
	path := filepath.Join(t.TempDir(), "session-log.jsonl")
	if err := os.WriteFile(path, []byte(e.artifact(run, "session-log.jsonl")), 0o600); err != nil {
		t.Fatal(err)
	}
	provider, _ := run.Param("provider")
	facts, err := sessionlog.ReadFile(path, sessionlog.Format(provider))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(facts.Commands, truth.Commands) {
		t.Errorf("commands in the log %+v, the model's tool results %+v", facts.Commands, truth.Commands)
	}
	if !slices.Equal(facts.Prompts, truth.Prompts) {
		t.Errorf("prompts in the log %q, typed %q", facts.Prompts, truth.Prompts)
	}
	failed, git := 0, 0
	for _, c := range truth.Commands {
		if c.ExitCode > 0 { // -1: no exit status, e.g. an interrupted command
			failed++
		}
		if strings.Fields(c.Text)[0] == "git" {
			git++
		}
	}
	want := map[string]float64{
		"commands_executed": float64(len(truth.Commands)),
		"git_operations":    float64(git),
		"tool_errors":       float64(failed),
		"user_prompts":      float64(len(truth.Prompts)),
		"input_tokens":      float64(truth.Usage.InputTokens),
		"output_tokens":     float64(truth.Usage.OutputTokens),
	}
	for k, v := range want {
		if m, ok := run.Metric(k); !ok || m.Value != v {
			t.Errorf("metric %s = %v (present %v), want %v", k, m.Value, ok, v)
		}
	}
	if m, ok := run.Metric("commands_terminal_minus_log"); ok {
		t.Logf("commands_terminal_minus_log = %v", m.Value)
	} else {
		t.Error("no commands_terminal_minus_log metric")
	}
	if model, ok := run.Param("model"); !ok || model == "" {
		t.Error("no model param")
	}
	return facts
}

// TestSessionLogConcurrentSameDir runs two Claude sessions in one
// directory, started one after the other but prompted in the opposite
// order: each run must get its own session's log.
func TestSessionLogConcurrentSameDir(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	dir := gitRepo(t)
	r := rendererNamed("claude-classic")
	size := clitest.Size{Width: 120, Height: 40}
	type session struct {
		s               *aiSession
		prompt, command string
	}
	a := &session{prompt: "prompt of session a", command: "echo from-session-a"}
	b := &session{prompt: "prompt of session b", command: "echo from-session-b"}
	a.s = e.startAI(r, dir, "", clitest.Script{clitest.Shell(a.command), clitest.Say("a-done")}, size)
	b.s = e.startAI(r, dir, "", clitest.Script{clitest.Shell(b.command), clitest.Say("b-done")}, size)
	b.s.prompt(t, b.prompt, "b-done")
	// A redraw makes the idle session a look for its log while b's exists.
	a.s.resize(t, clitest.Size{Width: 100, Height: 32})
	a.s.prompt(t, a.prompt, "a-done")
	a.s.quit(t)
	b.s.quit(t)

	// Both runs have the same scenario; the prompt on each run's screen
	// (its transcript, not the log) says whose it is, and the log and the
	// figures must then be that session's own.
	c := e.client()
	ctx := context.Background()
	var runs []mlflowclient.Run
	e.eventually(60*time.Second, "both runs finished", func() error {
		expID, err := c.GetOrCreateExperiment(ctx, e.experiment)
		if err != nil {
			return err
		}
		runs, err = c.SearchRuns(ctx, mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: `params.scenario = "` + a.s.scenario + `"`})
		if err != nil {
			return err
		}
		for _, run := range runs {
			if run.Info.Status == "RUNNING" {
				return errors.New("a run is still RUNNING")
			}
		}
		if len(runs) != 2 {
			return fmt.Errorf("%d runs, want 2", len(runs))
		}
		return nil
	})
	seen := map[*session]string{}
	for _, run := range runs {
		screen := e.artifact(run, "transcript.txt")
		var x *session
		for _, s := range []*session{a, b} {
			if strings.Contains(screen, s.prompt) {
				if x != nil {
					t.Fatalf("run %s shows the prompts of both sessions", run.Info.RunID)
				}
				x = s
			}
		}
		if x == nil || seen[x] != "" {
			t.Fatalf("run %s: its transcript shows no prompt of its own", run.Info.RunID)
		}
		seen[x] = run.Info.RunID
		checkEnrichedRun(t, e, run, sessionLogTruth{
			Usage: conversationUsage(t, x.s.model), Prompts: []string{x.prompt},
			Commands: []sessionlog.Command{{Text: x.command, ExitCode: 0}},
		})
	}
}
