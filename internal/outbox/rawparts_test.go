package outbox

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/redact"
	"go.uber.org/zap/zaptest"
)

// TestRawTranscriptInParts: a running session's raw transcript reaches
// MLflow in parts as it grows, cut from the transcript redacted as one
// stream (so a secret near a part boundary is removed whole); at the end the
// run has it whole as transcript.raw and the parts are gone.
func TestRawTranscriptInParts(t *testing.T) {
	c := client(t)
	red, err := redact.NewRedactor(redact.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(t, "parts-1")
	raw := filepath.Join(src.snap.Dir, "output.raw")
	const part = 16 << 10
	secret := "glpat-Xy7Zq2Lm9Kp4Rt8Vw1Bn"
	// The secret straddles the second part's start.
	first := bytes.Repeat([]byte("line of output\r\n"), part/16-1)
	first = append(first, "token "...)
	first = append(first, secret...)
	first = append(first, "\r\n"...)
	if err := os.WriteFile(raw, first, 0o600); err != nil {
		t.Fatal(err)
	}
	src.update(func(s *Snapshot) { s.Raw, s.Start = raw, time.Now() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := New(Config{Client: c, Source: src, Log: zaptest.NewLogger(t), Redactor: red,
		LiveInterval: 50 * time.Millisecond, PartSize: part, PartInterval: 300 * time.Millisecond})
	o.Track(ctx, "parts-1")

	// Grow the transcript past several parts while the session runs.
	f, err := os.OpenFile(raw, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 40 {
		f.WriteString(strings.Repeat("more output "+string(rune('a'+i%26))+"\r\n", 400))
		time.Sleep(25 * time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	var st State
	for {
		st, _ = ReadState(src.snap.Dir)
		if st.RawParts >= 2 && st.RawPartLen > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live parts in MLflow: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := redactAll(t, red, readFile(t, raw))
	var live []byte
	for i := range st.RawParts + 1 {
		live = append(live, download(t, c, st.ArtifactURI, partName(i))...)
	}
	if len(live) == 0 || !strings.HasPrefix(want, string(live)) {
		t.Errorf("the parts are not a prefix of the redacted transcript (%d bytes of parts)", len(live))
	}
	if bytes.Contains(live, []byte(secret[:10])) || bytes.Contains(live, []byte(secret[10:])) {
		t.Error("a piece of the secret is in the parts")
	}

	f.WriteString("the end\r\n")
	end(src)
	o.Track(ctx, "parts-1")
	st = waitDone(t, src.snap.Dir, 60*time.Second)
	want = redactAll(t, red, readFile(t, raw))
	if got := download(t, c, st.ArtifactURI, RawArtifact); string(got) != want {
		t.Errorf("transcript.raw differs from the redacted transcript (%d vs %d bytes)", len(got), len(want))
	}
	if st.Redacted["gitlab-token"] != 1 {
		t.Errorf("redaction counts %v, want the one gitlab-token", st.Redacted)
	}
	if _, err := os.Stat(filepath.Join(src.snap.Dir, RedactedRawFile)); !os.IsNotExist(err) {
		t.Errorf("the redacted copy is left behind: %v", err)
	}
	files, err := c.ListArtifacts(ctx, st.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range files {
		if fi.Path == RawPartsDir {
			t.Errorf("the parts are still in the run: %+v", files)
		}
	}
}

// redactAll is data redacted in one go.
func redactAll(t *testing.T, red *redact.Redactor, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	s := red.NewStream(&b)
	if _, err := s.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func download(t *testing.T, c *mlflowclient.Client, uri, name string) []byte {
	t.Helper()
	rc, err := c.DownloadArtifact(context.Background(), uri, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
