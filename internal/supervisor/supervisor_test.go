package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/supervisor/supervisortest"
)

// helperEnv makes the test binary act as a supervisor to be killed (see
// TestChildDiesWithSupervisor).
const helperEnv = "AITRACK_SUPERVISOR_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		runHelper(dir)
		return
	}
	os.Exit(m.Run())
}

// runHelper supervises `sleep`, reports the child's pid and waits to be
// killed.
func runHelper(dir string) {
	s, err := Start(Config{Name: "sleeper", Path: "/bin/sh", Args: []string{"-c", "exec sleep 300"},
		LogPath: filepath.Join(dir, "child.log")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pidFile := filepath.Join(dir, "child.pid")
	if err := os.WriteFile(pidFile+".tmp", []byte(strconv.Itoa(s.Status().PID)), 0o600); err != nil {
		os.Exit(1)
	}
	os.Rename(pidFile+".tmp", pidFile)
	select {}
}

// recordingClock is a fast clock that remembers the waits it was asked for.
type recordingClock struct {
	*supervisortest.FastClock
	mu    sync.Mutex
	waits []time.Duration
}

func (c *recordingClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.FastClock.After(d)
}

func (c *recordingClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// script writes an sh script into a temporary directory and returns a
// Config that runs it with its log there.
func script(t *testing.T, body string) Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "child.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Config{Name: "child", Path: path, Dir: dir, LogPath: filepath.Join(dir, "child.log")}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t *testing.T, cfg Config) *Supervisor {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process group %d to be empty", pgid), 10*time.Second, func() bool {
		live, err := supervisortest.GroupMembers(pgid)
		if err != nil {
			t.Fatal(err)
		}
		return len(live) == 0
	})
}

func TestRestartsAfterCrash(t *testing.T) {
	cfg := script(t, `if [ ! -e crashed ]; then : > crashed; echo "first run: crashing"; exit 3; fi
echo "second run: serving"
exec sleep 300`)
	cfg.Clock = supervisortest.NewFastClock(100)
	s := start(t, cfg)
	first := s.Status().PID

	waitFor(t, "a restarted, running child", 10*time.Second, func() bool {
		st := s.Status()
		return st.State == StateRunning && st.Restarts == 1
	})
	st := s.Status()
	if st.PID == first || !supervisortest.Alive(st.PID) {
		t.Errorf("pid after restart = %d (alive %v), first pid %d: want a new live process", st.PID, supervisortest.Alive(st.PID), first)
	}
	if !strings.Contains(st.LastError, "exit status 3") {
		t.Errorf("LastError = %q, want the first child's exit status 3", st.LastError)
	}
	waitFor(t, "the second run's output", 5*time.Second, func() bool {
		return slices.Contains(s.Status().LastLines, "second run: serving")
	})
	if got := s.Status().LastLines; !slices.Contains(got, "first run: crashing") {
		t.Errorf("LastLines = %q, want the crashed run's output kept", got)
	}
}

func TestFailsAfterRepeatedCrashAtStart(t *testing.T) {
	cfg := script(t, `echo "starting"; echo "error: address already in use" >&2; exit 1`)
	clock := &recordingClock{FastClock: supervisortest.NewFastClock(1000)}
	cfg.Clock = clock
	s := start(t, cfg)

	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("supervisor still running after 20s: %+v", s.Status())
	}
	st := s.Status()
	if st.State != StateFailed || st.PID != 0 {
		t.Errorf("state %s pid %d, want failed with no child", st.State, st.PID)
	}
	if st.Restarts != 5 {
		t.Errorf("restarts = %d, want the default cap of 5", st.Restarts)
	}
	if !strings.Contains(st.LastError, "gave up after 5 restarts") || !strings.Contains(st.LastError, "exit status 1") {
		t.Errorf("LastError = %q, want the give-up reason and the last exit", st.LastError)
	}
	if n := len(st.LastLines); n == 0 || st.LastLines[n-1] != "error: address already in use" {
		t.Errorf("LastLines = %q, want the child's last words at the end", st.LastLines)
	}
	if got, want := clock.recorded(), []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("pauses = %v, want %v", got, want)
	}
	log, err := os.ReadFile(cfg.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "error: address already in use"); n != 6 {
		t.Errorf("log file has the error %d times, want once per start (6):\n%s", n, log)
	}
}

