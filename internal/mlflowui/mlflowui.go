// Package mlflowui runs the local MLflow tracking server (the "MLflow UI")
// for aitrackd when the tracking URI points at this machine and no MLflow
// answers there yet: `mlflow server` with a sqlite store and proxied
// artifacts under the daemon's state directory, kept alive by a supervisor
// (restarted with backoff when it dies or stops answering GET /health).
//
// It never starts anything for a remote tracking URI and never manages an
// MLflow it did not start. It is not an MLflow client (see mlflowclient).
package mlflowui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aitrack/aitrack/internal/supervisor"
	"go.uber.org/zap"
)

// StartGrace is how long a new MLflow server may take to answer /health:
// a first start imports MLflow and migrates a fresh sqlite database, which
// takes tens of seconds on a busy laptop.
const StartGrace = 90 * time.Second

// State says what the local MLflow UI is doing.
type State string

const (
	// StateOff: Start was not called (the daemon runs without a UI).
	StateOff State = "off"
	// StateRemote: the tracking URI is not on this machine; nothing to run.
	StateRemote State = "remote"
	// StateExternal: a healthy MLflow already answered at the tracking URI
	// when Start was called; it is used, not managed.
	StateExternal State = "external"
	// The states of a server this package runs (see package supervisor).
	StateStarting = State(supervisor.StateStarting)
	StateRunning  = State(supervisor.StateRunning)
	StateBackoff  = State(supervisor.StateBackoff)
	StateFailed   = State(supervisor.StateFailed)
	StateStopped  = State(supervisor.StateStopped)
)

// Config says which MLflow to run and where.
type Config struct {
	// Binary is the mlflow executable: a path, or a name looked up on PATH;
	// "" means "mlflow" on PATH. A configured path is used as given, never
	// replaced by another mlflow.
	Binary string
	// TrackingURI is where the daemon sends runs, e.g. http://127.0.0.1:5000.
	TrackingURI string
	// Dir holds the database (mlflow.db), the artifacts and the log
	// (mlflow.log); it is created if needed.
	Dir string
	// Log defaults to a no-op logger; Clock to the system clock (tests
	// speed it up).
	Log   *zap.Logger
	Clock supervisor.Clock
}

// Status is what `aitrack status` shows about the UI.
type Status struct {
	State State
	// URL is the tracking URI, where the UI is served.
	URL string
	// PID is the server's pid (and process group); 0 when none runs.
	PID      int
	Restarts int
	// LastError says why the server is not running, or why it was last
	// restarted.
	LastError string
	// LastLines are the server's most recent output lines.
	LastLines []string
	// LogPath is the server's full log; "" when this package runs nothing.
	LogPath string
	Since   time.Time
}

// Server is the local MLflow UI of one daemon.
type Server struct {
	cfg  Config
	http *http.Client

	mu      sync.Mutex
	started bool
	state   State // when sup is nil
	lastErr string
	since   time.Time
	sup     *supervisor.Supervisor
	logPath string
}

// New returns a Server in StateOff; nothing runs until Start.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = supervisor.SystemClock{}
	}
	return &Server{cfg: cfg, http: &http.Client{}, state: StateOff, since: cfg.Clock.Now()}
}

// Start runs `mlflow server` on the tracking URI's host and port when that
// URI is a loopback http URI and no healthy MLflow answers there; otherwise
// it only records why not (StateRemote, StateExternal) and returns nil. It
// does not wait for the new server to become healthy: the daemon records
// meanwhile. An error means the server could not be started (mlflow not
// installed, port taken by another program); the daemon keeps recording,
// and Status reports the error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("the local MLflow UI was already started")
	}
	s.started = true
	s.mu.Unlock()

	state, sup, logPath, err := s.start(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.sup, s.logPath, s.since = state, sup, logPath, s.cfg.Clock.Now()
	if err != nil {
		s.lastErr = err.Error()
	}
	return err
}

// start does Start's work without holding the lock, so that Status
// answers meanwhile.
func (s *Server) start(ctx context.Context) (State, *supervisor.Supervisor, string, error) {
	host, port, ok := local(s.cfg.TrackingURI)
	if !ok {
		return StateRemote, nil, "", nil
	}
	if s.checkHealth(ctx) == nil {
		return StateExternal, nil, "", nil
	}
	sup, logPath, err := s.startServer(host, port)
	if err != nil {
		return StateFailed, nil, "", err
	}
	return StateStarting, sup, logPath, nil
}

