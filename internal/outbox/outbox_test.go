package outbox

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/mlflowtest"
	"github.com/aitrack/aitrack/internal/redact"
	"go.uber.org/zap/zaptest"
)

var server *mlflowtest.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "outbox-mlflow")
	if err != nil {
		panic(err)
	}
	server, err = mlflowtest.Start(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// source is a session the test changes as it goes.
type source struct {
	mu   sync.Mutex
	snap Snapshot
}

func (s *source) Snapshot(id string) (Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap
	snap.Metrics = maps.Clone(s.snap.Metrics)
	return snap, id == s.snap.ID
}

func (s *source) update(f func(*Snapshot)) {
	s.mu.Lock()
	f(&s.snap)
	s.mu.Unlock()
}

func newSource(t *testing.T, id string) *source {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "transcript.txt"), []byte("$ git status\nhello\n"), 0o600)
	src := &source{snap: Snapshot{
		ID: id, Dir: dir, Experiment: "outbox-" + t.Name(), RunName: "shell · test",
		Start:   time.Now().Add(-10 * time.Second).Truncate(time.Millisecond),
		Tags:    map[string]string{"type": "ai_session", "provider": "shell"},
		Params:  map[string]string{"command": "sh -c test", "cwd": dir},
		Metrics: map[string]float64{"commands_executed": 1},
	}}
	src.snap.Last = src.snap.Start.Add(2 * time.Second)
	return src
}

