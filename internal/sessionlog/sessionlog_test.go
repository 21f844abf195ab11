package sessionlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixtures are real logs written by the real CLIs against clitest's fake
// model (go test ./internal/e2e -run TestSessionLogEnrichment -args
// -record-sessionlog), each with <name>.truth.json: the prompts typed, the
// commands whose results the model received and the usage it reported.
var fixtures = []struct {
	name   string
	format Format
}{
	{"claude-classic", Claude},
	{"claude-fullscreen", Claude},
	{"codex-inline", Codex},
	{"codex-altscreen", Codex},
	{"gemini-inline", Gemini},
	{"gemini-altbuffer", Gemini},
}

type truth struct {
	Prompts  []string  `json:"prompts"`
	Commands []Command `json:"commands"`
	Usage    struct {
		InputTokens, OutputTokens int64
	} `json:"usage"`
}

func readTruth(t *testing.T, name string) truth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			tr := readTruth(t, fx.name)
			f, err := ReadFile(filepath.Join("testdata", fx.name+".jsonl"), fx.format)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Commands, tr.Commands) {
				t.Errorf("commands %+v, want %+v", f.Commands, tr.Commands)
			}
			if !slices.Equal(f.Prompts, tr.Prompts) {
				t.Errorf("prompts %q, want %q", f.Prompts, tr.Prompts)
			}
			if f.Usage.Input != tr.Usage.InputTokens || f.Usage.Output != tr.Usage.OutputTokens {
				t.Errorf("usage %+v, the model reported %+v", f.Usage, tr.Usage)
			}
			failed := 0
			for _, c := range tr.Commands {
				if c.ExitCode != 0 {
					failed++
				}
			}
			if f.ToolErrors != failed || f.FailedCommands() != failed {
				t.Errorf("tool errors %d, failed commands %d; want %d", f.ToolErrors, f.FailedCommands(), failed)
			}
			if f.SessionID == "" || len(f.Models) == 0 || f.Start.IsZero() || f.ModelTurns == 0 {
				t.Errorf("session id %q, models %q, start %v, turns %d: want all set", f.SessionID, f.Models, f.Start, f.ModelTurns)
			}
			if f.Corrupt != 0 {
				t.Errorf("%d corrupt lines in a log the CLI wrote", f.Corrupt)
			}
			if len(f.Files) == 0 {
				t.Error("no files touched; the script writes notes.txt")
			}
		})
	}
}

