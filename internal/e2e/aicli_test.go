package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/clitest"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/paths"
)

// record turns TestRecordAICorpus on: it rewrites the parser's real-CLI
// corpus in internal/parse/testdata/cli from fresh recordings.
var record = flag.Bool("record", false, "TestRecordAICorpus: record the real AI CLIs into internal/parse/testdata/cli")

// aiSessionTimeout bounds one real CLI session through the wrapper; a CLI's
// first start reads hundreds of MB from disk, and the binaries run with -race.
const aiSessionTimeout = 3 * time.Minute

// aiRenderer is one AI CLI in one of its renderers, run through aitrack-wrap.
type aiRenderer struct {
	name     string // also the corpus fixture's name
	provider string // aitrack-wrap --provider, parse.Options.Provider
	command  func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command
	quit     string // typed to leave the CLI normally (exit status 0)
	// showsCommands: the renderer prints shell commands' text, so the
	// run's commands_executed must be positive.
	showsCommands bool
}

var aiRenderers = []aiRenderer{
	{"claude-classic", "claude", func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command {
		return clitest.ClaudeCodeCommand(t, m, dir, clitest.ClaudeOptions{})
	}, "/exit", true},
	{"claude-fullscreen", "claude", func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command {
		return clitest.ClaudeCodeCommand(t, m, dir, clitest.ClaudeOptions{Fullscreen: true})
	}, "/exit", false},
	{"codex-inline", "codex", func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command {
		return clitest.CodexCommand(t, m, dir, clitest.CodexOptions{NoAltScreen: true})
	}, "/quit", true},
	{"codex-altscreen", "codex", func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command {
		return clitest.CodexCommand(t, m, dir, clitest.CodexOptions{})
	}, "/quit", true},
	{"gemini-inline", "gemini", func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command {
		return clitest.GeminiCommand(t, m, dir, clitest.GeminiOptions{})
	}, "/quit", true},
	{"gemini-altbuffer", "gemini", func(t testing.TB, m *clitest.FakeModel, dir string) clitest.Command {
		return clitest.GeminiCommand(t, m, dir, clitest.GeminiOptions{AlternateBuffer: true})
	}, "/quit", true},
}

func rendererNamed(name string) aiRenderer {
	for _, r := range aiRenderers {
		if r.name == name {
			return r
		}
	}
	panic("no renderer " + name)
}

// aiSession is a real AI CLI running under aitrack-wrap in tmux against a
// scripted fake model.
type aiSession struct {
	ctx      context.Context
	renderer aiRenderer
	model    *clitest.FakeModel
	term     *clitest.Tmux
	scenario string
}

// wrapperVars are the variables of the e2e world the wrapper needs; the
// rest of the CLI's environment is clitest's isolated one.
var wrapperVars = []string{"AITRACK_SOCKET=", "AITRACK_STATE_DIR=", "AITRACK_EXPERIMENT=", "AITRACK_CONFIG=", "MLFLOW_TRACKING_URI=", "TERM="}

