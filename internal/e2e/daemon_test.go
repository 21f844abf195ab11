package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowtest"
	"github.com/creack/pty"
)

// One daemon per state directory: a second one refuses, naming the first.
func TestSecondDaemonRefuses(t *testing.T) {
	e := newEnv(t)
	first := e.startDaemon()
	other := e.vars
	// Another socket, the same state directory.
	other = append(other, "AITRACK_SOCKET="+filepath.Join(e.dir, "other.sock"))
	cmd := exec.Command(e.bin("aitrackd"), "--mlflow-ui=false")
	cmd.Env = other
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a second daemon started:\n%s", out)
	}
	want := fmt.Sprintf("pid %d", first.cmd.Process.Pid)
	if !strings.Contains(string(out), "already running") || !strings.Contains(string(out), want) || !strings.Contains(string(out), e.socket) {
		t.Errorf("second daemon said %q; want it to name %s and %s", out, want, e.socket)
	}
}

// The daemon starts a local MLflow UI when nothing answers at a local
// tracking URI, and takes it down with it on SIGTERM.
func TestDaemonRunsAndStopsMLflowUI(t *testing.T) {
	e := newEnv(t)
	port, err := mlflowtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := mlflowtest.Binary()
	uri := fmt.Sprintf("http://127.0.0.1:%d", port)
	e.vars = append(e.vars, "MLFLOW_TRACKING_URI="+uri, "AITRACK_MLFLOW="+bin)
	cmd := exec.Command(e.bin("aitrackd"), "--mlflow-ui=true")
	cmd.Env = e.vars
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("aitrackd log:\n%s", log.String())
		}
	}()
	var pid int64
	e.eventually(240*time.Second, "local MLflow running", func() error {
		st, err := e.tryStatus()
		if err != nil {
			return err
		}
		if st.MLflowUI == nil || st.MLflowUI.State != "running" || !st.TrackingReachable {
			return fmt.Errorf("ui %+v, reachable %v", st.MLflowUI, st.TrackingReachable)
		}
		pid = st.MLflowUI.PID
		return nil
	})
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("aitrackd exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("aitrackd did not stop within 60 s of SIGTERM")
	}
	// Neither the server nor any process of its group may remain.
	if err := syscall.Kill(int(pid), 0); err == nil && !zombie(int(pid)) {
		t.Errorf("mlflow server pid %d still alive", pid)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), fmt.Sprintf("%d", port)) && strings.Contains(string(b), "mlflow") && !zombie(pidOf(p)) {
			t.Errorf("left behind: %s %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

func pidOf(cmdlinePath string) int {
	var pid int
	fmt.Sscanf(filepath.Base(filepath.Dir(cmdlinePath)), "%d", &pid)
	return pid
}

// zombie reports a dead process not yet reaped (this container's init
// never reaps orphans).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// Old recordings become runs, once each however often they are imported.
func TestImportRecordings(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	var files [][]string // argv tails for aitrack import
	ts := filepath.Join(e.dir, "session.ts")
	tm := filepath.Join(e.dir, "session.tm")
	recordInPTY(t, e.dir, "script", "-q", "-e", "-c", "echo '$ git status'; echo imported-from-script; exit 2", "-T", tm, "-m", "advanced", "-O", ts)
	files = append(files, []string{"--timing", tm, ts})
	if _, err := exec.LookPath("asciinema"); err == nil {
		cast := filepath.Join(e.dir, "session.cast")
		recordInPTY(t, e.dir, "asciinema", "rec", "-q", "-c", "echo imported-from-asciinema", cast)
		files = append(files, []string{cast})
	} else {
		t.Log("asciinema not installed: only the typescript is imported")
	}
	for round := range 2 {
		for _, f := range files {
			out := e.run(append([]string{e.bin("aitrack"), "import"}, f...)...)
			if !strings.Contains(out, "session import-") {
				t.Fatalf("round %d: import said %q", round, out)
			}
		}
	}
	e.eventually(60*time.Second, "one run per recording", func() error {
		runs, err := e.runsOf(`attributes.status != "RUNNING"`)
		if err == nil && len(runs) != len(files) {
			err = fmt.Errorf("%d runs for %d recordings", len(runs), len(files))
		}
		return err
	})
	runs, _ := e.runsOf(`tags.aitrack.imported_from = "` + ts + `"`)
	if len(runs) != 1 {
		t.Fatalf("%d runs for the typescript", len(runs))
	}
	r := runs[0]
	if m, _ := r.Metric("exit_code"); m.Value != 2 || r.Info.Status != "FAILED" {
		t.Errorf("typescript run: exit_code %v, status %s", m.Value, r.Info.Status)
	}
	if m, _ := r.Metric("commands_executed"); m.Value != 1 {
		t.Errorf("typescript run: commands_executed %v", m.Value)
	}
	if !strings.Contains(e.artifact(r, "transcript.txt"), "imported-from-script") {
		t.Error("typescript transcript lacks its output")
	}
	time.Sleep(3 * time.Second) // a third import must still add nothing
	e.run(append([]string{e.bin("aitrack"), "import"}, files[0]...)...)
	if runs, _ := e.runsOf(""); len(runs) != len(files) {
		t.Errorf("%d runs after re-importing", len(runs))
	}
}

// recordInPTY runs a recorder in a PTY, as a user would.
func recordInPTY(t *testing.T, dir string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 4096)
		for {
			if _, err := f.Read(b); err != nil {
				return
			}
		}
	}()
	cmd.Wait()
	f.Close()
}