func (s *Server) startServer(host, port string) (*supervisor.Supervisor, string, error) {
	bin := s.cfg.Binary
	if bin == "" {
		bin = "mlflow"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, "", fmt.Errorf("cannot start the local MLflow UI: %w. Install MLflow (`pipx install mlflow`, or `python3 -m pip install --user mlflow`) "+
			"or give aitrackd the path of an mlflow executable (--mlflow-bin or AITRACK_MLFLOW); sessions are kept and delivered once MLflow answers at %s",
			err, s.cfg.TrackingURI)
	}
	// Checked before starting so the user gets a clear error instead of a
	// crash loop of "address already in use".
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, "", fmt.Errorf("cannot start the local MLflow UI: %s is taken by a program that does not answer GET /health with OK "+
			"(not MLflow, or an MLflow still starting; on macOS, port 5000 belongs to AirPlay Receiver). "+
			"Free the port, or set MLFLOW_TRACKING_URI to another one such as http://127.0.0.1:5001: %w", net.JoinHostPort(host, port), err)
	}
	l.Close()
	dir, err := filepath.Abs(s.cfg.Dir)
	if err == nil {
		err = os.MkdirAll(filepath.Join(dir, "artifacts"), 0o700)
	}
	if err != nil {
		return nil, "", fmt.Errorf("cannot start the local MLflow UI: its directory: %w", err)
	}
	logPath := filepath.Join(dir, "mlflow.log")
	sup, err := supervisor.Start(supervisor.Config{
		Name: "mlflow",
		Path: path,
		Args: serverArgs(host, port, dir),
		Dir:  dir,
		Env:  serverEnv(os.Environ()),
		// One file, appended to across restarts and daemon runs.
		LogPath:    logPath,
		Health:     s.checkHealth,
		StartGrace: StartGrace,
		Clock:      s.cfg.Clock,
		Log:        s.cfg.Log,
	})
	return sup, logPath, err
}

// serverArgs is the `mlflow server` command line. One uvicorn worker: the
// UI has one user, and each worker is a Python process of ~240 MB RSS
// (measured with MLflow 3.17.2: 4 workers, the default, ~2.4 GB in all).
func serverArgs(host, port, dir string) []string {
	return []string{"server",
		"--host", host, "--port", port,
		"--workers", "1",
		"--backend-store-uri", "sqlite:///" + filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "artifacts"),
	}
}

// jobExecutionEnv turns off MLflow's job runner unless the user set it: it
// serves the GenAI judge/optimization features, which aitrack does not use,
// with eight more Python processes (~620 MB RSS with MLflow 3.17.2).
const jobExecutionEnv = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"

func serverEnv(environ []string) []string {
	for _, kv := range environ {
		if strings.HasPrefix(kv, jobExecutionEnv+"=") {
			return environ
		}
	}
	return append(environ[:len(environ):len(environ)], jobExecutionEnv+"=false")
}

// Status reports the UI's state.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sup == nil {
		return Status{State: s.state, URL: s.cfg.TrackingURI, LastError: s.lastErr, Since: s.since}
	}
	st := s.sup.Status()
	return Status{
		State: State(st.State), URL: s.cfg.TrackingURI, PID: st.PID, Restarts: st.Restarts,
		LastError: st.LastError, LastLines: st.LastLines, Since: st.Since, LogPath: s.logPath,
	}
}

// Stop stops the server this package started, if any (SIGTERM to its
// process group, SIGKILL after 10 s), and waits for it until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	sup := s.sup
	s.mu.Unlock()
	if sup == nil {
		return nil
	}
	return sup.Stop(ctx)
}

// local reports whether the tracking URI is an http URI on a loopback
// address, and returns its host and port.
func local(trackingURI string) (host, port string, ok bool) {
	u, err := url.Parse(trackingURI)
	if err != nil || u.Scheme != "http" {
		return "", "", false
	}
	host, port = u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	if host == "localhost" {
		return host, port, true
	}
	ip := net.ParseIP(host)
	return host, port, ip != nil && ip.IsLoopback()
}

// checkHealth asks GET /health for "OK": an open port is not enough (on
// macOS, port 5000 belongs to AirPlay Receiver, which answers 403).
func (s *Server) checkHealth(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := strings.TrimRight(s.cfg.TrackingURI, "/") + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "OK" {
		return fmt.Errorf("GET %s: %s %q, want 200 \"OK\"", u, resp.Status, b)
	}
	return nil
}
