package daemon

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/outbox"
	"github.com/aitrack/aitrack/internal/sessionlog"
)

// claudeLog writes a one-prompt, one-command Claude log for cwd.
func claudeLog(t *testing.T, home, cwd, id, prompt, command string, at time.Time) string {
	t.Helper()
	dir := filepath.Join(home, ".claude", "projects", sessionlog.ClaudeProjectDir(cwd))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ts := at.UTC().Format(time.RFC3339Nano)
	var b strings.Builder
	for _, e := range []map[string]any{
		{"type": "user", "cwd": cwd, "sessionId": id, "timestamp": ts, "message": map[string]any{"content": prompt}},
		{"type": "assistant", "cwd": cwd, "sessionId": id, "timestamp": ts, "message": map[string]any{"id": id + "-m", "model": "claude-test",
			"content": []any{map[string]any{"type": "tool_use", "id": id + "-t", "name": "Bash", "input": map[string]any{"command": command}}},
			"usage":   map[string]any{"input_tokens": 100, "output_tokens": 7}}},
		{"type": "user", "cwd": cwd, "sessionId": id, "timestamp": ts, "message": map[string]any{"content": []any{map[string]any{"type": "tool_result", "tool_use_id": id + "-t", "content": "ok"}}}},
	} {
		line, _ := json.Marshal(e)
		b.Write(append(line, '\n'))
	}
	p := filepath.Join(dir, id+".jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestEnricher(t *testing.T, state, id, home string) *enricher {
	t.Helper()
	dir := filepath.Join(state, "sessions", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A process with the session's HOME stands for the CLI, for the whole
	// test: the daemon reads the HOME from its environment.
	cmd := exec.Command("sleep", "30")
	cmd.Env = []string{"HOME=" + home}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	e := newEnricher(dir, "claude", int64(cmd.Process.Pid))
	// Start can return a moment before /proc shows sleep's environment.
	for deadline := time.Now().Add(5 * time.Second); !e.settleHome(false); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sleep's environment never showed")
		}
	}
	if e.state.Home != home {
		t.Fatalf("HOME %q, want the CLI process's %q", e.state.Home, home)
	}
	t.Cleanup(e.close)
	return e
}

func merged(e *enricher, terminalCommands float64) outbox.Snapshot {
	snap := outbox.Snapshot{Tags: map[string]string{}, Params: map[string]string{}, Metrics: map[string]float64{"commands_executed": terminalCommands}, Ended: true}
	e.merge(&snap)
	return snap
}

// TestEnricherTwoSessionsOneDirectory: session a starts first but stays
// idle while b's log appears; a must not take it, and gets its own later.
func TestEnricherTwoSessionsOneDirectory(t *testing.T) {
	state, home, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	start := time.Now().Add(-time.Minute)
	a := newTestEnricher(t, state, "a", home)
	b := newTestEnricher(t, state, "b", home)
	claudeLog(t, home, cwd, "log-b", "prompt of b", "echo b", start.Add(2*time.Second))

	a.poll(session{cwd: cwd, start: start})
	if snap := merged(a, 0); snap.Tags["aitrack.sources"] != "terminal" {
		t.Fatalf("idle session a took a log: %v", snap.Tags)
	}
	b.poll(session{cwd: cwd, start: start.Add(time.Second), prompt: "prompt of b", typed: true})
	claudeLog(t, home, cwd, "log-a", "prompt of a", "echo a", start.Add(3*time.Second))
	a.lastFind = time.Time{}
	a.poll(session{cwd: cwd, start: start, prompt: "prompt of a", typed: true, ended: true})

	for _, c := range []struct {
		e       *enricher
		id, cmd string
	}{{a, "log-a", "echo a"}, {b, "log-b", "echo b"}} {
		snap := merged(c.e, 3)
		if snap.Tags["aitrack.sources"] != "terminal+log" || snap.Tags["aitrack.cli_session_id"] != c.id {
			t.Errorf("session of %s: tags %v", c.id, snap.Tags)
		}
		m := snap.Metrics
		if m["commands_executed"] != 1 || m["commands_terminal_minus_log"] != 2 || m["input_tokens"] != 100 || m["tool_uses.Bash"] != 1 {
			t.Errorf("session of %s: metrics %v", c.id, m)
		}
		if snap.Params["model"] != "claude-test" {
			t.Errorf("session of %s: params %v", c.id, snap.Params)
		}
		if copy, _ := os.ReadFile(filepath.Join(c.e.dir, SessionLogCopy)); !strings.Contains(string(copy), c.cmd) {
			t.Errorf("session of %s: copy %q lacks %q", c.id, copy, c.cmd)
		}
	}
}