func TestHealthFailureRestarts(t *testing.T) {
	tests := []struct {
		name string
		// healthyFirst: the check passes until the test breaks it.
		healthyFirst bool
		wantErr      string
	}{
		{"never healthy: restarted after the start grace", false, "not healthy within 1m0s"},
		{"healthy, then failing: restarted", true, "failed 3 health checks in a row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := script(t, `exec sleep 300`)
			cfg.Clock = supervisortest.NewFastClock(100)
			var healthy atomic.Bool
			healthy.Store(tt.healthyFirst)
			cfg.Health = func(ctx context.Context) error {
				if healthy.Load() {
					return nil
				}
				return errors.New("no answer")
			}
			s := start(t, cfg)
			first := s.Status().PID
			if tt.healthyFirst {
				waitFor(t, "running", 10*time.Second, func() bool { return s.Status().State == StateRunning })
				healthy.Store(false)
			}
			waitFor(t, "a restart", 10*time.Second, func() bool { return s.Status().Restarts == 1 })
			if st := s.Status(); !strings.Contains(st.LastError, tt.wantErr) || !strings.Contains(st.LastError, "no answer") {
				t.Errorf("LastError = %q, want %q and the check's error", st.LastError, tt.wantErr)
			}
			assertGroupGone(t, first)
		})
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	tests := []struct {
		name, body string
		members    int // processes in the group once it runs
	}{
		{"child obeys SIGTERM", `exec sleep 300`, 1},
		{"child ignores SIGTERM and has a grandchild", `trap '' TERM; sleep 300 & wait`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := script(t, tt.body)
			cfg.Clock = supervisortest.NewFastClock(100)
			s := start(t, cfg)
			pgid := s.Status().PID
			waitFor(t, "the whole group to start", 5*time.Second, func() bool {
				live, _ := supervisortest.GroupMembers(pgid)
				return len(live) == tt.members
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if live, err := supervisortest.GroupMembers(pgid); err != nil || len(live) > 0 {
				t.Errorf("after Stop, group %d still has live processes %v (%v)", pgid, live, err)
			}
			if st := s.Status(); st.State != StateStopped || st.PID != 0 {
				t.Errorf("after Stop: state %s pid %d, want stopped, 0", st.State, st.PID)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"missing executable", Config{Name: "x", Path: filepath.Join(dir, "missing"), LogPath: filepath.Join(dir, "log")}, "no such file"},
		{"not executable", Config{Name: "x", Path: notExec, LogPath: filepath.Join(dir, "log")}, "permission denied"},
		{"no path", Config{Name: "x", LogPath: filepath.Join(dir, "log")}, "no executable"},
		{"log dir missing", Config{Name: "x", Path: "/bin/true", LogPath: filepath.Join(dir, "nodir", "log")}, "open the log of x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(tt.cfg)
			if err == nil {
				s.Stop(context.Background())
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestChildDiesWithSupervisor kills a supervisor (a helper process) with
// SIGKILL, which it cannot catch: the parent-death signal must end its child.
func TestChildDiesWithSupervisor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal exists only on Linux")
	}
	dir := t.TempDir()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+dir)
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { helper.Process.Kill() })
	var pid int
	waitFor(t, "the helper's child pid", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "child.pid"))
		pid, _ = strconv.Atoi(string(b))
		return err == nil
	})
	// Let the helper's runtime move the supervising goroutine around: the
	// child must survive while the supervisor lives.
	time.Sleep(200 * time.Millisecond)
	if !supervisortest.Alive(pid) {
		t.Fatalf("child %d died while its supervisor was alive", pid)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	waitFor(t, fmt.Sprintf("child %d to die with its supervisor", pid), 10*time.Second, func() bool {
		return !supervisortest.Alive(pid)
	})
}

func TestRestartPolicy(t *testing.T) {
	cfg := Config{}
	cfg.setDefaults()
	t0 := time.Unix(1_000_000, 0)
	type exit struct {
		at  time.Duration // since t0
		ran time.Duration
	}
	tests := []struct {
		name   string
		exits  []exit
		pauses []time.Duration // -1: gave up
	}{
		{"crash loop doubles, then gives up",
			[]exit{{0, 0}, {1 * time.Second, 0}, {3 * time.Second, 0}, {7 * time.Second, 0}, {15 * time.Second, 0}, {31 * time.Second, 0}},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, -1}},
		{"pause is capped at a minute",
			[]exit{{0, 0}, {2 * time.Minute, 0}, {4 * time.Minute, 0}, {6 * time.Minute, 0}, {8 * time.Minute, 0}, {10 * time.Minute, 0}, {12 * time.Minute, 0}, {14 * time.Minute, 0}},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}},
		{"a stable run resets the pause",
			[]exit{{0, 0}, {2 * time.Minute, 0}, {20 * time.Minute, 10 * time.Minute}},
			[]time.Duration{time.Second, 2 * time.Second, time.Second}},
		{"restarts older than the window do not count",
			[]exit{{0, 0}, {10 * time.Second, 0}, {20 * time.Second, 0}, {30 * time.Second, 0}, {40 * time.Second, 0}, {65 * time.Second, 0}},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRestartPolicy(cfg)
			var got []time.Duration
			for _, e := range tt.exits {
				pause, ok := p.next(t0.Add(e.at), e.ran)
				if !ok {
					pause = -1
				}
				got = append(got, pause)
			}
			if !slices.Equal(got, tt.pauses) {
				t.Errorf("pauses = %v, want %v", got, tt.pauses)
			}
		})
	}
}
