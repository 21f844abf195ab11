package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/recorder"
)

// TestStoreCap: past the store's cap, delivered sessions go first, however
// young; when ended, undelivered sessions alone fill it (MLflow is away),
// the daemon stops taking output and tells the wrapper, which spools it,
// and once there is room the session is stored whole: held back, never
// dropped.
func TestStoreCap(t *testing.T) {
	dir := t.TempDir()
	w := &world{dir: dir, socket: filepath.Join(dir, "d.sock"), state: filepath.Join(dir, "state")}
	const limit = 256 << 10
	stop := w.run(t, Config{MaxStoreBytes: limit, SweepInterval: 20 * time.Millisecond})

	// A delivered session (MLflow has it) bigger than the cap, one
	// undelivered session under it.
	w.healthy(t, "delivered")()
	w.healthy(t, "pending")()
	sessions := filepath.Join(w.state, "sessions")
	os.WriteFile(filepath.Join(sessions, "delivered", "big"), make([]byte, limit), 0o600)
	os.WriteFile(filepath.Join(sessions, "delivered", "delivery.json"), []byte(`{"run_id":"r","done":true}`), 0o600)
	waitFor(t, "the delivered session removed to make room", func() bool {
		_, err := os.Stat(filepath.Join(sessions, "delivered"))
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(filepath.Join(sessions, "pending", ingest.OutputFile)); err != nil {
		t.Fatalf("the undelivered session was removed: %v", err)
	}

	// An ended session MLflow does not have grows past the cap: the store
	// is full, and holds what a running session prints.
	os.WriteFile(filepath.Join(sessions, "pending", "big"), make([]byte, 2*limit), 0o600)
	waitFor(t, "status to show the store full", func() bool {
		st, err := w.client.Status(context.Background(), &aitrackv1.StatusRequest{})
		return err == nil && st.GetStoreFull() && st.GetPendingBytes() > limit && st.GetStoreLimitBytes() == limit
	})
	r := recorder.New(recorder.Config{
		Open:   &aitrackv1.Open{SessionId: "big", Argv: []string{"big"}, StartUnixNano: time.Now().UnixNano(), WrapperPid: int64(os.Getpid())},
		Socket: w.socket, SpoolDir: filepath.Join(w.state, "spool"),
	})
	r.Start(context.Background())
	var want bytes.Buffer
	for i := 0; want.Len() < limit; i++ {
		line := fmt.Appendf(nil, "line %d %s\r\n", i, bytes.Repeat([]byte("x"), 1000))
		want.Write(line)
		r.Output(line, time.Now())
	}
	r.End(&aitrackv1.End{}, time.Now())
	closing := time.Now()
	out := r.Close(2 * time.Second)
	t.Logf("the wrapper's Close took %v", time.Since(closing))
	if out.Delivered || out.SpoolPath == "" {
		t.Fatalf("a full store took the whole session, or nothing was spooled: %+v", out)
	}
	if stored, _ := os.ReadFile(filepath.Join(sessions, "big", ingest.OutputFile)); len(stored) > 0 {
		t.Errorf("a full store took %d bytes of a new session", len(stored))
	}

	// With room (a bigger cap), the spool is taken and the session is whole.
	stop()
	w.run(t, Config{MaxStoreBytes: 64 << 20, SweepInterval: 20 * time.Millisecond})
	waitFor(t, "the spooled session stored whole", func() bool {
		got, _ := os.ReadFile(filepath.Join(sessions, "big", ingest.OutputFile))
		return bytes.Equal(got, want.Bytes())
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