// TestEnricherHomeAfterExec: a CLI whose environment shows empty when the
// session opens (it is in exec: here a shell started with none that then
// execs with a HOME) gets its log from the HOME it has once it runs, not
// from the daemon's own.
func TestEnricherHomeAfterExec(t *testing.T) {
	state, home, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	start := time.Now().Add(-time.Minute)
	claudeLog(t, home, cwd, "log", "a prompt", "echo x", start.Add(time.Second))
	goFile := filepath.Join(t.TempDir(), "exec")
	cmd := exec.Command("sh", "-c", `while [ ! -e "$0" ]; do sleep 0.01; done; exec env HOME="$1" sleep 30`, goFile, home)
	cmd.Env = []string{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	dir := filepath.Join(state, "sessions", "s")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := newEnricher(dir, "claude", int64(cmd.Process.Pid))
	t.Cleanup(e.close)
	s := session{cwd: cwd, start: start, typed: true}
	e.poll(s)
	if snap := merged(e, 1); snap.Tags["aitrack.sources"] != "terminal" || e.state.Home != "" {
		t.Fatalf("before the exec: HOME %q, tags %v; want none settled", e.state.Home, snap.Tags)
	}
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); e.follower == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("log never found; HOME %q", e.state.Home)
		}
		e.lastFind = time.Time{}
		e.poll(s)
	}
	if snap := merged(e, 1); snap.Tags["aitrack.sources"] != "terminal+log" || e.state.Home != home {
		t.Errorf("after the exec: HOME %q, tags %v", e.state.Home, snap.Tags)
	}
}

// TestEnricherLostLog: a log deleted mid-session leaves the terminal's
// figures, what only the log told as it was then, and a tag saying why.
func TestEnricherLostLog(t *testing.T) {
	state, home, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	start := time.Now().Add(-time.Minute)
	e := newTestEnricher(t, state, "s", home)
	path := claudeLog(t, home, cwd, "log", "a prompt", "echo x", start.Add(time.Second))
	s := session{cwd: cwd, start: start, typed: true}
	e.poll(s)
	if snap := merged(e, 5); snap.Tags["aitrack.sources"] != "terminal+log" {
		t.Fatalf("log not found: %v", snap.Tags)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	e.poll(s)
	snap := merged(e, 5)
	if snap.Tags["aitrack.sources"] != "terminal" || !strings.HasPrefix(snap.Tags["aitrack.session_log"], "lost: ") || snap.Metrics["commands_executed"] != 5 {
		t.Errorf("after deletion: tags %v metrics %v", snap.Tags, snap.Metrics)
	}
	if _, ok := snap.Metrics["model_turns"]; !ok {
		t.Errorf("after deletion the log's own figures are gone: %v", snap.Metrics)
	}
}

// TestEnricherUnreadableLogDirectory: a log directory that cannot be read
// (a file in its place: chmod 000 does not stop root) leaves the terminal's
// figures and a tag naming the directory; once readable, the log is found.
func TestEnricherUnreadableLogDirectory(t *testing.T) {
	state, home, cwd := t.TempDir(), t.TempDir(), t.TempDir()
	start := time.Now().Add(-time.Minute)
	e := newTestEnricher(t, state, "s", home)
	projects := filepath.Join(home, ".claude", "projects")
	if err := os.MkdirAll(filepath.Dir(projects), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(projects, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := session{cwd: cwd, start: start, typed: true}
	e.poll(s)
	snap := merged(e, 5)
	if tag := snap.Tags["aitrack.session_log"]; snap.Tags["aitrack.sources"] != "terminal" || !strings.Contains(tag, "unreadable") || !strings.Contains(tag, projects) {
		t.Errorf("unreadable directory: tags %v", snap.Tags)
	}
	if snap.Metrics["commands_executed"] != 5 {
		t.Errorf("unreadable directory: metrics %v, want the terminal's", snap.Metrics)
	}

	if err := os.Remove(projects); err != nil {
		t.Fatal(err)
	}
	claudeLog(t, home, cwd, "log", "a prompt", "echo x", start.Add(time.Second))
	e.lastFind = time.Time{}
	e.poll(s)
	if snap := merged(e, 5); snap.Tags["aitrack.sources"] != "terminal+log" {
		t.Errorf("readable again: tags %v", snap.Tags)
	}
}