func TestReaderCases(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		lines  []string
		check  func(t *testing.T, f Facts)
	}{
		{"claude usage once per message id", Claude, []string{
			`{"type":"assistant","message":{"id":"m1","model":"opus","content":[{"type":"thinking"}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":7,"cache_creation_input_tokens":3}}}`,
			`{"type":"assistant","message":{"id":"m1","model":"opus","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"git push"}}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":7,"cache_creation_input_tokens":3}}}`,
			`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"Exit code 128\nfatal: no upstream"}]}}`,
		}, func(t *testing.T, f Facts) {
			if f.Usage != (Usage{Input: 10, Output: 5, CacheRead: 7, CacheWrite: 3}) || f.ModelTurns != 1 {
				t.Errorf("usage %+v turns %d, want one reply's", f.Usage, f.ModelTurns)
			}
			if !slices.Equal(f.Commands, []Command{{"git push", 128}}) || f.GitOperations() != 1 || f.ToolErrors != 1 {
				t.Errorf("commands %+v, git %d, tool errors %d", f.Commands, f.GitOperations(), f.ToolErrors)
			}
		}},
		{"claude sidechain, meta, slash commands and unknown types", Claude, []string{
			`{"type":"user","isSidechain":true,"message":{"content":"side question"}}`,
			`{"type":"user","isMeta":true,"message":{"content":"caveat"}}`,
			`{"type":"user","message":{"content":"<command-name>/exit</command-name>"}}`,
			`{"type":"brand-new-entry"}`,
			`not json`,
			`{"type":"user","message":{"content":"real prompt"}}`,
			`{"type":"user","message":{"content":[{"type":"text","text":"[Request interrupted by user]"}]}}`,
		}, func(t *testing.T, f Facts) {
			if !slices.Equal(f.Prompts, []string{"real prompt"}) || f.Skipped != 1 || f.Corrupt != 1 {
				t.Errorf("prompts %q skipped %d corrupt %d", f.Prompts, f.Skipped, f.Corrupt)
			}
			if len(f.Errors) != 1 || f.Errors[0].Kind != "interrupted" {
				t.Errorf("errors %+v, want one interruption", f.Errors)
			}
		}},
		{"claude command stopped with Ctrl-C", Claude, []string{
			`{"type":"user","message":{"content":"first: run the long command"}}`,
			`{"type":"assistant","message":{"id":"m1","model":"opus","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"sleep 30"}}],"usage":{"input_tokens":10,"output_tokens":5}}}`,
			`{"type":"user","message":{"content":[{"type":"tool_result","content":"The user doesn't want to proceed with this tool use. The tool use was rejected.","is_error":true,"tool_use_id":"t1"}]},"toolUseResult":"User rejected tool use","toolDenialKind":"user-rejected"}`,
			`{"type":"user","message":{"content":[{"type":"text","text":"[Request interrupted by user for tool use]"}]},"interruptedMessageId":"m1"}`,
		}, func(t *testing.T, f Facts) {
			if !slices.Equal(f.Commands, []Command{{"sleep 30", -1}}) || f.ToolErrors != 0 {
				t.Errorf("commands %+v, tool errors %d; want the command without exit code and no tool error", f.Commands, f.ToolErrors)
			}
			if len(f.Errors) != 1 || f.Errors[0] != (Error{"interrupted", "[Request interrupted by user for tool use]"}) {
				t.Errorf("errors %+v, want the one interruption", f.Errors)
			}
		}},
		{"claude API error", Claude, []string{
			`{"type":"assistant","isApiErrorMessage":true,"message":{"id":"x","model":"<synthetic>","content":[{"type":"text","text":"API Error: 529 overloaded"}]}}`,
		}, func(t *testing.T, f Facts) {
			if len(f.Errors) != 1 || f.Errors[0] != (Error{"api", "API Error: 529 overloaded"}) || f.ModelTurns != 0 {
				t.Errorf("errors %+v turns %d", f.Errors, f.ModelTurns)
			}
		}},
		{"codex older shell tool and repeated totals", Codex, []string{
			`{"timestamp":"2025-09-01T10:00:00Z","type":"session_meta","payload":{"id":"s1","cwd":"/r","timestamp":"2025-09-01T10:00:00Z"}}`,
			`{"type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"{\"command\":[\"bash\",\"-lc\",\"gh pr create\"]}","call_id":"c1"}}`,
			`{"type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"{\"output\":\"no auth\",\"metadata\":{\"exit_code\":4}}"}}`,
			`{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":9,"total_tokens":109}}}}`,
			`{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":9,"total_tokens":109}}}}`,
			`{"type":"event_msg","payload":{"type":"turn_aborted","reason":"interrupted"}}`,
			`{"type":"future_item","payload":{}}`,
		}, func(t *testing.T, f Facts) {
			if !slices.Equal(f.Commands, []Command{{"gh pr create", 4}}) || f.GhOperations() != 1 {
				t.Errorf("commands %+v gh %d", f.Commands, f.GhOperations())
			}
			if f.Usage != (Usage{Input: 100, Output: 9, CacheRead: 40}) || f.ModelTurns != 1 {
				t.Errorf("usage %+v turns %d", f.Usage, f.ModelTurns)
			}
			if len(f.Errors) != 2 || f.Errors[1].Kind != "interrupted" || f.Skipped != 1 || f.SessionID != "s1" {
				t.Errorf("errors %+v skipped %d id %q", f.Errors, f.Skipped, f.SessionID)
			}
		}},
		{"gemini message rewritten under its id", Gemini, []string{
			`{"sessionId":"g1","projectHash":"h","startTime":"2026-01-01T00:00:00Z"}`,
			`{"id":"u","type":"user","content":[{"text":"do it"}]}`,
			`{"id":"m","type":"gemini","model":"gemini-x","tokens":{"input":50,"output":2,"cached":10}}`,
			`{"id":"m","type":"gemini","model":"gemini-x","tokens":{"input":50,"output":2,"cached":10},"toolCalls":[{"id":"c","name":"run_shell_command","status":"executing","args":{"command":"make"}}]}`,
			`{"id":"m","type":"gemini","model":"gemini-x","tokens":{"input":50,"output":2,"cached":10},"toolCalls":[{"id":"c","name":"run_shell_command","status":"success","args":{"command":"make"},"result":[{"functionResponse":{"response":{"output":"Output: boom\nExit Code: 2"}}}]}]}`,
			`{"$set":{"lastUpdated":"2026-01-01T00:00:01Z"}}`,
		}, func(t *testing.T, f Facts) {
			if !slices.Equal(f.Commands, []Command{{"make", 2}}) || f.ToolUses["run_shell_command"] != 1 || f.ToolErrors != 1 {
				t.Errorf("commands %+v tools %v errors %d", f.Commands, f.ToolUses, f.ToolErrors)
			}
			if f.Usage != (Usage{Input: 50, Output: 2, CacheRead: 10}) || f.ModelTurns != 1 || !slices.Equal(f.Prompts, []string{"do it"}) {
				t.Errorf("usage %+v turns %d prompts %q", f.Usage, f.ModelTurns, f.Prompts)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(c.format)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range c.lines {
				r.Line([]byte(l))
			}
			c.check(t, r.Facts())
		})
	}
}