func client(t *testing.T) *mlflowclient.Client {
	c, err := mlflowclient.New(mlflowclient.Config{TrackingURI: server.URI})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func end(s *source) {
	s.update(func(sn *Snapshot) {
		sn.Ended, sn.End, sn.Status = true, sn.Start.Add(9*time.Second), mlflowclient.StatusFinished
		sn.Last = sn.End
		sn.Metrics["commands_executed"] = 3
		sn.Metrics["success"] = 1
		sn.Artifacts = []Artifact{{Name: "transcript.txt", Path: filepath.Join(sn.Dir, "transcript.txt")}}
	})
}

func waitDone(t *testing.T, dir string, timeout time.Duration) State {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := ReadState(dir)
		if err == nil && st.Done {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered within %s: %+v, %v", timeout, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runsFor(t *testing.T, c *mlflowclient.Client, exp, id string) []mlflowclient.Run {
	t.Helper()
	ctx := context.Background()
	expID, err := c.GetOrCreateExperiment(ctx, exp)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := c.SearchRuns(ctx, mlflowclient.SearchRuns{ExperimentIDs: []string{expID}, Filter: fmt.Sprintf(`tags.%q = %q`, TagSessionID, id)})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func TestDeliversLiveThenFinal(t *testing.T) {
	c := client(t)
	src := newSource(t, "live-1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 1)
	o := New(Config{Client: c, Source: src, Log: zaptest.NewLogger(t), LiveInterval: 100 * time.Millisecond, OnDone: func(id string) { done <- id }})
	o.Track(ctx, "live-1")

	// Live: the run exists and shows the metric while the session runs.
	deadline := time.Now().Add(90 * time.Second)
	for {
		runs := runsFor(t, c, src.snap.Experiment, "live-1")
		if len(runs) == 1 {
			if m, ok := runs[0].Metric("commands_executed"); ok && m.Value == 1 && runs[0].Info.Status == mlflowclient.StatusRunning {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live run: %+v", runs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if id := o.RunID("live-1"); id == "" {
		t.Error("RunID unknown while delivering")
	}
	end(src)
	o.Track(ctx, "live-1")
	st := waitDone(t, src.snap.Dir, 30*time.Second)
	if got := <-done; got != "live-1" {
		t.Errorf("OnDone(%q)", got)
	}
	runs := runsFor(t, c, src.snap.Experiment, "live-1")
	if len(runs) != 1 || runs[0].Info.RunID != st.RunID {
		t.Fatalf("runs %+v, state %+v", runs, st)
	}
	r := runs[0]
	if r.Info.Status != mlflowclient.StatusFinished || !r.Info.EndTime.Equal(src.snap.End) || !r.Info.StartTime.Equal(src.snap.Start) {
		t.Errorf("info %+v", r.Info)
	}
	if m, _ := r.Metric("commands_executed"); m.Value != 3 || m.Step != 9 {
		t.Errorf("final commands_executed %+v", m)
	}
	if v, _ := r.Param("command"); v != "sh -c test" {
		t.Errorf("param command %q", v)
	}
	if v, _ := r.Tag("provider"); v != "shell" {
		t.Errorf("tag provider %q", v)
	}
	rc, err := c.DownloadArtifact(context.Background(), r.Info.ArtifactURI, "transcript.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "$ git status\nhello\n" {
		t.Errorf("artifact %q", b)
	}
}

// A daemon that crashed after creating the run but before saving its id
// must find that run again, not create a second one.
func TestNoDuplicateRunAfterCrash(t *testing.T) {
	c := client(t)
	src := newSource(t, "crash-1")
	ctx := context.Background()
	expID, err := c.GetOrCreateExperiment(ctx, src.snap.Experiment)
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.CreateRun(ctx, mlflowclient.CreateRun{ExperimentID: expID, RunName: "x", StartTime: src.snap.Start, Tags: map[string]string{TagSessionID: "crash-1"}})
	if err != nil {
		t.Fatal(err)
	}
	end(src)
	ctx2, cancel := context.WithCancel(ctx)
	defer cancel()
	o := New(Config{Client: c, Source: src, Log: zaptest.NewLogger(t)})
	o.Track(ctx2, "crash-1")
	st := waitDone(t, src.snap.Dir, 30*time.Second)
	if st.RunID != first.RunID {
		t.Errorf("delivered to run %s, want the existing %s", st.RunID, first.RunID)
	}
	if runs := runsFor(t, c, src.snap.Experiment, "crash-1"); len(runs) != 1 {
		t.Errorf("%d runs for one session", len(runs))
	}
}

// While MLflow is down nothing is lost: delivery resumes when it is back.
func TestRetriesWhileMLflowDown(t *testing.T) {
	c := client(t)
	src := newSource(t, "down-1")
	end(src)
	server.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := New(Config{Client: c, Source: src, Log: zaptest.NewLogger(t), MaxBackoff: time.Second})
	o.Track(ctx, "down-1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err, _ := o.LastError(); err != nil {
			if !mlflowclient.IsRetryable(err) {
				t.Errorf("a stopped server gave a permanent error: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error reported while MLflow is down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, _ := ReadState(src.snap.Dir); st.Done {
		t.Fatal("delivered while MLflow was down")
	}
	if err := server.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitDone(t, src.snap.Dir, 60*time.Second)
	if runs := runsFor(t, c, src.snap.Experiment, "down-1"); len(runs) != 1 || runs[0].Info.Status != mlflowclient.StatusFinished {
		t.Fatalf("runs %+v", runs)
	}
}

func TestRunNameRedactedThenShortened(t *testing.T) {
	red, err := redact.NewRedactor(redact.Config{})
	if err != nil {
		t.Fatal(err)
	}
	secret := "glpat-Xy7Zq2Lm9Kp4Rt8Vw1Bn"
	name := "codex · " + strings.Repeat("word ", 10) + "--token " + secret + " " + strings.Repeat("more ", 20) + "· 2026-11-25 19:40"
	got := runName(red, name)
	if strings.Contains(got, secret[:12]) || !strings.HasSuffix(got, "· 2026-11-25 19:40") || len([]rune(got)) > 100 {
		t.Errorf("runName = %q", got)
	}
}

// An artifact written from redacted output (the cast) goes up as it is,
// and its redactions are not counted again; every other one is redacted.
func TestArtifactsRedactedOnce(t *testing.T) {
	red, err := redact.NewRedactor(redact.Config{})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "glpat-Xy7Zq2Lm9Kp4Rt8Vw1Bn"
	c := client(t)
	src := newSource(t, "redacted-once")
	cast := "[1.5, \"o\", \"already redacted, kept as it is: " + secret + "\"]\n"
	os.WriteFile(filepath.Join(src.snap.Dir, "transcript.txt"), []byte("$ export GITLAB_TOKEN="+secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(src.snap.Dir, "session.cast"), []byte(cast), 0o600)
	end(src)
	src.update(func(sn *Snapshot) {
		sn.Artifacts = append(sn.Artifacts, Artifact{Name: "session.cast", Path: filepath.Join(sn.Dir, "session.cast"), Redacted: true})
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	New(Config{Client: c, Source: src, Log: zaptest.NewLogger(t), Redactor: red}).Track(ctx, "redacted-once")
	st := waitDone(t, src.snap.Dir, 60*time.Second)
	runs := runsFor(t, c, src.snap.Experiment, "redacted-once")
	if len(runs) != 1 || runs[0].Info.RunID != st.RunID {
		t.Fatalf("runs %+v, state %+v", runs, st)
	}
	read := func(name string) string {
		rc, err := c.DownloadArtifact(ctx, runs[0].Info.ArtifactURI, name)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	if got := read("transcript.txt"); strings.Contains(got, secret) || !strings.Contains(got, "[REDACTED:") {
		t.Errorf("transcript.txt not redacted: %q", got)
	}
	if got := read("session.cast"); got != cast {
		t.Errorf("session.cast changed on the way: %q, want %q", got, cast)
	}
	if m, _ := runs[0].Metric("redactions"); m.Value != 1 {
		t.Errorf("redactions = %v, want 1 (the transcript's; the cast's are counted where they were made)", m.Value)
	}
}
