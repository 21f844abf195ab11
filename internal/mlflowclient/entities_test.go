package mlflowclient

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func decodeRunFile(t *testing.T, name string) Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "runs", name))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Run wireRun `json:"run"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Run.run()
}

func TestDecodeRun(t *testing.T) {
	t.Run("finished", func(t *testing.T) {
		r := decodeRunFile(t, "get-run.json")
		want := RunInfo{
			RunID: "364aeb71e92149d3a80479b6371b1ace", RunName: "session 1", ExperimentID: "11", Status: StatusFinished,
			ArtifactURI:    "mlflow-artifacts:/11/364aeb71e92149d3a80479b6371b1ace/artifacts",
			LifecycleStage: "active", StartTime: time.UnixMilli(1750000123456), EndTime: time.UnixMilli(1750000183456),
		}
		if r.Info != want {
			t.Errorf("info %+v, want %+v", r.Info, want)
		}
		if m, ok := r.Metric("loss"); !ok || m.Value != 0.25 || m.Step != 7 || !m.Timestamp.Equal(time.UnixMilli(1750000124000)) {
			t.Errorf("loss = %+v, %t", m, ok)
		}
		if m, ok := r.Metric("nan"); !ok || !math.IsNaN(m.Value) {
			t.Errorf("nan = %+v, %t", m, ok)
		}
		if m, _ := r.Metric("big"); m.Value != math.MaxFloat64 {
			t.Errorf("big = %v", m.Value)
		}
		if v, ok := r.Param("model"); !ok || v != "opus" {
			t.Errorf("param model = %q, %t", v, ok)
		}
		if v, ok := r.Tag("aitrack.stream_id"); !ok || v != "s-1" {
			t.Errorf("tag = %q, %t", v, ok)
		}
		if _, ok := r.Tag("missing"); ok {
			t.Error("a missing tag was found")
		}
		if _, ok := r.Metric("missing"); ok {
			t.Error("a missing metric was found")
		}
		if _, ok := r.Param("missing"); ok {
			t.Error("a missing param was found")
		}
	})
	t.Run("running", func(t *testing.T) {
		r := decodeRunFile(t, "running.json")
		if !r.Info.EndTime.IsZero() || !r.Info.StartTime.Equal(time.UnixMilli(0)) || r.Info.Status != StatusRunning {
			t.Errorf("info %+v", r.Info)
		}
	})
}

// FuzzDecodeRun feeds arbitrary answers to the run decoder: it must not
// panic, and what it accepts must convert.
func FuzzDecodeRun(f *testing.F) {
	for _, name := range []string{"get-run.json", "running.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "runs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"run":{"info":{"start_time":null,"end_time":"x"}}}`))
	f.Add([]byte(`{"run":{"data":{"metrics":[{"value":"Infinity","step":"9223372036854775807"}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp struct {
			Run wireRun `json:"run"`
		}
		if json.Unmarshal(b, &resp) != nil {
			return
		}
		r := resp.Run.run()
		if len(r.Data.Metrics) != len(resp.Run.Data.Metrics) || len(r.Data.Params) != len(resp.Run.Data.Params) || len(r.Data.Tags) != len(resp.Run.Data.Tags) {
			t.Fatalf("converted run lost entries: %+v", r)
		}
	})
}
