// Package e2e proves the whole path with real parts: the three aitrack
// binaries as built for users, a real MLflow server, and programs running
// in a real PTY that the test drives as the user's terminal.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/cli"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/mlflowtest"
	"github.com/creack/pty"
)

var (
	mlflow *mlflowtest.Server
	binDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "aitrack-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = filepath.Join(dir, "bin")
	args := []string{"build", "-o", binDir + "/"}
	if raceFlag != "" {
		args = append(args, raceFlag)
	}
	build := exec.Command("go", append(args, "github.com/aitrack/aitrack/cmd/...")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		return 1
	}
	mlDir := filepath.Join(dir, "mlflow")
	os.Mkdir(mlDir, 0o700)
	mlflow, err = mlflowtest.Start(context.Background(), mlDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start MLflow:", err)
		return 1
	}
	defer mlflow.Stop()
	return m.Run()
}

// env is a private aitrack world: its own socket and state directory.
type env struct {
	t          *testing.T
	dir        string
	socket     string
	stateDir   string
	experiment string
	vars       []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// Short: a socket path must fit in 104 bytes.
	dir, err := os.MkdirTemp("", "at")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &env{t: t, dir: dir, socket: filepath.Join(dir, "run", "d.sock"), stateDir: filepath.Join(dir, "state"),
		experiment: "e2e-" + strings.ReplaceAll(t.Name(), "/", "-")}
	e.vars = append(os.Environ(),
		"AITRACK_SOCKET="+e.socket,
		"AITRACK_STATE_DIR="+e.stateDir,
		"MLFLOW_TRACKING_URI="+mlflow.URI,
		"AITRACK_EXPERIMENT="+e.experiment,
		"TERM=xterm-256color",
		"AITRACK_CONFIG="+filepath.Join(dir, "config.toml"),
		"PATH="+binDir+":"+os.Getenv("PATH"),
	)
	return e
}

// config writes the world's config file.
func (e *env) config(body string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, "config.toml"), []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// run runs a command to completion and fails the test when it fails.
func (e *env) run(argv ...string) string {
	e.t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = e.vars, e.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return string(out)
}

// with returns the same world for a subtest.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) bin(name string) string { return filepath.Join(binDir, name) }

// daemon is a running aitrackd.
type daemon struct {
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan error
}

func (e *env) startDaemon() *daemon {
	e.t.Helper()
	cmd := exec.Command(e.bin("aitrackd"), "--mlflow-ui=false")
	cmd.Env = e.vars
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	d := &daemon{cmd: cmd, log: &log.b, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	e.t.Cleanup(func() {
		d.stop()
		if e.t.Failed() {
			e.t.Logf("aitrackd log:\n%s", log.String())
		}
	})
	e.eventually(10*time.Second, "aitrackd answers", func() error {
		_, err := cli.FetchStatus(context.Background(), e.socket)
		return err
	})
	return d
}

func (d *daemon) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// session is a command running in a PTY that the test drives.
type session struct {
	cmd    *exec.Cmd
	pty    *os.File
	out    syncBuffer
	readed chan struct{}
	done   chan struct{}
	code   int
}

// startPTY runs argv with the PTY's slave as its terminal.
func (e *env) startPTY(dir string, argv ...string) *session {
	e.t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = e.vars
	cmd.Dir = dir
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		e.t.Fatal(err)
	}
	s := &session{cmd: cmd, pty: f, readed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		io.Copy(&s.out, f) // ends with EIO once the slave side is gone
		close(s.readed)
	}()
	go func() {
		err := cmd.Wait()
		s.code = exitCode(err)
		<-s.readed
		f.Close()
		close(s.done)
	}()
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	return s
}

func (s *session) wait(t *testing.T, timeout time.Duration) (string, int) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("session did not end within %s; output so far:\n%s", timeout, s.out.String())
	}
	return s.out.String(), s.code
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func (e *env) eventually(timeout time.Duration, what string, f func() error) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) client() *mlflowclient.Client {
	c, err := mlflowclient.New(mlflowclient.Config{TrackingURI: mlflow.URI})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// finishedRun waits for the session's run to reach a terminal status, found
// through MLflow's own search as a user would.
func (e *env) finishedRun(filter string, timeout time.Duration) mlflowclient.Run {
	e.t.Helper()
	c := e.client()
	ctx := context.Background()
	var run mlflowclient.Run
	e.eventually(timeout, "run finished in MLflow", func() error {
		expID, err := c.GetOrCreateExperiment(ctx, e.experiment)
		if err != nil {
			return err
		}
		runs, err := c.SearchRuns(ctx, mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: filter})
		if err != nil {
			return err
		}
		if len(runs) != 1 {
			return fmt.Errorf("%d runs match %q", len(runs), filter)
		}
		if runs[0].Info.Status == "RUNNING" {
			return errors.New("run still RUNNING")
		}
		run = runs[0]
		return nil
	})
	return run
}

func (e *env) artifact(run mlflowclient.Run, name string) string {
	e.t.Helper()
	rc, err := e.client().DownloadArtifact(context.Background(), run.Info.ArtifactURI, name)
	if err != nil {
		e.t.Fatalf("download %s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) status() cli.StatusJSON {
	e.t.Helper()
	st, err := e.tryStatus()
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// tryStatus is `aitrack status --json`, for polling a daemon that may not
// answer yet.
func (e *env) tryStatus() (cli.StatusJSON, error) {
	var st cli.StatusJSON
	cmd := exec.Command(e.bin("aitrack"), "status", "--json")
	cmd.Env = e.vars
	out, err := cmd.Output()
	if err != nil {
		return st, fmt.Errorf("aitrack status --json: %w", err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("status JSON: %w\n%s", err, out)
	}
	return st, nil
}

func errAbsent(st cli.StatusJSON) error {
	b, _ := json.Marshal(st.Sessions)
	return fmt.Errorf("sessions: %s", b)
}

// assertPrivate checks that nothing the daemon and the wrappers left in the
// state directory can be read by anyone but the user.
func (e *env) assertPrivate() {
	e.t.Helper()
	filepath.Walk(e.stateDir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if fi.Mode().Perm()&0o077 != 0 && fi.Mode()&os.ModeSymlink == 0 {
			e.t.Errorf("%s has mode %o: others can read it", path, fi.Mode().Perm())
		}
		return nil
	})
}
