package parse

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/shellmarks"
	"github.com/creack/pty"
)

var recordFixture = flag.Bool("record", false, "re-record testdata/NAME.raw and NAME.timing of the shell sessions from live bash sessions")

// shellFixtures are the plain-shell sessions recorded from a real bash 5
// in a real 80x24 PTY, each kept in testdata as
//
//	NAME.json       what was typed, and the events it must produce, written by hand
//	NAME.raw        every byte bash and its programs wrote
//	NAME.timing     when: "o <ns since start> <bytes>" per read, as testdata/cli
//	NAME.clean.txt  the reviewed clean transcript
var shellFixtures = []string{
	"bash_session", // PS1='$ ': git, gh, errors, a typo, a backspace, \r, a wrapped line
	"zsh_prompt",   // zsh-looking prompts: macOS "user@host dir % ", coloured; Kali's two-line one
	"alt_screen",   // clear, less and vim (the alternate screen) between commands
	"wide_chars",   // CJK, emoji (ZWJ sequences, flags, modifiers), combining marks, a wide char at the wrap
	"shell_marks",  // bash with aitrack-wrap's semantic prompt marks (OSC 133): exit statuses, no guessing
	"zsh_marks",    // zsh 5 with aitrack-wrap's marks, started as the wrapper starts it
	"fish_marks",   // fish 3 with aitrack-wrap's marks: syntax highlighting redraws each key
}

// sessionTruth is testdata/NAME.json.
type sessionTruth struct {
	// PS1 is bash's prompt ("$ " when empty); PromptEnds are the endings of
	// the output that say the prompt is back ("$ " when empty).
	PS1        string   `json:"ps1,omitempty"`
	PromptEnds []string `json:"prompt_ends,omitempty"`
	// Shell is bash (when empty), zsh or fish.
	Shell string `json:"shell,omitempty"`
	// ShellMarks starts the shell as aitrack-wrap does, which switches on
	// its semantic prompt marks.
	ShellMarks bool `json:"shell_marks,omitempty"`
	// Files are written under the session's home (the session runs in
	// ~/repo) before bash starts.
	Files map[string]string `json:"files,omitempty"`
	// Commands are typed at the prompt one key at a time, Enter after each.
	Commands []string `json:"commands"`
	// Keys are typed into the program a command starts (by the command's
	// text), each step once its Wait text has been written.
	Keys map[string][]keyStep `json:"keys,omitempty"`
	// Leaves are files the session must have written, with their content.
	Leaves map[string]string `json:"leaves,omitempty"`
	Events []wantEvent       `json:"events"`
}

type keyStep struct {
	Wait string `json:"wait"`
	Keys string `json:"keys"`
}

type wantEvent struct {
	Kind   Kind              `json:"kind"`
	Text   string            `json:"text"`
	Fields map[string]string `json:"fields,omitempty"`
}

func loadTruth(t testing.TB, name string) sessionTruth {
	t.Helper()
	path := filepath.Join("testdata", name+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var truth sessionTruth
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return truth
}

// eventLog collects events and the clean transcript of one Parser.
type eventLog struct {
	mu     sync.Mutex
	events []wantEvent
	clean  bytes.Buffer
}

func (l *eventLog) options(provider string) Options {
	return Options{
		Provider: provider,
		Clean:    &l.clean,
		OnEvent: func(ev Event) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.events = append(l.events, wantEvent{Kind: ev.Kind, Text: ev.Text, Fields: ev.Fields})
		},
	}
}

func compareEvents(t *testing.T, got, want []wantEvent) {
	t.Helper()
	g, w := marshalEvents(got), marshalEvents(want)
	if g != w {
		t.Errorf("events differ\n got: %s\nwant: %s", g, w)
	}
}

func marshalEvents(evs []wantEvent) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, ev := range evs {
		_ = enc.Encode(ev)
	}
	return b.String()
}

// TestShellSessionsLive runs each shell fixture's session in a real shell
// in a real PTY, parses the output as it arrives and checks the events against
// the hand-written ground truth. With -record it writes the recordings.
func TestShellSessionsLive(t *testing.T) {
	for _, prog := range []string{"bash", "git", "less", "vim", "clear"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s not installed", prog)
		}
	}
	for _, name := range shellFixtures {
		t.Run(name, func(t *testing.T) {
			truth := loadTruth(t, name)
			if _, err := exec.LookPath(cmp.Or(truth.Shell, "bash")); err != nil {
				t.Skipf("%s not installed (make test installs it as root)", truth.Shell)
			}
			var log eventLog
			p := New(log.options(""))
			rec, home := runShellSession(t, truth, func(chunk []byte) { p.Write(chunk, time.Now()) })
			p.Close()
			compareEvents(t, log.events, truth.Events)
			if m := p.Metrics(); m.OutputBytes != int64(len(rec.raw)) {
				t.Errorf("OutputBytes = %d, fed %d", m.OutputBytes, len(rec.raw))
			}
			for file, want := range truth.Leaves {
				got, err := os.ReadFile(filepath.Join(home, file))
				if err != nil || string(got) != want {
					t.Errorf("~/%s = %q (%v), want %q", file, got, err, want)
				}
			}
			if *recordFixture {
				rec.write(t, name)
			}
		})
	}
}