// startAI starts r's CLI through aitrack-wrap in tmux in dir, with extraPath
// (if any) first on its PATH, and waits until it takes prompts.
func (e *env) startAI(r aiRenderer, dir, extraPath string, script clitest.Script, size clitest.Size) *aiSession {
	e.t.Helper()
	model := clitest.NewFakeModel(e.t, script)
	cmd := r.command(e.t, model, dir)
	scenario := r.name + "-" + filepath.Base(dir)
	cmd.Args = append([]string{e.bin("aitrack-wrap"), "--provider", r.provider, "--param", "scenario=" + scenario, "--"}, cmd.Args...)
	for _, v := range e.vars {
		if slices.ContainsFunc(wrapperVars, func(p string) bool { return strings.HasPrefix(v, p) }) {
			cmd.Env = append(cmd.Env, v)
		}
	}
	if extraPath != "" {
		for i, v := range cmd.Env {
			if p, ok := strings.CutPrefix(v, "PATH="); ok {
				cmd.Env[i] = "PATH=" + extraPath + ":" + p
			}
		}
		// Codex runs commands in a login shell (bash -lc), whose
		// /etc/profile resets PATH; the isolated HOME's profile restores it.
		profile := "PATH=" + extraPath + ":$PATH\n"
		if err := os.WriteFile(filepath.Join(cmd.Home, ".bash_profile"), []byte(profile), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	term := clitest.StartTmux(e.t, cmd, size)
	ctx, cancel := context.WithTimeout(context.Background(), aiSessionTimeout)
	e.t.Cleanup(cancel)
	if _, err := term.WaitForMatch(ctx, cmd.Ready); err != nil {
		e.t.Fatalf("%s did not become ready under aitrack-wrap: %v", r.name, err)
	}
	return &aiSession{ctx: ctx, renderer: r, model: model, term: term, scenario: scenario}
}

// prompt submits text and waits until the answer the script gives it is
// on the screen.
func (s *aiSession) prompt(t *testing.T, text, answer string) {
	t.Helper()
	if err := s.term.Submit(s.ctx, text); err != nil {
		t.Fatal(err)
	}
	if _, err := s.term.WaitFor(s.ctx, answer); err != nil {
		t.Fatalf("answer %q not shown: %v", answer, err)
	}
}

// resize resizes the terminal and waits until the CLI has redrawn: keys
// typed while it redraws can be lost (seen with Codex).
func (s *aiSession) resize(t *testing.T, size clitest.Size) {
	t.Helper()
	s.term.Resize(size)
	last, still := "", 0
	deadline := time.Now().Add(15 * time.Second)
	for still < 5 { // unchanged for five polls in a row
		if time.Now().After(deadline) {
			t.Logf("%s keeps redrawing after a resize to %+v; going on", s.renderer.name, size)
			return
		}
		time.Sleep(100 * time.Millisecond)
		if c := s.term.Capture(); c == last {
			still++
		} else {
			last, still = c, 0
		}
	}
}

// quit leaves the CLI with its own quit command and waits for it to exit.
func (s *aiSession) quit(t *testing.T) {
	t.Helper()
	if err := s.term.Submit(s.ctx, s.renderer.quit); err != nil {
		t.Fatal(err)
	}
	if err := s.term.WaitExit(s.ctx); err != nil {
		t.Fatalf("%s did not exit after %s: %v", s.renderer.name, s.renderer.quit, err)
	}
}

// TestAICLIsThroughWrapper runs the real CLIs interactively through
// aitrack-wrap: they work as usual (the reply shows, the commands run and
// report their exit codes to the model), and the session becomes a
// FINISHED run holding the transcript.
func TestAICLIsThroughWrapper(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	for _, name := range []string{"claude-classic", "codex-inline", "gemini-inline"} {
		r := rendererNamed(name)
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			dir := gitRepo(t)
			notes := filepath.Join(dir, "notes.txt")
			const reply = "scripted-steps-done"
			s := e.startAI(r, dir, "", clitest.Script{
				clitest.Shell("echo hello-from-tool > marker.txt"),
				clitest.Shell("git status"),
				clitest.Shell("ls /nonexistent-aitrack-dir"),
				clitest.WriteFile(notes, "written by the fake model\n"),
				clitest.Say(reply),
			}, clitest.Size{Width: 120, Height: 40})
			s.prompt(t, "please run the scripted steps", reply)

			checkFileContent(t, filepath.Join(dir, "marker.txt"), "hello-from-tool\n")
			checkFileContent(t, notes, "written by the fake model\n")
			results := s.model.ToolResults()
			var steps []int
			for _, res := range results {
				steps = append(steps, res.Step)
			}
			if !slices.Equal(steps, []int{0, 1, 2, 3}) {
				t.Fatalf("tool results for steps %v, want [0 1 2 3]: %+v", steps, results)
			}
			for i, wantZero := range []bool{true, true, false} {
				if res := results[i]; res.ExitCode < 0 || (res.ExitCode == 0) != wantZero {
					t.Errorf("step %d %q: exit code %d, want zero=%v; output:\n%s", i, res.Command, res.ExitCode, wantZero, res.Output)
				}
			}

			s.quit(t)
			run := e.finishedRun(`params.scenario = "`+s.scenario+`"`, 60*time.Second)
			if run.Info.Status != "FINISHED" {
				t.Errorf("run status %s, want FINISHED", run.Info.Status)
			}
			if raw := e.artifact(run, "transcript.raw"); !strings.Contains(raw, reply) {
				t.Errorf("transcript.raw (%d bytes) lacks the final reply %q", len(raw), reply)
			}
			if m, ok := run.Metric("commands_executed"); r.showsCommands && (!ok || m.Value <= 0) {
				t.Errorf("commands_executed = %v (present %v), want > 0", m.Value, ok)
			}
			for _, k := range []string{"commands_executed", "git_operations", "user_prompts", "errors_encountered", "tool_uses"} {
				m, _ := run.Metric(k)
				t.Logf("%s: %s = %v", name, k, m.Value)
			}
		})
	}
}

func checkFileContent(t *testing.T, path, want string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Errorf("%s = %q, %v; want %q", filepath.Base(path), b, err, want)
	}
}

// --- the parser's real-CLI corpus ---

// corpusDir is where TestRecordAICorpus writes, relative to this package.
const corpusDir = "../parse/testdata/cli"

// Terminal sizes of a corpus recording: the session starts at the first and
// is resized to the second between the two prompts.
var (
	corpusSize    = clitest.Size{Width: 120, Height: 40}
	corpusResized = clitest.Size{Width: 100, Height: 32}
)

