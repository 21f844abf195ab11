package clitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// cliTestTimeout bounds one real CLI session; a first start of a CLI reads
// hundreds of MB from disk.
const cliTestTimeout = 2 * time.Minute

// renderer is one CLI with one of its renderers, as the real-CLI tests run it.
type renderer struct {
	name    string
	cli     CLI
	command func(t testing.TB, m *FakeModel, dir string) Command
	// altScreen is whether the renderer uses the alternate screen.
	altScreen bool
}

var renderers = []renderer{
	{"claude-classic", Claude, func(t testing.TB, m *FakeModel, dir string) Command {
		return ClaudeCodeCommand(t, m, dir, ClaudeOptions{})
	}, false},
	{"claude-fullscreen", Claude, func(t testing.TB, m *FakeModel, dir string) Command {
		return ClaudeCodeCommand(t, m, dir, ClaudeOptions{Fullscreen: true})
	}, true},
	{"codex-inline", Codex, func(t testing.TB, m *FakeModel, dir string) Command {
		return CodexCommand(t, m, dir, CodexOptions{NoAltScreen: true})
	}, false},
	{"codex-altscreen", Codex, func(t testing.TB, m *FakeModel, dir string) Command {
		return CodexCommand(t, m, dir, CodexOptions{})
	}, true},
	{"gemini-inline", Gemini, func(t testing.TB, m *FakeModel, dir string) Command {
		return GeminiCommand(t, m, dir, GeminiOptions{})
	}, false},
	{"gemini-altbuffer", Gemini, func(t testing.TB, m *FakeModel, dir string) Command {
		return GeminiCommand(t, m, dir, GeminiOptions{AlternateBuffer: true})
	}, true},
}

// session is a real CLI running in tmux against a fake model.
type session struct {
	ctx   context.Context
	model *FakeModel
	term  *Tmux
}

// startCLI starts r's CLI in tmux in dir against a fake model playing
// script, and waits until it takes prompts.
func startCLI(t *testing.T, r renderer, dir string, script Script) session {
	t.Helper()
	model := NewFakeModel(t, script)
	cmd := r.command(t, model, dir)
	term := StartTmux(t, cmd, Size{Width: 120, Height: 40})
	ctx, cancel := context.WithTimeout(context.Background(), cliTestTimeout)
	t.Cleanup(cancel)
	if _, err := term.WaitForMatch(ctx, cmd.Ready); err != nil {
		t.Fatalf("%s did not become ready: %v", r.cli, err)
	}
	return session{ctx: ctx, model: model, term: term}
}

// prompt submits text and waits for the answer the script gives it.
func (s session) prompt(t *testing.T, text, answer string) {
	t.Helper()
	if err := s.term.Submit(s.ctx, text); err != nil {
		t.Fatal(err)
	}
	if _, err := s.term.WaitFor(s.ctx, answer); err != nil {
		t.Fatalf("answer %q not shown: %v", answer, err)
	}
}

// TestRealCLIsRunScriptedTools drives each real CLI in tmux, in each
// renderer, through a script of three shell commands (the last one failing),
// a file write and a final answer, and checks the evidence: the files on disk
// and the tool results the CLI sent back to the fake model.
func TestRealCLIsRunScriptedTools(t *testing.T) {
	for _, r := range renderers {
		t.Run(r.name, func(t *testing.T) {
			dir := gitRepo(t)
			notes := filepath.Join(dir, "notes.txt")
			s := startCLI(t, r, dir, Script{
				Shell("echo hello-from-tool > marker.txt"),
				Shell("git status"),
				Shell("ls /nonexistent"),
				WriteFile(notes, "written by the fake model\n"),
				Say("all done"),
			})
			s.prompt(t, "please run the scripted steps", "all done")

			// The environment builders pre-answer every first-run dialog and
			// silence the warnings the CLIs print into the terminal.
			if m := firstRunNoise.FindString(s.term.CaptureWith(CaptureOptions{Join: true, History: true})); m != "" {
				t.Errorf("screen shows %q: a first-run dialog or warning was not suppressed", m)
			}
			if got := s.term.AlternateScreen(); got != r.altScreen {
				t.Errorf("alternate screen in use = %v, want %v: the renderer option did not take effect", got, r.altScreen)
			}
			checkFile(t, filepath.Join(dir, "marker.txt"), "hello-from-tool\n")
			checkFile(t, notes, "written by the fake model\n")

			results := s.model.ToolResults()
			if steps := resultSteps(results); !slices.Equal(steps, []int{0, 1, 2, 3}) {
				t.Fatalf("tool results for steps %v, want [0 1 2 3]; results: %+v", steps, results)
			}
			for i, wantZero := range []bool{true, true, false} {
				if res := results[i]; (res.ExitCode == 0) != wantZero || res.ExitCode < 0 {
					t.Errorf("step %d %q: exit code %d (is_error %v), want zero=%v; output:\n%s",
						res.Step, res.Command, res.ExitCode, res.IsError, wantZero, res.Output)
				}
			}
			if res := results[3]; res.IsError {
				t.Errorf("write step failed: %s", res.Output)
			}
			if err := s.model.Err(); err != nil {
				t.Errorf("fake model protocol problems: %v", err)
			}
			logRequests(t, s.model)
		})
	}
}

// TestRealCLIsFollowTheScriptAcrossPrompts checks that the stateless fake
// model finds its place again from the history a CLI replays: the second
// prompt continues after the first answer.
func TestRealCLIsFollowTheScriptAcrossPrompts(t *testing.T) {
	for _, r := range renderers {
		if r.altScreen {
			continue // one renderer per CLI is enough here
		}
		t.Run(r.name, func(t *testing.T) {
			dir := gitRepo(t)
			s := startCLI(t, r, dir, Script{
				Shell("echo one > one.txt"),
				Say("first answer"),
				Shell("echo two > two.txt"),
				Say("second answer"),
			})
			s.prompt(t, "first prompt", "first answer")
			s.prompt(t, "second prompt", "second answer")
			checkFile(t, filepath.Join(dir, "one.txt"), "one\n")
			checkFile(t, filepath.Join(dir, "two.txt"), "two\n")
			if steps := resultSteps(s.model.ToolResults()); !slices.Equal(steps, []int{0, 2}) {
				t.Errorf("tool results for steps %v, want [0 2]", steps)
			}
			if err := s.model.Err(); err != nil {
				t.Errorf("fake model protocol problems: %v", err)
			}
			logRequests(t, s.model)
		})
	}
}

// firstRunNoise matches the dialogs and warnings the notes list: trust and
// API-key prompts, Codex's PATH-alias and Gemini's true-colour warnings,
// Claude Code's focus-events hint.
var firstRunNoise = regexp.MustCompile(`(?i)warning|do you trust|use this API key|true.?colou?r|focus.?events`)

func checkFile(t *testing.T, path, want string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Errorf("%s = %q, %v; want %q", filepath.Base(path), b, err, want)
	}
}

func resultSteps(results []ToolResult) []int {
	var steps []int
	for _, r := range results {
		steps = append(steps, r.Step)
	}
	return steps
}

// logRequests logs what the fake model saw, for the -v record of a run.
func logRequests(t *testing.T, model *FakeModel) {
	t.Helper()
	for _, r := range model.Requests() {
		t.Logf("%s %s?%s api=%s side=%v step=%d status=%d usage=%+v", r.Method, r.Path, r.Query, r.API, r.Side, r.Step, r.Status, r.Usage)
	}
}

// gitRepo makes an empty git repository for a CLI to work in.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("git", "init", "-q", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("git init: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return dir
}