func TestPrograms(t *testing.T) {
	cases := []struct {
		cmd  string
		want []string
	}{
		{"git status", []string{"git"}},
		{"cd repo && GIT_PAGER=cat git log | head -3", []string{"cd", "git", "head"}},
		{"sudo /usr/bin/gh pr list; echo done", []string{"gh", "echo"}},
		{"echo $(git rev-parse HEAD)", []string{"echo", "git"}},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			if got := Programs(c.cmd); !slices.Equal(got, c.want) {
				t.Errorf("Programs(%q) = %q, want %q", c.cmd, got, c.want)
			}
		})
	}
}

// TestFollowerGrowingFile appends a real log in uneven pieces, partial
// lines included, to a file that appears only after the first poll: the
// facts and the copy end up as those of the whole file.
func TestFollowerGrowingFile(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			src := filepath.Join("testdata", fx.name+".jsonl")
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReadFile(src, fx.format)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "log.jsonl")
			var copied bytes.Buffer
			fl, err := NewFollower(path, fx.format, &copied)
			if err != nil {
				t.Fatal(err)
			}
			defer fl.Close()
			if err := fl.Poll(); err != nil {
				t.Fatalf("poll before the log exists: %v", err)
			}
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for rest, n := data, 1; len(rest) > 0; n = n*3%4093 + 1 {
				k := min(n, len(rest))
				f.Write(rest[:k])
				rest = rest[k:]
				if err := fl.Poll(); err != nil {
					t.Fatal(err)
				}
			}
			fl.Finish()
			got := fl.Facts()
			if !slices.Equal(got.Commands, want.Commands) || got.Usage != want.Usage || !slices.Equal(got.Prompts, want.Prompts) || got.ModelTurns != want.ModelTurns {
				t.Errorf("followed facts %+v\nwhole-file facts %+v", got, want)
			}
			if !bytes.Equal(bytes.TrimRight(copied.Bytes(), "\n"), bytes.TrimRight(data, "\n")) {
				t.Errorf("copy has %d bytes, the log %d", copied.Len(), len(data))
			}
		})
	}
}

func TestFollowerLostLog(t *testing.T) {
	for _, c := range []struct {
		name string
		lose func(path string) error
	}{
		{"deleted", os.Remove},
		{"truncated", func(path string) error { return os.Truncate(path, 3) }},
		// Claude appends by path: after a deletion it starts a new file,
		// which may have outgrown the old one by the next poll.
		{"replaced", func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.WriteFile(path, bytes.Repeat([]byte(`{"type":"user","message":{"content":"new"}}`+"\n"), 3), 0o600)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log.jsonl")
			line := `{"type":"user","message":{"content":"hello"}}` + "\n"
			if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
				t.Fatal(err)
			}
			fl, _ := NewFollower(path, Claude, nil)
			defer fl.Close()
			if err := fl.Poll(); err != nil {
				t.Fatal(err)
			}
			if err := c.lose(path); err != nil {
				t.Fatal(err)
			}
			if err := fl.Poll(); !errors.Is(err, ErrGone) {
				t.Fatalf("poll after the log was %s: %v, want ErrGone", c.name, err)
			}
			if f := fl.Facts(); len(f.Prompts) != 1 {
				t.Errorf("what was read is lost: %+v", f)
			}
		})
	}
}

