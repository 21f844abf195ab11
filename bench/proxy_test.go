package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestEndpointOf(t *testing.T) {
	tests := []struct{ method, path, want string }{
		{"POST", "/api/2.0/mlflow/runs/log-batch", "POST /api/2.0/mlflow/runs/log-batch"},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/transcript.raw", "PUT /api/2.0/mlflow-artifacts/artifacts"},
		{"GET", "/health", "GET /health"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := endpointOf(tt.method, tt.path); got != tt.want {
				t.Errorf("endpointOf(%s, %s) = %q, want %q", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

// A stand-in for MLflow (a unit test: the real one is used end to end).
func TestCountingProxy(t *testing.T) {
	var bodies atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies.Add(int64(len(b)))
		if strings.Contains(string(b), "refuse") {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		io.WriteString(w, "{}")
	}))
	defer backend.Close()
	p, err := startProxy(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()

	post := func(path, body string) {
		t.Helper()
		resp, err := http.Post(p.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("/api/2.0/mlflow/runs/log-batch", `{"run_id":"r1"}`)
	post("/api/2.0/mlflow/runs/update", `{"run_id":"r1","status":"RUNNING"}`)
	post("/api/2.0/mlflow/runs/update", `{"run_id":"r2","status":"FINISHED","refuse":1}`)
	post("/api/2.0/mlflow/runs/update", `{"run_id":"r3","status":"FAILED"}`)

	snap := p.snapshot()
	counts := snap.requests
	if got := sumCounts(snap.failures); got != 1 {
		t.Errorf("%d failures counted, want 1 (the refused update): %v", got, snap.failures)
	}
	if got := counts["POST /api/2.0/mlflow/runs/update"]; got != 3 {
		t.Errorf("runs/update counted %d times, want 3", got)
	}
	if got := sumCounts(counts); got != 4 {
		t.Errorf("%d requests counted, want 4: %v", got, counts)
	}
	if want := int64(len(`{"run_id":"r1"}`) + len(`{"run_id":"r1","status":"RUNNING"}`) + len(`{"run_id":"r2","status":"FINISHED","refuse":1}`) + len(`{"run_id":"r3","status":"FAILED"}`)); bodies.Load() != want {
		t.Errorf("MLflow received %d body bytes, want %d: the proxy must forward bodies it reads", bodies.Load(), want)
	}
	for _, tt := range []struct {
		run      string
		finished bool
	}{{"r1", false}, {"r2", false}, {"r3", true}} {
		if _, ok := p.finishedAt(tt.run); ok != tt.finished {
			t.Errorf("finishedAt(%s) = %v, want %v", tt.run, ok, tt.finished)
		}
	}
	if inflight, _ := p.activity(); inflight != 0 || snap.inflight != 0 {
		t.Errorf("%d requests in flight after all answered", inflight)
	}
	delta := countsDelta(map[string]int64{"POST /api/2.0/mlflow/runs/update": 1}, counts)
	if delta["POST /api/2.0/mlflow/runs/update"] != 2 || delta["POST /api/2.0/mlflow/runs/log-batch"] != 1 {
		t.Errorf("countsDelta = %v", delta)
	}
}

func TestCountingProxyCountsAnUnreachableMLflowAsFailures(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close() // nothing listens there any more
	p, err := startProxy(url)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	resp, err := http.Post(p.url+"/api/2.0/mlflow/runs/create", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if got := p.snapshot().failures["POST /api/2.0/mlflow/runs/create"]; got != 1 {
		t.Errorf("failures = %d, want 1", got)
	}
}