// recording is what a live session wrote, and when.
type recording struct {
	raw    []byte
	timing bytes.Buffer // "o <ns since start> <bytes>" per read
}

func (r *recording) write(t *testing.T, name string) {
	t.Helper()
	for ext, data := range map[string][]byte{".raw": r.raw, ".timing": r.timing.Bytes()} {
		if err := os.WriteFile(filepath.Join("testdata", name+ext), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("recorded %d bytes to testdata/%s.raw", len(r.raw), name)
}

// runShellSession starts truth's shell (bash with truth's prompt unless
// told otherwise) in an 80x24 PTY, in ~/repo of a fresh home, types each
// command once the prompt is back (and the keys for the programs it
// starts), and returns everything the shell wrote and the home. onChunk
// sees the output as it is read.
func runShellSession(t *testing.T, truth sessionTruth, onChunk func([]byte)) (*recording, string) {
	t.Helper()
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	repo := filepath.Join(home, "repo")
	for _, d := range []string{bin, repo} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A stub gh, so the session is the same with or without a real gh.
	files := map[string]string{"bin/gh": "#!/bin/sh\necho 'error: gh is not authenticated in this test' >&2\nexit 4\n"}
	for name, content := range truth.Files {
		files[name] = content
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(home, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ps1, ends := cmp.Or(truth.PS1, "$ "), truth.PromptEnds
	if len(ends) == 0 {
		ends = []string{"$ "}
	}
	env := []string{
		"PS1=" + ps1, "TERM=xterm-256color", "LANG=C.UTF-8", "HOME=" + home,
		"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "INPUTRC=/dev/null", "HISTFILE=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
	}
	cmd := exec.Command("bash", "--norc", "--noprofile", "-i")
	if truth.ShellMarks {
		l, _, err := shellmarks.Prepare(shellmarks.Launch{Argv: []string{cmp.Or(truth.Shell, "bash")}, Env: env}, filepath.Join(home, "aitrack"))
		if err != nil {
			t.Fatal(err)
		}
		cmd, env = exec.Command(l.Argv[0], l.Argv[1:]...), l.Env
	} else if truth.Shell != "" {
		t.Fatalf("%s runs only with the marks", truth.Shell)
	}
	cmd.Dir, cmd.Env = repo, env
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatalf("start bash in a pty: %v", err)
	}
	defer ptmx.Close()

	var (
		mu    sync.Mutex
		rec   = &recording{}
		done  = make(chan struct{})
		start = time.Now()
	)
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				chunk := append([]byte(nil), buf[:n]...)
				onChunk(chunk)
				mu.Lock()
				rec.raw = append(rec.raw, chunk...)
				fmt.Fprintf(&rec.timing, "o %d %d\n", time.Since(start).Nanoseconds(), n)
				mu.Unlock()
			}
			if err != nil { // EIO once bash has exited: the end of output
				return
			}
		}
	}()
	// waitFor waits until the output after offset from satisfies ready and
	// returns the output's length.
	waitFor := func(what string, from int, ready func(out []byte) bool) int {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			out, n := rec.raw[from:], len(rec.raw)
			ok := ready(out)
			mu.Unlock()
			if ok {
				return n
			}
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no %s within 15 s; output so far:\n%q", what, rec.raw)
		return 0
	}
	typed := false
	prompt := func(out []byte) bool {
		if truth.ShellMarks {
			// The shell goes on writing after the prompt (line editor
			// modes, a title): the marks say when the command has run
			// (C) and the prompt is back (B).
			b := bytes.LastIndex(out, []byte("\x1b]133;B\a"))
			return b >= 0 && (!typed || bytes.Contains(out[:b], []byte("\x1b]133;C")))
		}
		for _, end := range ends {
			if len(out) > 0 && bytes.HasSuffix(out, []byte(end)) {
				return true
			}
		}
		return false
	}
	typeKeys := func(keys string) {
		t.Helper()
		for _, key := range []byte(keys) { // one keystroke at a time, as typed
			if _, err := ptmx.Write([]byte{key}); err != nil {
				t.Fatalf("type %q: %v", keys, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	seen := 0
	for _, c := range truth.Commands {
		seen = waitFor("prompt", seen, prompt)
		typeKeys(c + "\r")
		typed = true
		for _, k := range truth.Keys[c] {
			seen = waitFor(fmt.Sprintf("%q from %q", k.Wait, c), seen, func(out []byte) bool { return bytes.Contains(out, []byte(k.Wait)) })
			typeKeys(k.Keys)
		}
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not exit within 15 s", cmd.Path)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("pty output did not end within 15 s of %s exiting", cmd.Path)
	}
	mu.Lock()
	defer mu.Unlock()
	return rec, home
}

// TestShellSessionFixtures replays the recorded sessions: as recorded, in
// one write, and in small chunks at increasing times. The events are the
// ground truth, one command event per typed command, and the clean
// transcript is the reviewed golden file. The alternate screen is read
// from snapshots in stream time, so what it adds to the transcript
// depends on the timing: a session using it has the recorded timing's.
func TestShellSessionFixtures(t *testing.T) {
	for _, name := range shellFixtures {
		t.Run(name, func(t *testing.T) {
			truth := loadTruth(t, name)
			steps := readRecording(t, name)
			raw := readFixture(t, name)
			alt := bytes.Contains(raw, []byte(enterAlt))
			wantClean, err := os.ReadFile(filepath.Join("testdata", name+".clean.txt"))
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name  string
				steps []corpusStep
			}{
				{"as recorded", steps},
				{"one write", []corpusStep{{data: raw}}},
				{"7-byte chunks, 10ms apart", chunked(raw, 7, 10*time.Millisecond)},
				{"1-byte chunks, 1s apart", chunked(raw, 1, time.Second)},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					log, p := replayShell(tt.steps)
					compareEvents(t, log.events, truth.Events)
					m := p.Metrics()
					if !alt || tt.name == "as recorded" {
						if got := log.clean.String(); got != string(wantClean) {
							t.Errorf("clean transcript differs from testdata/%s.clean.txt:\n%s", name, got)
						}
						if n := int64(strings.Count(string(wantClean), "\n")); m.OutputLines != n {
							t.Errorf("OutputLines = %d, want %d", m.OutputLines, n)
						}
					}
					if m.CommandsExecuted != len(truth.Commands) {
						t.Errorf("CommandsExecuted = %d, want %d (one per typed command)", m.CommandsExecuted, len(truth.Commands))
					}
				})
			}
		})
	}
}

// replayShell feeds a shell recording's steps to a new parser, as aitrackd
// would, and returns what it made of them.
func replayShell(steps []corpusStep) (*eventLog, *Parser) {
	log := &eventLog{}
	opts := log.options("")
	opts.Start = t0
	p := New(opts)
	for _, st := range steps {
		p.Write(st.data, t0.Add(st.at))
	}
	p.Close()
	return log, p
}

// chunked splits raw into writes of size bytes, step apart.
func chunked(raw []byte, size int, step time.Duration) []corpusStep {
	var steps []corpusStep
	for i := 0; i < len(raw); i += size {
		steps = append(steps, corpusStep{at: time.Duration(i/size) * step, data: raw[i:min(i+size, len(raw))]})
	}
	return steps
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".raw"))
	if err != nil {
		t.Fatalf("%v (record it with: go test -run 'TestShellSessionsLive/%s' ./internal/parse -args -record)", err, name)
	}
	return raw
}