// TestCandidates puts two Claude logs of one directory side by side (two
// sessions started together) and a log of an older session and of another
// directory: the query's prompt picks its own, its start excludes the old.
func TestCandidates(t *testing.T) {
	home := t.TempDir()
	cwd := t.TempDir()
	start := time.Now().Add(-time.Minute).UTC()
	project := filepath.Join(home, ".claude", "projects", ClaudeProjectDir(cwd))
	write := func(dir, name, cwd string, at time.Time, prompt string) string {
		t.Helper()
		os.MkdirAll(dir, 0o700)
		line, _ := json.Marshal(map[string]any{"type": "user", "cwd": cwd, "sessionId": name, "timestamp": at.Format(time.RFC3339Nano), "message": map[string]any{"content": prompt}})
		p := filepath.Join(dir, name+".jsonl")
		if err := os.WriteFile(p, append(line, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := write(project, "first", cwd, start.Add(5*time.Second), "prompt of b")
	second := write(project, "second", cwd, start.Add(9*time.Second), "prompt of a")
	write(project, "old", cwd, start.Add(-time.Hour), "prompt of a")
	write(project, "elsewhere", cwd+"-other", start.Add(6*time.Second), "prompt of a")
	os.Chtimes(filepath.Join(project, "old.jsonl"), start.Add(-time.Hour), start.Add(-time.Hour))

	for _, c := range []struct {
		prompt string
		typed  bool
		want   []string
	}{
		{"", true, []string{first, second}},
		{"prompt of a", true, []string{second, first}},
		{"  prompt   of b ", true, []string{first, second}},
		{"", false, nil}, // nothing typed yet: neither log can be its own
	} {
		t.Run(fmt.Sprintf("prompt=%q typed=%v", c.prompt, c.typed), func(t *testing.T) {
			got, err := Candidates(Query{Format: Claude, Home: home, Cwd: cwd, Start: start, Prompt: c.prompt, Typed: c.typed})
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, g := range got {
				paths = append(paths, g.Path)
			}
			if !slices.Equal(paths, c.want) {
				t.Errorf("candidates %q, want %q", paths, c.want)
			}
		})
	}
}

func fuzzFormat(f *testing.F, format Format, fixture string) {
	if b, err := os.ReadFile(filepath.Join("testdata", fixture)); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, maxLine)
		for i := 0; sc.Scan() && i < 60; i++ {
			l := sc.Bytes()
			f.Add(slices.Clone(l))
			f.Add(slices.Clone(l[:len(l)/2]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _ := NewReader(format)
		for _, l := range bytes.Split(data, []byte("\n")) {
			r.Line(l)
		}
		r.Line(data)
		got := r.Facts()
		for _, c := range got.Commands {
			if c.ExitCode < -1 && !strings.Contains(string(data), "-") {
				t.Errorf("exit code %d from input without a minus sign", c.ExitCode)
			}
		}
		if len(got.Commands) > got.ToolUseTotal() {
			t.Errorf("%d commands but %d tool uses", len(got.Commands), got.ToolUseTotal())
		}
		if got.ToolErrors > len(got.Errors) {
			t.Errorf("%d tool errors but %d errors", got.ToolErrors, len(got.Errors))
		}
	})
}

func FuzzClaude(f *testing.F) { fuzzFormat(f, Claude, "claude-classic.jsonl") }
func FuzzCodex(f *testing.F)  { fuzzFormat(f, Codex, "codex-inline.jsonl") }
func FuzzGemini(f *testing.F) { fuzzFormat(f, Gemini, "gemini-inline.jsonl") }

// TestCandidatesUnreadable: a log directory that cannot be listed is an
// error (a file in its place stands for chmod 000, which does not stop
// root), and one that does not exist yet is not.
func TestCandidatesUnreadable(t *testing.T) {
	cwd := t.TempDir()
	for _, c := range []struct {
		format Format
		block  string // made a file, relative to HOME; "" blocks nothing
	}{
		{Claude, ""},
		{Claude, ".claude/projects"},
		{Claude, filepath.Join(".claude/projects", ClaudeProjectDir(cwd))},
		{Codex, ".codex/sessions"},
		{Gemini, ".gemini/tmp"},
	} {
		t.Run(fmt.Sprintf("%s %q", c.format, c.block), func(t *testing.T) {
			home := t.TempDir()
			if c.block != "" {
				p := filepath.Join(home, c.block)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Candidates(Query{Format: c.format, Home: home, Cwd: cwd, Start: time.Now(), Typed: true})
			if len(got) != 0 {
				t.Errorf("candidates %+v, want none", got)
			}
			switch {
			case c.block == "" && err != nil:
				t.Errorf("no log directory yet: %v, want no error", err)
			case c.block != "" && (err == nil || !strings.Contains(err.Error(), home)):
				t.Errorf("error %v, want one naming the unreadable directory under %s", err, home)
			}
		})
	}
}
