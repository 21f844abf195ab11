package mlflowui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowtest"
	"github.com/aitrack/aitrack/internal/supervisor/supervisortest"
)

// realServer is the package's one real MLflow, run by the code under test
// and started in TestMain; nil with -short.
var realServer *Server

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	bin, err := mlflowtest.Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "the real-MLflow tests need mlflow (use -short to skip them):", err)
		return 1
	}
	port, err := mlflowtest.FreePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "mlflowui-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	realServer = New(Config{Binary: bin, TrackingURI: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir})
	if err := realServer.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "start the local MLflow UI:", err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		realServer.Stop(ctx)
	}()
	return m.Run()
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool, status func() Status) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			st := status()
			t.Fatalf("timed out after %s waiting for %s; status %s, last error %q, last lines:\n%s",
				timeout, what, st.State, st.LastError, strings.Join(st.LastLines, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRealServer follows the package's real MLflow through its life; each
// step needs the previous one.
func TestRealServer(t *testing.T) {
	if realServer == nil {
		t.Skip("real MLflow tests are skipped with -short")
	}
	s := realServer
	running := func() bool { return s.Status().State == StateRunning }

	ok := t.Run("reaches running", func(t *testing.T) {
		waitFor(t, "running", 3*time.Minute, running, s.Status)
		if err := s.checkHealth(t.Context()); err != nil {
			t.Fatal(err)
		}
		st := s.Status()
		if _, err := os.Stat(filepath.Join(s.cfg.Dir, "mlflow.db")); err != nil {
			t.Errorf("no sqlite store in the state directory: %v", err)
		}
		if runtime.GOOS == "linux" {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.PID))
			if !strings.Contains(string(cmdline), "--workers\x001\x00") {
				t.Errorf("server command line %q lacks --workers 1", cmdline)
			}
			// The server and its one uvicorn worker; no job runner.
			if live, _ := supervisortest.GroupMembers(st.PID); len(live) != 2 {
				t.Errorf("server group has %d processes %v, want 2", len(live), live)
			}
		}
	})
	if !ok {
		return
	}
	ok = t.Run("a healthy MLflow already there is used, not started", func(t *testing.T) {
		dir := t.TempDir()
		other := New(Config{Binary: filepath.Join(dir, "no-mlflow"), TrackingURI: s.cfg.TrackingURI, Dir: dir})
		if err := other.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if st := other.Status(); st.State != StateExternal || st.PID != 0 {
			t.Errorf("state %s pid %d, want external and no process", st.State, st.PID)
		}
		if err := other.Stop(t.Context()); err != nil {
			t.Error(err)
		}
		if err := s.checkHealth(t.Context()); err != nil {
			t.Errorf("stopping the second Server touched the first one's MLflow: %v", err)
		}
	})
	if !ok {
		return
	}
	ok = t.Run("restarted after SIGKILL of its group", func(t *testing.T) {
		old := s.Status()
		if err := syscall.Kill(-old.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a restarted server", 3*time.Minute, func() bool {
			st := s.Status()
			return st.State == StateRunning && st.Restarts == old.Restarts+1 && st.PID != old.PID
		}, s.Status)
		if err := s.checkHealth(t.Context()); err != nil {
			t.Fatal(err)
		}
		if live, _ := supervisortest.GroupMembers(old.PID); len(live) > 0 {
			t.Errorf("killed group %d still has live processes %v", old.PID, live)
		}
		if st := s.Status(); !strings.Contains(st.LastError, "signal: killed") {
			t.Errorf("LastError = %q, want the kill", st.LastError)
		}
	})
	if !ok {
		return
	}
	t.Run("Stop leaves no mlflow process", func(t *testing.T) {
		pid := s.Status().PID
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if live, _ := supervisortest.GroupMembers(pid); len(live) > 0 {
			t.Errorf("group %d still has live processes %v", pid, live)
		}
		if st := s.Status(); st.State != StateStopped || st.PID != 0 {
			t.Errorf("state %s pid %d, want stopped, 0", st.State, st.PID)
		}
		if err := s.checkHealth(t.Context()); err == nil {
			t.Error("MLflow still answers after Stop")
		}
	})
}