// corpusLongCommand is longer than either terminal width, so it wraps.
const corpusLongCommand = "echo this-is-a-deliberately-long-command-line-for-the-aitrack-parser-corpus-it-wraps-the-terminal-width | tr a-z A-Z | wc -c"

// corpusMultiLine is a command of several lines, with a heredoc and a pipe.
const corpusMultiLine = "cat <<'EOF' | wc -l\nalpha\nbeta\nEOF"

// corpusPrompts are the prompts typed, with the answer that ends each turn.
var corpusPrompts = []struct{ text, answer string }{
	{"first prompt: inspect the repository", "first-turn-done"},
	{"second prompt: open the pull request", "second-turn-done"},
}

func corpusScript(dir string) clitest.Script {
	return clitest.Script{
		clitest.Shell("git status"),
		clitest.Shell("git log --oneline -3"),
		clitest.Shell("ls /nonexistent-dir"),
		clitest.WriteFile(filepath.Join(dir, "notes.txt"), "line one\nline two\n"),
		clitest.Shell("cat notes.txt"),
		clitest.Say(corpusPrompts[0].answer),
		clitest.Shell("gh pr create --title t --body b"),
		clitest.Shell(corpusMultiLine),
		clitest.Shell(corpusLongCommand),
		clitest.Say(corpusPrompts[1].answer),
	}
}

// corpusTruth is <renderer>.truth.json: what the session did, from evidence
// rather than from the screen.
type corpusTruth struct {
	Renderer string `json:"renderer"`
	Provider string `json:"provider"`
	// Cols, Rows: the terminal size at the start; resizes are in the timing file.
	Cols int `json:"cols"`
	Rows int `json:"rows"`
	// Prompts are the prompts typed.
	Prompts []string `json:"prompts"`
	// Commands are the shell commands the CLI ran, from the tool results it
	// sent back to the fake model (text and exit code).
	Commands []corpusCommand `json:"commands"`
	// GitOperations, GhOperations: commands whose program is git / gh (the
	// script's commands are simple commands, so the first word decides).
	GitOperations int `json:"git_operations"`
	GhOperations  int `json:"gh_operations"`
	// FailedCommands: commands with a non-zero exit code.
	FailedCommands int `json:"failed_commands"`
	// Visibility says how Commands[].Visible was decided.
	Visibility string `json:"visibility"`
}

type corpusCommand struct {
	Text     string `json:"text"`
	ExitCode int    `json:"exit_code"`
	// Visible: the command's first line is on the screen (or in the
	// scrollback) when the turn has ended, i.e. what the user can read.
	Visible bool `json:"visible"`
	// ShownWhileRunning: the command's first line was on the screen at some
	// point, e.g. only in a progress line replaced once the command ended.
	ShownWhileRunning bool `json:"shown_while_running"`
}

const visibilityMethod = "tmux capture-pane -J of the screen and its scrollback: visible = the command's first line (runs of spaces collapsed) " +
	"occurs in a capture taken when a turn's final answer was shown or after the CLI exited; shown_while_running = it occurs in a capture " +
	"polled every 250 ms during the session"

