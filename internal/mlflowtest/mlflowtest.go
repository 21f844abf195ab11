// Package mlflowtest starts a real MLflow tracking server for tests.
//
// Starting MLflow takes 10–60 s, so a test package starts one server in its
// TestMain and shares it between its tests; each test isolates itself with
// its own experiment. The server is the real one, pip-installed into the
// project's virtualenv by `make test`; nothing here fakes MLflow.
//
// It is not for production use: aitrackd supervises its own MLflow.
package mlflowtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Server is a running MLflow tracking server.
type Server struct {
	// URI is the tracking URI, e.g. http://127.0.0.1:41234.
	URI string
	// Dir holds the backend store, the artifacts and the server's log.
	Dir string
	// Args are the extra arguments it was started with.
	Args []string

	mlflow  string
	port    int
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// Binary finds the mlflow executable: $AITRACK_TEST_MLFLOW, then the
// project's .venv, then PATH.
func Binary() (string, error) {
	if p := os.Getenv("AITRACK_TEST_MLFLOW"); p != "" {
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".venv", "bin", "mlflow")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("mlflow")
	if err != nil {
		return "", errors.New("mlflow not found: run `make test` (it installs MLflow into .venv) or set AITRACK_TEST_MLFLOW")
	}
	return p, nil
}

// RepoRoot walks up from the working directory to the module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory: run this inside the aitrack repository")
		}
		dir = parent
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts a server with a sqlite backend and proxied artifacts under
// dir, and waits until it is healthy. extraArgs are appended to
// `mlflow server` (e.g. "--app-name", "basic-auth").
func Start(ctx context.Context, dir string, extraArgs ...string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		URI:     fmt.Sprintf("http://127.0.0.1:%d", port),
		Dir:     dir,
		Args:    extraArgs,
		mlflow:  bin,
		port:    port,
		logPath: filepath.Join(dir, "mlflow.log"),
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	if err := s.WaitHealthy(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{
		"server",
		"--host", "127.0.0.1",
		"--port", fmt.Sprint(s.port),
		"--workers", "1",
		"--backend-store-uri", "sqlite:///" + filepath.Join(s.Dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(s.Dir, "mlartifacts"),
	}, s.Args...)
	cmd := exec.Command(s.mlflow, args...)
	cmd.Dir = s.Dir
	// The job runner serves GenAI evaluation features aitrack never uses;
	// without it the server starts faster and takes half the memory.
	cmd.Env = append(os.Environ(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false")
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.mlflow, err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	return nil
}

// WaitHealthy polls /health until it answers OK.
func (s *Server) WaitHealthy(ctx context.Context) error {
	// A first start creates the database; on a loaded 2-core machine that
	// alone has taken 50 s.
	ctx, cancel := context.WithTimeout(ctx, 240*time.Second)
	defer cancel()
	for {
		if Healthy(ctx, s.URI) {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("mlflow server exited before it was healthy; log:\n%s", s.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("mlflow server not healthy at %s: %w; log:\n%s", s.URI, ctx.Err(), s.LogTail())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Healthy reports whether GET uri/health answers OK.
func Healthy(ctx context.Context, uri string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, uri+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(b)) == "OK"
}

// Stop kills the server's process group and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// Restart stops the server and starts it again on the same port and store.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	if err := s.start(); err != nil {
		return err
	}
	return s.WaitHealthy(ctx)
}

// LogTail returns the last lines of the server's log.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
