package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowtest"
)

// TestQuickRun runs the whole harness in quick mode, with the real
// binaries, real pseudo-terminals and (when installed) a real MLflow,
// script and asciinema. It checks that every figure was measured and that
// aitrack delivered every byte; it never looks at speed.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and starts MLflow")
	}
	cfg := DefaultConfig(true)
	cfg.Work = t.TempDir()
	cfg.Log = testLog{t}
	cfg.Invocation = "go test ./bench/"
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		// Stop measuring in time to report what went wrong.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
		defer cancel()
	}
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	var md, js bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("the JSON report does not decode: %v", err)
	}
	if len(back.Budgets) != len(r.Budgets) || len(back.Keystroke) != len(r.Keystroke) {
		t.Errorf("the JSON report lost entries")
	}

	want := []string{keyDirect, keyWrap, keyWrapStalled, keyWrapNoDaemon}
	for _, tool := range []string{keyScript, keyAsciinema} {
		if _, err := exec.LookPath(tool); err == nil {
			want = append(want, tool)
		}
	}
	for _, key := range want {
		k, ok := r.keystroke(key)
		if !ok || !k.P50.Valid() || k.Error != "" {
			t.Errorf("keystroke %s not measured: %+v", key, k)
		}
		if key == keyWrapStalled {
			continue
		}
		b, ok := r.bulk(key)
		if !ok || !b.MBps.Valid() || b.Error != "" {
			t.Errorf("bulk %s not measured: %+v", key, b)
		}
		s, ok := r.startup(key)
		if !ok || !s.Ms.Valid() || s.Error != "" {
			t.Errorf("startup %s not measured: %+v", key, s)
		}
	}
	// Correctness, not speed: the terminal gets exactly the program's output.
	for _, key := range []string{keyDirect, keyWrap, keyWrapNoDaemon} {
		if b, _ := r.bulk(key); b.Lost != 0 || !b.Identical {
			t.Errorf("%s: %d bytes lost, identical %v", key, b.Lost, b.Identical)
		}
	}
	if r.Parse.Error != "" || len(r.Parse.Results) == 0 {
		t.Errorf("parse throughput not measured: %+v", r.Parse)
	}
	checkStore(t, r.Store)
	if _, err := mlflowtest.Binary(); err == nil {
		if len(r.Daemon.Live) != len(cfg.LiveLevels) {
			t.Errorf("%d live levels measured, want %d", len(r.Daemon.Live), len(cfg.LiveLevels))
		}
		for _, l := range r.Daemon.Live {
			if l.Error != "" || !l.RSSMB.Valid() || !l.RequestsPerSessionPerSec.Valid() || l.OutputKBpsPerSession.Median <= 0 || l.Undelivered != 0 {
				t.Errorf("live, %d sessions: %+v", l.Sessions, l)
			}
		}
		if e := r.Daemon.E2E; e == nil || e.Finished != cfg.E2ESessions {
			t.Errorf("end to end: %+v", e)
		}
	}

	if len(r.Budgets) == 0 {
		t.Fatal("no budgets checked")
	}
	for _, b := range r.Budgets {
		if b.Result != Pass && b.Result != Miss && b.Result != Skip {
			t.Errorf("budget %q has result %q", b.Figure, b.Result)
		}
		if !strings.Contains(md.String(), "| "+b.Figure+" |") {
			t.Errorf("BENCHMARKS.md lacks the budget row %q", b.Figure)
		}
	}
	for _, section := range []string{"## Machine", "## Budgets", "## Keystroke round trip", "## Bulk output", "## Startup + teardown", "## Parse throughput", "## Store commit throughput", "## Commands"} {
		if !strings.Contains(md.String(), section) {
			t.Errorf("BENCHMARKS.md lacks %q", section)
		}
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