// TestRecordAICorpus records each renderer through aitrack-wrap into the
// parser's corpus. It runs only with -record:
//
//	go test ./internal/e2e -run TestRecordAICorpus -v -args -record
func TestRecordAICorpus(t *testing.T) {
	if !*record {
		t.Skip("skipping: records the parser corpus only with -args -record")
	}
	e := newEnv(t)
	e.startDaemon()
	ghDir := t.TempDir()
	// A stub gh: the session must not reach GitHub, and the PR URL it prints
	// is what a real gh prints.
	stub := "#!/bin/sh\necho https://github.com/aitrack/demo/pull/7\n"
	if err := os.WriteFile(filepath.Join(ghDir, "gh"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(corpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	only := os.Getenv("AITRACK_RECORD_ONLY") // e.g. "codex-altscreen": re-record one renderer
	for _, r := range aiRenderers {
		if only != "" && only != r.name {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			e := e.with(t)
			recordOne(e, r, ghDir)
		})
	}
}

func recordOne(e *env, r aiRenderer, ghDir string) {
	t := e.t
	dir := gitRepo(t)
	for _, msg := range []string{"second", "third"} {
		e.gitIn(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", msg)
	}
	s := e.startAI(r, dir, ghDir, corpusScript(dir), corpusSize)

	// Poll the screen for the visibility evidence while the session runs.
	var (
		mu       sync.Mutex
		captures []string
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			c := captureAll(s.term)
			mu.Lock()
			captures = append(captures, c)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	// settled are captures of the screen at rest: at the end of each turn
	// and after the CLI exited.
	var settled []string
	s.prompt(t, corpusPrompts[0].text, corpusPrompts[0].answer)
	settled = append(settled, captureAll(s.term))
	s.resize(t, corpusResized)
	s.prompt(t, corpusPrompts[1].text, corpusPrompts[1].answer)
	settled = append(settled, captureAll(s.term))
	s.quit(t)
	close(stop)
	<-done
	settled = append(settled, captureAll(s.term))

	run := e.finishedRun(`params.scenario = "`+s.scenario+`"`, 60*time.Second)
	if run.Info.Status != "FINISHED" {
		t.Errorf("run status %s, want FINISHED", run.Info.Status)
	}
	sid, _ := run.Tag("aitrack.session_id")
	truth := corpusTruth{Renderer: r.name, Provider: r.provider, Cols: corpusSize.Width, Rows: corpusSize.Height, Visibility: visibilityMethod}
	for _, p := range corpusPrompts {
		truth.Prompts = append(truth.Prompts, p.text)
	}
	atRest := collapseSpaces(strings.Join(settled, "\n"))
	seen := collapseSpaces(strings.Join(captures, "\n")) + atRest
	for _, res := range s.model.ToolResults() {
		if res.Command == "" {
			continue // the file write
		}
		first, _, _ := strings.Cut(res.Command, "\n")
		first = collapseSpaces(first)
		c := corpusCommand{Text: res.Command, ExitCode: res.ExitCode, Visible: strings.Contains(atRest, first), ShownWhileRunning: strings.Contains(seen, first)}
		truth.Commands = append(truth.Commands, c)
		switch strings.Fields(res.Command)[0] {
		case "git":
			truth.GitOperations++
		case "gh":
			truth.GhOperations++
		}
		if res.ExitCode != 0 {
			truth.FailedCommands++
		}
	}
	if len(truth.Commands) != 7 {
		t.Fatalf("%d shell commands came back to the model, want 7: %+v", len(truth.Commands), s.model.ToolResults())
	}
	e.saveCorpus(r.name, sid, truth)
	m := mlMetrics(run)
	t.Logf("%s: recorded session %s; run metrics %v", r.name, sid, m)
}

// captureAll captures the screen and its scrollback, wrapped lines joined.
// The pane outlives the program (remain-on-exit), so it works to the end.
func captureAll(x *clitest.Tmux) string {
	return x.CaptureWith(clitest.CaptureOptions{Join: true, History: true})
}

var spaces = regexp.MustCompile(`[ \t]+`)

func collapseSpaces(s string) string { return spaces.ReplaceAllString(s, " ") }

func (e *env) gitIn(dir string, args ...string) {
	e.t.Helper()
	e.run(append([]string{"git", "-C", dir}, args...)...)
}

func mlMetrics(run mlflowclient.Run) map[string]float64 {
	out := map[string]float64{}
	for _, k := range []string{"commands_executed", "git_operations", "gh_operations", "user_prompts", "errors_encountered", "tool_uses"} {
		if m, ok := run.Metric(k); ok {
			out[k] = m.Value
		}
	}
	return out
}

// saveCorpus copies the daemon's stored session into the corpus:
// <name>.raw (every output byte) and <name>.timing (one line per output
// record, "o <ns since start> <bytes>", and per resize, "r <ns> <cols> <rows>"),
// and writes <name>.truth.json.
func (e *env) saveCorpus(name, sid string, truth corpusTruth) {
	t := e.t
	sdir := filepath.Join(paths.SessionsDir(e.stateDir), sid)
	raw, err := os.ReadFile(filepath.Join(sdir, ingest.OutputFile))
	if err != nil {
		t.Fatalf("stored output of session %s: %v", sid, err)
	}
	f, err := os.Open(filepath.Join(sdir, ingest.RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var timing strings.Builder
	var start int64
	var offset uint64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var rec ingest.Rec
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("records.jsonl: %v", err)
		}
		if start == 0 {
			start = rec.Time
		}
		switch rec.Kind {
		case "o":
			if rec.Offset != offset {
				t.Fatalf("records.jsonl: output at offset %d, want %d", rec.Offset, offset)
			}
			offset += uint64(rec.Len)
			fmt.Fprintf(&timing, "o %d %d\n", rec.Time-start, rec.Len)
		case "r":
			fmt.Fprintf(&timing, "r %d %d %d\n", rec.Time-start, rec.Cols, rec.Rows)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if offset != uint64(len(raw)) {
		t.Fatalf("records cover %d output bytes, output.raw has %d", offset, len(raw))
	}
	truthJSON, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for ext, data := range map[string][]byte{".raw": raw, ".timing": []byte(timing.String()), ".truth.json": append(truthJSON, '\n')} {
		if err := os.WriteFile(filepath.Join(corpusDir, name+ext), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: %d output bytes, %d timing bytes", name, len(raw), timing.Len())
}
