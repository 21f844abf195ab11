package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/mlflowtest"
)

// twelveCommands prints a shell session of twelve commands (`$ ` prompts
// from xtrace), as an AI CLI's shell would.
const twelveCommands = `PS4='$ '; set -x; for i in 1 2 3 4 5 6 7 8 9 10 11; do true; done; echo done`

// The searches from the README, each against a known mix of runs.
func TestSearchesUsersRun(t *testing.T) {
	e := newEnv(t)
	// A provider whose CLI is a shell script, so that
	// fakeai-with-tracking "close-issue 123" behaves as claude-with-tracking would.
	cli := filepath.Join(e.dir, "fakeai.sh")
	os.WriteFile(cli, []byte("#!/bin/sh\n# $1 is the prompt\n"+twelveCommands+"\n"), 0o755)
	failing := filepath.Join(e.dir, "failingai.sh")
	os.WriteFile(failing, []byte("#!/bin/sh\nPS4='$ '; set -x; ls /nonexistent-aitrack; exit 1\n"), 0o755)
	e.config(fmt.Sprintf("[providers.fakeai]\ncommand = [%q]\n[providers.failingai]\ncommand = [%q]\n", cli, failing))
	e.startDaemon()
	shimDir := filepath.Join(e.dir, "shims")
	e.run(e.bin("aitrack"), "shims", "install", "--dir", shimDir)

	type scenario struct {
		name string
		argv []string
	}
	scenarios := []scenario{
		{"A", []string{filepath.Join(shimDir, "fakeai-with-tracking"), "close-issue 123"}},
		{"B", []string{e.bin("aitrack"), "run", "--procedure", "close-issue", "--param", "issue_number=7", "--", "sh", "-c", "echo closing; exit 1"}},
		{"C", []string{e.bin("aitrack"), "run", "--procedure", "extract-best-frame", "--", "sh", "-c", "ls /nonexistent-frames; exit 2"}},
		{"D", []string{e.bin("aitrack"), "run", "--procedure", "extract-best-frame", "--", "sh", "-c", "echo best frame: 42"}},
		{"E", []string{e.bin("aitrack"), "run", "--procedure", "long-job", "--", "sleep", "31"}},
		{"F", []string{filepath.Join(shimDir, "failingai-with-tracking"), "look around"}},
	}
	var wg sync.WaitGroup
	for _, sc := range scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half of them in a terminal, half through pipes as in CI.
			argv := sc.argv
			if sc.name == "A" || sc.name == "C" || sc.name == "E" {
				s := e.startPTY(e.dir, argv...)
				s.wait(t, 60*time.Second)
				return
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env, cmd.Dir = e.vars, e.dir
			cmd.Run()
		}()
	}
	wg.Wait()

	// Map each run to its scenario by the command it ran.
	c := e.client()
	ctx := context.Background()
	var expID string
	e.eventually(90*time.Second, "all runs finished", func() error {
		var err error
		if expID, err = c.GetOrCreateExperiment(ctx, e.experiment); err != nil {
			return err
		}
		runs, err := c.SearchRuns(ctx, mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: `attributes.status != "RUNNING"`})
		if err != nil {
			return err
		}
		if len(runs) != len(scenarios) {
			return fmt.Errorf("%d finished runs", len(runs))
		}
		return nil
	})
	name := func(r mlflowclient.Run) string {
		cmd, _ := r.Param("command")
		for _, sc := range scenarios {
			if strings.HasSuffix(cmd, sc.argv[len(sc.argv)-1]) || strings.Contains(cmd, "'"+sc.argv[len(sc.argv)-1]+"'") {
				return sc.name
			}
		}
		return "?" + cmd
	}
	queries := []struct {
		filter string
		want   []string
	}{
		{`metrics.commands_executed > 10`, []string{"A"}},
		{`metrics.errors_encountered > 0`, []string{"C", "F"}},
		{`metrics.success = 1`, []string{"A", "D", "E"}},
		{`tags.type = "ai_session"`, []string{"A", "F"}},
		{`metrics.duration_seconds > 30`, []string{"E"}},
		{`params.procedure_name = "close-issue"`, []string{"A", "B"}},
		{`params.issue_number = "123"`, []string{"A"}},
		{`params.procedure_name = "extract-best-frame" AND metrics.success = 0`, []string{"C"}},
	}
	for _, q := range queries {
		runs, err := c.SearchRuns(ctx, mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: q.filter})
		if err != nil {
			t.Errorf("%s: %v", q.filter, err)
			continue
		}
		var got []string
		for _, r := range runs {
			got = append(got, name(r))
		}
		slices.Sort(got)
		if !slices.Equal(got, q.want) {
			t.Errorf("%s: got %v, want %v", q.filter, got, q.want)
		}
	}

	// The same through MLflow's own Python client, as a user's notebook would.
	bin, _ := mlflowtest.Binary()
	py := filepath.Join(filepath.Dir(bin), "python")
	script := `import json, sys, mlflow
df = mlflow.search_runs(experiment_names=[sys.argv[1]], filter_string=sys.argv[2])
print(json.dumps(sorted(df["params.command"].tolist())))`
	cmd := exec.Command(py, "-c", script, e.experiment, `params.procedure_name = "extract-best-frame" AND metrics.success = 0`)
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+mlflow.URI)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mlflow.search_runs: %v", err)
	}
	var commands []string
	if err := json.Unmarshal(out, &commands); err != nil || len(commands) != 1 || !strings.Contains(commands[0], "nonexistent-frames") {
		t.Errorf("mlflow.search_runs found %s (%v)", out, err)
	}
}

