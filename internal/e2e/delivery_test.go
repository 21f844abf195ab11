package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/mlflowtest"
)

// restartMLflow brings the shared server back if a test left it down.
func restartMLflow(t *testing.T) {
	t.Cleanup(func() {
		if !mlflowtest.Healthy(context.Background(), mlflow.URI) {
			if err := mlflow.Restart(context.Background()); err != nil {
				t.Errorf("restart MLflow: %v", err)
			}
		}
	})
}

// runsOf returns every run of the world's experiment matching filter.
func (e *env) runsOf(filter string) ([]mlflowclient.Run, error) {
	c := e.client()
	ctx := context.Background()
	expID, err := c.GetOrCreateExperiment(ctx, e.experiment)
	if err != nil {
		return nil, err
	}
	return c.SearchRuns(ctx, mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: filter})
}

func mlflowPost(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(mlflow.URI+"/api/2.0/mlflow/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %s %s", path, resp.Status, msg)
	}
}

// MLflow down when the session starts and for its whole length: the run
// appears complete, exactly once, when MLflow comes back.
func TestMLflowDownForWholeSession(t *testing.T) {
	e := newEnv(t)
	restartMLflow(t)
	e.startDaemon()
	mlflow.Stop()
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=mlflow-down", "--", "sh", "-c", twelveCommands)
	if _, code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	st := e.status()
	if st.TrackingReachable || st.PendingSessions != 1 {
		t.Errorf("status while MLflow is down: reachable %v, pending %d", st.TrackingReachable, st.PendingSessions)
	}
	if err := mlflow.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	run := e.finishedRun(`params.scenario = "mlflow-down"`, 90*time.Second)
	if m, _ := run.Metric("commands_executed"); m.Value != 12 || run.Info.Status != "FINISHED" {
		t.Errorf("commands %v, status %s", m.Value, run.Info.Status)
	}
	if !strings.Contains(e.artifact(run, "transcript.txt"), "$ echo done") {
		t.Error("transcript incomplete")
	}
}

// MLflow killed in the middle of a busy session and restarted.
func TestMLflowKilledMidSession(t *testing.T) {
	e := newEnv(t)
	restartMLflow(t)
	e.startDaemon()
	prog := fmt.Sprintf(counter, 80, "0.05")
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=mlflow-killed", "--", "sh", "-c", prog)
	e.eventually(15*time.Second, "run created while the session runs", func() error {
		for _, ss := range e.status().Sessions {
			if ss.RunID != "" {
				return nil
			}
		}
		return fmt.Errorf("no run yet")
	})
	mlflow.Stop()
	out, code := s.wait(t, 60*time.Second)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if err := mlflow.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	run := e.finishedRun(`params.scenario = "mlflow-killed"`, 90*time.Second)
	if raw := e.artifact(run, "transcript.raw"); raw != out {
		t.Errorf("transcript %d bytes, terminal %d bytes", len(raw), len(out))
	}
}

// aitrackd SIGKILLed while ten sessions are being delivered: after a
// restart every run is complete and none is duplicated.
func TestDaemonKilledWhileDelivering(t *testing.T) {
	e := newEnv(t)
	d := e.startDaemon()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(e.bin("aitrack-wrap"), "--param", fmt.Sprintf("scenario=ten-%d", i), "--", "sh", "-c", twelveCommands)
			cmd.Env = e.vars
			cmd.Run()
		}()
	}
	wg.Wait()
	d.cmd.Process.Signal(syscall.SIGKILL) // runs are being created and finished now
	<-d.done
	e.startDaemon()
	e.eventually(180*time.Second, "ten finished runs", func() error {
		runs, err := e.runsOf(`attributes.status = "FINISHED"`)
		if err == nil && len(runs) != 10 {
			err = fmt.Errorf("%d finished runs", len(runs))
		}
		return err
	})
	runs, err := e.runsOf("")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range runs {
		sid, _ := r.Tag("aitrack.session_id")
		seen[sid]++
		if m, _ := r.Metric("commands_executed"); m.Value != 12 {
			t.Errorf("run %s: commands_executed %v", r.Info.RunID, m.Value)
		}
	}
	if len(runs) != 10 || len(seen) != 10 {
		t.Errorf("%d runs for %d sessions: %v", len(runs), len(seen), seen)
	}
}