func freeLoopbackURI(t *testing.T) string {
	t.Helper()
	port, err := mlflowtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func TestCrashingMLflowFails(t *testing.T) {
	bin, err := filepath.Abs("testdata/crashing-mlflow")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	uri := freeLoopbackURI(t)
	// 10×: a health poll (1 s, 100 ms real) outlasts the fake's real life,
	// so each crash costs about one clock second besides the pauses.
	s := New(Config{Binary: bin, TrackingURI: uri, Dir: dir, Clock: supervisortest.NewFastClock(10)})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	waitFor(t, "failed", 30*time.Second, func() bool { return s.Status().State == StateFailed }, s.Status)

	st := s.Status()
	if !strings.Contains(st.LastError, "gave up after 5 restarts") {
		t.Errorf("LastError = %q, want the supervisor giving up", st.LastError)
	}
	if n := len(st.LastLines); n == 0 || st.LastLines[n-1] != "Error: this MLflow cannot start" {
		t.Errorf("LastLines = %q, want the fake mlflow's error last", st.LastLines)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(uri, "http://"))
	wantArgv := "fake mlflow server --host 127.0.0.1 --port " + port + " --workers 1 --backend-store-uri sqlite:///" +
		filepath.Join(dir, "mlflow.db") + " --artifacts-destination " + filepath.Join(dir, "artifacts")
	if !slices.Contains(st.LastLines, wantArgv) {
		t.Errorf("LastLines = %q, want the command line %q", st.LastLines, wantArgv)
	}
	if log, err := os.ReadFile(st.LogPath); err != nil || !strings.Contains(string(log), "Error: this MLflow cannot start") {
		t.Errorf("log %s: %v, %q; want the fake's output", st.LogPath, err, log)
	}
}

func TestStartWithoutRunning(t *testing.T) {
	airplay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // what macOS AirPlay Receiver answers on :5000
	}))
	defer airplay.Close()
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			fmt.Fprint(w, "OK")
		}
	}))
	defer healthy.Close()
	crashing, err := filepath.Abs("testdata/crashing-mlflow")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, binary, uri string
		wantState         State
		wantErr           string
	}{
		{"https is remote", crashing, "https://mlflow.example.com", StateRemote, ""},
		{"LAN address is remote", crashing, "http://10.1.2.3:5000", StateRemote, ""},
		{"databricks is remote", crashing, "databricks", StateRemote, ""},
		{"healthy MLflow is external", crashing, healthy.URL, StateExternal, ""},
		{"missing mlflow", filepath.Join(t.TempDir(), "no-mlflow"), freeLoopbackURI(t), StateFailed, "Install MLflow"},
		{"port taken by a 403 answerer", crashing, airplay.URL, StateFailed, "is taken by a program that does not answer GET /health with OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := New(Config{Binary: tt.binary, TrackingURI: tt.uri, Dir: dir})
			if st := s.Status(); st.State != StateOff {
				t.Errorf("before Start: state %s, want off", st.State)
			}
			err := s.Start(t.Context())
			defer s.Stop(context.Background())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Start error = %v, want %q", err, tt.wantErr)
			}
			st := s.Status()
			if st.State != tt.wantState || st.PID != 0 || st.URL != tt.uri {
				t.Errorf("status %+v, want state %s, no process, URL %s", st, tt.wantState, tt.uri)
			}
			if err != nil && st.LastError != err.Error() {
				t.Errorf("LastError = %q, want the Start error", st.LastError)
			}
			if _, err := os.Stat(filepath.Join(dir, "mlflow.log")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a server was started (log: %v)", err)
			}
			if err := s.Start(t.Context()); err == nil {
				t.Error("a second Start succeeded")
			}
		})
	}
}

func TestLocal(t *testing.T) {
	tests := []struct {
		uri, host, port string
		ok              bool
	}{
		{"http://127.0.0.1:5000", "127.0.0.1", "5000", true},
		{"http://localhost:5001/", "localhost", "5001", true},
		{"http://[::1]:5000", "::1", "5000", true},
		{"http://127.0.0.2", "127.0.0.2", "80", true},
		{"https://127.0.0.1:5000", "", "", false},
		{"http://192.168.1.5:5000", "", "", false},
		{"http://mlflow.internal:5000", "", "", false},
		{"databricks", "", "", false},
		{"file:///tmp/mlruns", "", "", false},
		{"::", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			host, port, ok := local(tt.uri)
			if ok != tt.ok || ok && (host != tt.host || port != tt.port) {
				t.Errorf("local(%q) = %q, %q, %v; want %q, %q, %v", tt.uri, host, port, ok, tt.host, tt.port, tt.ok)
			}
		})
	}
}

func FuzzLocal(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:5000", "http://localhost", "http://[::1]:1", "https://x", "http://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		host, port, ok := local(uri)
		if !ok {
			return
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("local(%q) accepted non-loopback host %q", uri, host)
		}
		if port == "" || !strings.HasPrefix(uri, "http:") {
			t.Fatalf("local(%q) = %q, %q: want an http URI with a port", uri, host, port)
		}
	})
}

func TestServerEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"job runner off by default", []string{"HOME=/h"}, []string{"HOME=/h", jobExecutionEnv + "=false"}},
		{"the user's choice is kept", []string{jobExecutionEnv + "=true", "HOME=/h"}, []string{jobExecutionEnv + "=true", "HOME=/h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.environ)
			if got := serverEnv(in); !slices.Equal(got, tt.want) {
				t.Errorf("serverEnv = %q, want %q", got, tt.want)
			}
			if !slices.Equal(in, tt.environ) {
				t.Errorf("serverEnv modified its input: %q", in)
			}
		})
	}
}
