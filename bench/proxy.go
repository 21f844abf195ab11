package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// countingProxy sits between aitrackd and MLflow and counts the requests
// that pass and the ones that fail (an error status, or no answer), by
// endpoint. It also notes when MLflow confirmed each run's terminal
// status, which is the end of a session's delivery.
type countingProxy struct {
	srv *http.Server
	url string

	mu        sync.Mutex
	counts    map[string]int64
	failures  map[string]int64
	inflight  int
	lastStart time.Time
	finished  map[string]time.Time // run ID → when MLflow answered the terminal runs/update
}

func startProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("MLflow URI %q: %w", target, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("counting proxy: %w", err)
	}
	p := &countingProxy{
		url:      "http://" + l.Addr().String(),
		counts:   map[string]int64{},
		failures: map[string]int64{},
		finished: map[string]time.Time{},
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
		// The daemon sees the 502 and retries; the harness's output
		// is no place for it.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: time.Minute}
	go p.srv.Serve(l)
	return p, nil
}

func (p *countingProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint := endpointOf(r.Method, r.URL.Path)
		p.mu.Lock()
		p.counts[endpoint]++
		p.inflight++
		p.lastStart = time.Now()
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.inflight--
			p.mu.Unlock()
		}()
		runID := terminalRunUpdate(r)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		// An unreachable MLflow is answered 502 by the reverse proxy.
		next.ServeHTTP(rec, r)
		p.mu.Lock()
		defer p.mu.Unlock()
		if rec.status >= 400 {
			p.failures[endpoint]++
		}
		if _, seen := p.finished[runID]; runID != "" && rec.status == http.StatusOK && !seen {
			p.finished[runID] = time.Now()
		}
	})
}

// terminalRunUpdate returns the run ID when r sets a run's terminal status,
// leaving r's body readable.
func terminalRunUpdate(r *http.Request) string {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/mlflow/runs/update") {
		return ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	var u struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &u) != nil {
		return ""
	}
	switch u.Status {
	case "FINISHED", "FAILED", "KILLED":
		return u.RunID
	}
	return ""
}

// endpointOf names the MLflow endpoint of a request, dropping the run and
// file parts of artifact paths.
func endpointOf(method, path string) string {
	const artifacts = "/mlflow-artifacts/artifacts/"
	if i := strings.Index(path, artifacts); i >= 0 {
		path = path[:i+len(artifacts)-1]
	}
	return method + " " + path
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// proxyCounts are the proxy's counters at one moment.
type proxyCounts struct {
	requests, failures map[string]int64
	inflight           int
}

func (p *countingProxy) snapshot() proxyCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return proxyCounts{requests: maps.Clone(p.counts), failures: maps.Clone(p.failures), inflight: p.inflight}
}

func (p *countingProxy) activity() (inflight int, lastStart time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight, p.lastStart
}

func (p *countingProxy) finishedAt(runID string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.finished[runID]
	return t, ok
}

func (p *countingProxy) close() error {
	if err := p.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// countsDelta is after minus before, per endpoint, without zero entries.
func countsDelta(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