// Scripts inside a session log to its run through the daemon; with MLflow
// down they are delivered later.
func TestInSessionHooks(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("mlflow down %v", down), func(t *testing.T) {
			e := newEnv(t)
			e.startDaemon()
			desc := filepath.Join(e.dir, "desc.md")
			os.WriteFile(desc, []byte("# PR description\n"), 0o600)
			script := fmt.Sprintf(`set -e
aitrack step fetched-issue
aitrack log-metric frames 1200
aitrack log-metric frames 1300
aitrack log-param issue_number 123
aitrack set-tag pr_url https://github.com/acme/app/pull/9
aitrack log-artifact %s --as notes/desc.md
if aitrack log-param issue_number 124 2>err.txt; then echo "a param changed"; exit 9; fi
grep -q "cannot change" err.txt
aitrack step publish --status failed
echo hooks-done`, desc)
			if down {
				mlflow.Stop()
				t.Cleanup(func() {
					if !mlflowtest.Healthy(context.Background(), mlflow.URI) {
						mlflow.Restart(context.Background())
					}
				})
			}
			s := e.startPTY(e.dir, e.bin("aitrack"), "run", "--procedure", "hooks", "--", "sh", "-c", script)
			out, code := s.wait(t, 60*time.Second)
			if code != 0 || !strings.Contains(out, "hooks-done") {
				t.Fatalf("exit %d, output:\n%s", code, out)
			}
			if down {
				time.Sleep(time.Second) // the daemon holds the session meanwhile
				if err := mlflow.Restart(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			run := e.finishedRun(`params.procedure_name = "hooks"`, 90*time.Second)
			if v, _ := run.Param("issue_number"); v != "123" {
				t.Errorf("param issue_number = %q", v)
			}
			if v, _ := run.Tag("pr_url"); v != "https://github.com/acme/app/pull/9" {
				t.Errorf("tag pr_url = %q", v)
			}
			if m, _ := run.Metric("frames"); m.Value != 1300 {
				t.Errorf("frames = %v, want the latest point 1300", m.Value)
			}
			for k, want := range map[string]float64{"steps_completed": 1, "steps_failed": 1} {
				if m, _ := run.Metric(k); m.Value != want {
					t.Errorf("%s = %v, want %v", k, m.Value, want)
				}
			}
			if a := e.artifact(run, "notes/desc.md"); a != "# PR description\n" {
				t.Errorf("artifact %q", a)
			}
			events := e.artifact(run, "events.jsonl")
			if !strings.Contains(events, `"kind":"step","text":"fetched-issue"`) || !strings.Contains(events, `"status":"failed"`) {
				t.Errorf("events lack the steps:\n%s", events)
			}
			e.assertPrivate()
		})
	}
	// Outside a session the hooks say so.
	e := newEnv(t)
	cmd := exec.Command(e.bin("aitrack"), "step", "x")
	cmd.Env = slices.DeleteFunc(slices.Clone(e.vars), func(s string) bool { return strings.HasPrefix(s, "AITRACK_SESSION=") })
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not inside a tracked session") {
		t.Errorf("hook outside a session: %v, %s", err, out)
	}
}

// A session that makes two commits and opens a pull request.
func TestGitFacts(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	repo := gitRepo(t)
	script := `set -e
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
echo one > a.txt; git add a.txt; git commit -qm "add a"
echo two > b.txt; git add b.txt; git commit -qm "add b"
echo draft > c.txt
echo "https://github.com/acme/app/pull/42"`
	s := e.startPTY(repo, e.bin("aitrack-wrap"), "--param", "scenario=git", "--", "sh", "-c", script)
	if out, code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	run := e.finishedRun(`params.scenario = "git"`, 60*time.Second)
	if m, _ := run.Metric("git_commits_made"); m.Value != 2 {
		t.Errorf("git_commits_made = %v", m.Value)
	}
	if v, _ := run.Tag("aitrack.git.end_commit"); v != gitHead(t, repo) {
		t.Errorf("end commit %q", v)
	}
	if v, _ := run.Tag("aitrack.pull_requests"); v != "https://github.com/acme/app/pull/42" {
		t.Errorf("pull requests %q", v)
	}
	if c := e.artifact(run, "git/commits.txt"); !strings.Contains(c, "add a") || !strings.Contains(c, "add b") {
		t.Errorf("commits.txt %q", c)
	}
	if d := e.artifact(run, "git/changes.diff"); !strings.Contains(d, "+draft") || !strings.Contains(d, "+two") {
		t.Errorf("changes.diff lacks the session's changes:\n%s", d)
	}
	if note, _ := run.Tag("mlflow.note.content"); !strings.Contains(note, "2 commits made") || !strings.Contains(note, "pull/42") {
		t.Errorf("description:\n%s", note)
	}
	e.assertPrivate()
}