// readRecording returns the fixture's output records at their recorded times.
func readRecording(t testing.TB, name string) []corpusStep {
	t.Helper()
	timing, err := os.ReadFile(filepath.Join("testdata", name+".timing"))
	if err != nil {
		t.Fatalf("%v (record it with: go test -run 'TestShellSessionsLive/%s' ./internal/parse -args -record)", err, name)
	}
	steps, err := readTiming(timing, readFixture(t, name))
	if err != nil {
		t.Fatalf("testdata/%s.timing: %v", name, err)
	}
	return steps
}

// TestShellSessionsInParallel replays every recorded session in several
// parsers at once, as the daemon runs sessions: each still gives exactly its
// ground truth (the parsers share read-only tables).
func TestShellSessionsInParallel(t *testing.T) {
	type fixture struct {
		truth sessionTruth
		steps []corpusStep
	}
	var fixtures []fixture
	for _, name := range shellFixtures {
		fixtures = append(fixtures, fixture{loadTruth(t, name), readRecording(t, name)})
	}
	var wg sync.WaitGroup
	for range 4 {
		for _, fx := range fixtures {
			wg.Go(func() {
				log, _ := replayShell(fx.steps)
				if g, w := marshalEvents(log.events), marshalEvents(fx.truth.Events); g != w {
					t.Errorf("events differ\n got: %s\nwant: %s", g, w)
				}
			})
		}
	}
	wg.Wait()
}
