package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

var recordFixture = flag.Bool("record", false, "re-record testdata/bash_session.raw from a live bash session")

// sessionTruth is testdata/bash_session.json: what was typed, and the
// events that must come out, written by hand.
type sessionTruth struct {
	Commands []string    `json:"commands"`
	Events   []wantEvent `json:"events"`
}

type wantEvent struct {
	Kind   Kind              `json:"kind"`
	Text   string            `json:"text"`
	Fields map[string]string `json:"fields,omitempty"`
}

func loadTruth(t *testing.T) sessionTruth {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bash_session.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth sessionTruth
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatalf("testdata/bash_session.json: %v", err)
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

// TestBashSessionLive runs a real bash in a real PTY, types the commands of
// testdata/bash_session.json, parses the output as it arrives and checks
// the events against the hand-written ground truth.
func TestBashSessionLive(t *testing.T) {
	for _, prog := range []string{"bash", "git"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s not installed", prog)
		}
	}
	truth := loadTruth(t)
	var log eventLog
	p := New(log.options(""))
	raw := runBashSession(t, truth.Commands, func(chunk []byte) { p.Write(chunk, time.Now()) })
	p.Close()
	compareEvents(t, log.events, truth.Events)

	m := p.Metrics()
	if m.OutputBytes != int64(len(raw)) {
		t.Errorf("OutputBytes = %d, fed %d", m.OutputBytes, len(raw))
	}
	if *recordFixture {
		if err := os.WriteFile(filepath.Join("testdata", "bash_session.raw"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %d bytes to testdata/bash_session.raw", len(raw))
	}
}

// runBashSession starts bash with PS1='$ ' in an 80x24 PTY inside a fresh
// directory, types each command once the prompt is back, and returns
// everything bash wrote. onChunk sees the output as it is read.
func runBashSession(t *testing.T, commands []string, onChunk func([]byte)) []byte {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	repo := filepath.Join(dir, "repo")
	for _, d := range []string{bin, repo} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A stub gh, so the session is the same with or without a real gh.
	stub := "#!/bin/sh\necho 'error: gh is not authenticated in this test' >&2\nexit 4\n"
	if err := os.WriteFile(filepath.Join(bin, "gh"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--norc", "--noprofile", "-i")
	cmd.Dir = repo
	cmd.Env = []string{
		"PS1=$ ", "TERM=xterm-256color", "LANG=C.UTF-8", "HOME=" + dir,
		"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "INPUTRC=/dev/null", "HISTFILE=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
	}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatalf("start bash in a pty: %v", err)
	}
	defer ptmx.Close()

	var (
		mu   sync.Mutex
		out  []byte
		done = make(chan struct{})
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
				out = append(out, chunk...)
				mu.Unlock()
			}
			if err != nil { // EIO once bash has exited: the end of output
				return
			}
		}
	}()
	waitPrompt := func(after int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			ready := len(out) > after && bytes.HasSuffix(out, []byte("$ "))
			mu.Unlock()
			if ready {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no prompt from bash within 15 s; output so far:\n%q", out)
	}
	seen := 0
	for _, c := range commands {
		waitPrompt(seen)
		mu.Lock()
		seen = len(out)
		mu.Unlock()
		for _, key := range []byte(c + "\r") { // one keystroke at a time, as typed
			if _, err := ptmx.Write([]byte{key}); err != nil {
				t.Fatalf("type %q: %v", c, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("bash: %v", err)
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("bash did not exit within 15 s")
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("pty output did not end within 15 s of bash exiting")
	}
	mu.Lock()
	defer mu.Unlock()
	return out
}

// TestBashSessionFixture replays the recorded session: in one write, and
// in small chunks at increasing times, the events are the ground truth and
// the clean transcript is the reviewed golden file.
func TestBashSessionFixture(t *testing.T) {
	truth := loadTruth(t)
	raw := readFixture(t)
	wantClean, err := os.ReadFile(filepath.Join("testdata", "bash_session.clean.txt"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		chunk int
		step  time.Duration
	}{
		{"one write", len(raw), 0},
		{"7-byte chunks, 10ms apart", 7, 10 * time.Millisecond},
		{"1-byte chunks, 1s apart", 1, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log eventLog
			opts := log.options("")
			opts.Start = start
			p := New(opts)
			at := start
			for i := 0; i < len(raw); i += tt.chunk {
				p.Write(raw[i:min(i+tt.chunk, len(raw))], at)
				at = at.Add(tt.step)
			}
			p.Close()
			compareEvents(t, log.events, truth.Events)
			if got := log.clean.String(); got != string(wantClean) {
				t.Errorf("clean transcript differs from testdata/bash_session.clean.txt:\n%s", got)
			}
			m := p.Metrics()
			if m.OutputLines != int64(strings.Count(string(wantClean), "\n")) {
				t.Errorf("OutputLines = %d, want %d", m.OutputLines, strings.Count(string(wantClean), "\n"))
			}
			if m.CommandsExecuted != len(truth.Commands) {
				t.Errorf("CommandsExecuted = %d, want %d (one per typed command)", m.CommandsExecuted, len(truth.Commands))
			}
		})
	}
}

func readFixture(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bash_session.raw"))
	if err != nil {
		t.Fatalf("%v (record it with: go test -run TestBashSessionLive ./internal/parse -args -record)", err)
	}
	return raw
}