// A run MLflow refuses (deleted while the session ran) becomes a dead
// letter that status shows and that blocks nobody; `aitrack retry` delivers
// it once the cause is fixed.
func TestDeadLetterAndRetry(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=dead", "--", "sh", "-c", "echo waiting; read x; echo done")
	var runID string
	e.eventually(60*time.Second, "run created", func() error {
		for _, ss := range e.status().Sessions {
			if runID = ss.RunID; runID != "" {
				return nil
			}
		}
		return fmt.Errorf("no run yet")
	})
	mlflowPost(t, "runs/delete", map[string]string{"run_id": runID})
	s.pty.Write([]byte("go\r"))
	s.wait(t, 15*time.Second)
	var dead []string
	e.eventually(30*time.Second, "dead letter in status", func() error {
		st := e.status()
		for _, dl := range st.DeadLetters {
			dead = append(dead, dl.Error)
		}
		if len(dead) == 0 {
			return fmt.Errorf("no dead letter")
		}
		return nil
	})
	if !strings.Contains(dead[0], "INVALID_PARAMETER_VALUE") {
		t.Errorf("dead letter error %q", dead[0])
	}
	// Other sessions are not blocked.
	other := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=alongside", "--", "true")
	other.wait(t, 15*time.Second)
	e.finishedRun(`params.scenario = "alongside"`, 30*time.Second)

	mlflowPost(t, "runs/restore", map[string]string{"run_id": runID})
	out := e.run(e.bin("aitrack"), "retry")
	if !strings.Contains(out, "re-queued") {
		t.Fatalf("retry said %q", out)
	}
	run := e.finishedRun(`params.scenario = "dead"`, 30*time.Second)
	if run.Info.RunID != runID || run.Info.Status != "FINISHED" {
		t.Errorf("run %s %s, want %s FINISHED", run.Info.RunID, run.Info.Status, runID)
	}
	if st := e.status(); len(st.DeadLetters) != 0 {
		t.Errorf("dead letters after retry: %+v", st.DeadLetters)
	}
}

// With MLflow's basic auth, wrong credentials hold the sessions (and say
// why); fixed credentials and a restart deliver them.
func TestBasicAuth(t *testing.T) {
	t.Setenv("MLFLOW_FLASK_SERVER_SECRET_KEY", "aitrack-e2e")
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "e2e-admin-Passw0rd")
	srv, err := mlflowtest.Start(context.Background(), t.TempDir(), "--app-name", "basic-auth")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	e := newEnv(t)
	e.vars = append(e.vars, "MLFLOW_TRACKING_URI="+srv.URI, "MLFLOW_TRACKING_USERNAME=admin", "MLFLOW_TRACKING_PASSWORD=wrong-password")
	d := e.startDaemon()
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=auth", "--", "echo", "secured")
	s.wait(t, 15*time.Second)
	e.eventually(30*time.Second, "status shows the authentication error", func() error {
		if st := e.status(); !strings.Contains(st.TrackingError, "401") {
			return fmt.Errorf("tracking error %q", st.TrackingError)
		}
		return nil
	})
	if out := e.run(e.bin("aitrack"), "status", "--json"); strings.Contains(out, "wrong-password") {
		t.Error("status shows the password")
	}
	d.stop()
	if log := d.log.String(); strings.Contains(log, "wrong-password") {
		t.Error("the daemon logged the password")
	}
	e.vars = append(e.vars, "MLFLOW_TRACKING_PASSWORD=e2e-admin-Passw0rd")
	e.startDaemon()
	c, err := mlflowclient.New(mlflowclient.Config{TrackingURI: srv.URI, Username: "admin", Password: "e2e-admin-Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually(60*time.Second, "delivered with the right credentials", func() error {
		expID, err := c.GetOrCreateExperiment(context.Background(), e.experiment)
		if err != nil {
			return err
		}
		runs, err := c.SearchRuns(context.Background(), mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: `attributes.status = "FINISHED"`})
		if err != nil || len(runs) != 1 {
			return fmt.Errorf("%d runs, %v", len(runs), err)
		}
		return nil
	})
}

// Fifty sessions printing at once are all delivered, each costing at most
// one MLflow request per second (counted by a proxy in front of MLflow).
func TestFiftyConcurrentSessions(t *testing.T) {
	target, _ := url.Parse(mlflow.URI)
	var requests atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	e := newEnv(t)
	e.vars = append(e.vars, "MLFLOW_TRACKING_URI="+front.URL)
	e.startDaemon()
	const sessions, seconds = 50, 20
	// Each prints a line every 20 ms (~3 KB/s) for the whole time.
	prog := fmt.Sprintf(`end=$(( $(date +%%s) + %d )); while [ $(date +%%s) -lt $end ]; do echo "$(date +%%s%%N) some output of a busy session, with colour \033[32mok\033[0m"; sleep 0.02; done`, seconds)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(e.bin("aitrack-wrap"), "--param", fmt.Sprintf("scenario=fifty-%d", i), "--", "sh", "-c", prog)
			cmd.Env, cmd.Stdout = e.vars, io.Discard
			if err := cmd.Run(); err != nil {
				t.Errorf("session %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	e.eventually(300*time.Second, "all runs finished", func() error {
		runs, err := e.runsOf(`attributes.status = "FINISHED"`)
		if err == nil && len(runs) != sessions {
			err = fmt.Errorf("%d of %d finished", len(runs), sessions)
		}
		return err
	})
	elapsed := time.Since(start).Seconds()
	perSessionSecond := float64(requests.Load()) / sessions / elapsed
	t.Logf("%d requests for %d sessions over %.0f s: %.2f per session per second", requests.Load(), sessions, elapsed, perSessionSecond)
	if perSessionSecond > 1 {
		t.Errorf("%.2f MLflow requests per session per second, budget 1", perSessionSecond)
	}
}
