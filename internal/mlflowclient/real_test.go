package mlflowclient

// Tests against a real MLflow server (internal/mlflowtest): one server for
// the package, started in TestMain; each test uses its own experiment.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowtest"
)

// realServer is the shared MLflow server; nil with -short.
var realServer *mlflowtest.Server

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "mlflowclient-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	realServer, err = mlflowtest.Start(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start MLflow for the real-server tests (use -short to skip them):", err)
		return 1
	}
	defer realServer.Stop()
	return m.Run()
}

// realClient returns a client of the shared server and a fresh experiment.
func realClient(t *testing.T) (*Client, string) {
	t.Helper()
	if realServer == nil {
		t.Skip("real MLflow server tests are skipped with -short")
	}
	c, err := New(Config{TrackingURI: realServer.URI})
	if err != nil {
		t.Fatal(err)
	}
	expID, err := c.GetOrCreateExperiment(t.Context(), "exp-"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return c, expID
}

func newRealRun(t *testing.T, c *Client, expID string, tags map[string]string) RunInfo {
	t.Helper()
	info, err := c.CreateRun(t.Context(), CreateRun{ExperimentID: expID, RunName: "run", StartTime: time.Now(), Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// rawREST calls the server without the client under test, to check what it
// stored independently.
func rawREST(t *testing.T, method, endpoint string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, realServer.URI+"/api/2.0/mlflow"+endpoint, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, endpoint, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, endpoint, err, data)
		}
	}
}

func TestRealHealth(t *testing.T) {
	c, _ := realClient(t)
	if err := c.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestRealGetOrCreateExperiment(t *testing.T) {
	c, _ := realClient(t)
	ctx := t.Context()
	first, err := c.GetOrCreateExperiment(ctx, "twice")
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.GetOrCreateExperiment(ctx, "twice")
	if err != nil {
		t.Fatal(err)
	}
	if first == "" || first != second {
		t.Fatalf("ids %q then %q, want the same non-empty id", first, second)
	}
	other, err := c.GetOrCreateExperiment(ctx, "another")
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Fatalf("two names got the same id %q", other)
	}

	t.Run("restores a deleted experiment", func(t *testing.T) {
		rawREST(t, http.MethodPost, "/experiments/delete", map[string]string{"experiment_id": first}, nil)
		again, err := c.GetOrCreateExperiment(ctx, "twice")
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("got id %q, want the restored %q", again, first)
		}
		var got struct {
			Experiment wireExperiment `json:"experiment"`
		}
		rawREST(t, http.MethodGet, "/experiments/get?experiment_id="+first, nil, &got)
		if got.Experiment.LifecycleStage != "active" {
			t.Fatalf("lifecycle stage %q, want active", got.Experiment.LifecycleStage)
		}
	})
}

func TestRealCreateAndGetRun(t *testing.T) {
	c, expID := realClient(t)
	start := time.UnixMilli(1_750_000_123_456)
	info, err := c.CreateRun(t.Context(), CreateRun{
		ExperimentID: expID,
		RunName:      "session 1",
		StartTime:    start,
		Tags:         map[string]string{"aitrack.stream_id": "s-1", "type": "ai_session"},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.GetRun(t.Context(), info.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"run id", run.Info.RunID, info.RunID},
		{"experiment", run.Info.ExperimentID, expID},
		{"name", run.Info.RunName, "session 1"},
		{"status", run.Info.Status, StatusRunning},
		{"start", run.Info.StartTime.UnixMilli(), start.UnixMilli()},
		{"no end yet", run.Info.EndTime.IsZero(), true},
		{"lifecycle", run.Info.LifecycleStage, "active"},
		{"artifact uri", strings.HasPrefix(run.Info.ArtifactURI, "mlflow-artifacts:/"), true},
	} {
		if check.got != check.want {
			t.Errorf("%s = %v, want %v", check.what, check.got, check.want)
		}
	}
	for k, want := range map[string]string{"aitrack.stream_id": "s-1", "type": "ai_session", "mlflow.runName": "session 1"} {
		if got, ok := run.Tag(k); !ok || got != want {
			t.Errorf("tag %s = %q (%t), want %q", k, got, ok, want)
		}
	}
}

func TestRealLogBatchBeyondLimits(t *testing.T) {
	c, expID := realClient(t)
	run := newRealRun(t, c, expID, nil)
	at := time.UnixMilli(1_750_000_000_000)

	var b Batch
	const distinctKeys, historySteps = 1100, 1200
	for i := range distinctKeys {
		b.Metrics = append(b.Metrics, Metric{Key: fmt.Sprintf("m/%04d", i), Value: float64(i) / 4, Timestamp: at, Step: 1})
	}
	for i := range historySteps {
		b.Metrics = append(b.Metrics, Metric{Key: "history", Value: float64(i), Timestamp: at.Add(time.Duration(i) * time.Millisecond), Step: int64(i)})
	}
	b.Metrics = append(b.Metrics, Metric{Key: "nan", Value: math.NaN(), Timestamp: at})
	for i := range 250 {
		b.Params = append(b.Params, Param{Key: fmt.Sprintf("p%03d", i), Value: fmt.Sprint(i)})
	}
	b.Params = append(b.Params, Param{Key: "p000", Value: "duplicate, dropped"}, Param{Key: "long", Value: strings.Repeat("é", 7000)})
	for i := range 150 {
		b.Tags = append(b.Tags, Tag{Key: fmt.Sprintf("t%03d", i), Value: fmt.Sprint(i)})
	}
	b.Tags = append(b.Tags, Tag{Key: "t000", Value: "last write wins"})

	if err := c.LogBatch(t.Context(), run.RunID, b); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRun(t.Context(), run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Data.Params); n != 251 {
		t.Errorf("%d params arrived, want 251", n)
	}
	if v, _ := got.Param("p000"); v != "0" {
		t.Errorf("p000 = %q, want the first value 0", v)
	}
	if v, _ := got.Param("p249"); v != "249" {
		t.Errorf("p249 = %q, want 249", v)
	}
	long, _ := got.Param("long")
	if n := len([]rune(long)); n != maxParamValueLength || !strings.HasSuffix(long, truncatedMarker) {
		t.Errorf("long param has %d characters ending %q, want %d ending in the marker", n, long[max(0, len(long)-20):], maxParamValueLength)
	}
	if n := len(got.Data.Tags); n < 150 {
		t.Errorf("%d tags arrived, want at least 150", n)
	}
	if v, _ := got.Tag("t000"); v != "last write wins" {
		t.Errorf("t000 = %q, want the last value", v)
	}
	if n := len(got.Data.Metrics); n != distinctKeys+2 {
		t.Errorf("%d metric keys arrived, want %d", n, distinctKeys+2)
	}
	if m, ok := got.Metric("m/1099"); !ok || m.Value != 1099.0/4 || !m.Timestamp.Equal(at) || m.Step != 1 {
		t.Errorf("m/1099 = %+v (%t)", m, ok)
	}
	if m, ok := got.Metric("nan"); !ok || !math.IsNaN(m.Value) {
		t.Errorf("nan metric = %+v (%t), want NaN", m, ok)
	}
	if m, _ := got.Metric("history"); m.Step != historySteps-1 {
		t.Errorf("latest history step %d, want %d", m.Step, historySteps-1)
	}
	var history struct {
		Metrics []json.RawMessage `json:"metrics"`
	}
	rawREST(t, http.MethodGet, "/metrics/get-history?"+url.Values{"run_id": {run.RunID}, "metric_key": {"history"}}.Encode(), nil, &history)
	if n := len(history.Metrics); n != historySteps {
		t.Errorf("history has %d points, want %d", n, historySteps)
	}

	t.Run("resending the batch is harmless", func(t *testing.T) {
		if err := c.LogBatch(t.Context(), run.RunID, b); err != nil {
			t.Fatal(err)
		}
		rawREST(t, http.MethodGet, "/metrics/get-history?"+url.Values{"run_id": {run.RunID}, "metric_key": {"history"}}.Encode(), nil, &history)
		if n := len(history.Metrics); n != historySteps {
			t.Errorf("history has %d points after a resend, want %d", n, historySteps)
		}
	})
}

func TestRealChangedParamIsInvalid(t *testing.T) {
	c, expID := realClient(t)
	run := newRealRun(t, c, expID, nil)
	if err := c.LogBatch(t.Context(), run.RunID, Batch{Params: []Param{{"model", "a"}}}); err != nil {
		t.Fatal(err)
	}
	err := c.LogBatch(t.Context(), run.RunID, Batch{Params: []Param{{"model", "b"}}})
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want an *APIError", err)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != CodeInvalidParameterValue {
		t.Errorf("got HTTP %d %s, want 400 %s", apiErr.StatusCode, apiErr.Code, CodeInvalidParameterValue)
	}
	if IsRetryable(err) {
		t.Error("a changed param is retryable")
	}
	if !strings.Contains(apiErr.Message, "model") {
		t.Errorf("message %q does not name the param", apiErr.Message)
	}
}

func TestRealUnknownRunIsNotFound(t *testing.T) {
	c, _ := realClient(t)
	_, err := c.GetRun(t.Context(), strings.Repeat("0", 32))
	if !IsNotFound(err) || IsRetryable(err) {
		t.Fatalf("got %v (not found %t, retryable %t), want a non-retryable not-found", err, IsNotFound(err), IsRetryable(err))
	}
}

func TestRealSearchRunsAndFindRunByTag(t *testing.T) {
	c, expID := realClient(t)
	start := time.UnixMilli(1_750_000_000_000)
	ids := map[string]string{}
	for i, stream := range []string{"s-0", "s-1", "s-2", "it's", `say "hi"`} {
		info, err := c.CreateRun(t.Context(), CreateRun{
			ExperimentID: expID, StartTime: start.Add(time.Duration(i) * time.Second),
			Tags: map[string]string{"aitrack.stream_id": stream, "type": "ai_session"},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[stream] = info.RunID
	}
	runs, err := c.SearchRuns(t.Context(), SearchRuns{
		ExperimentIDs: []string{expID}, Filter: `tags.type = "ai_session"`, MaxResults: 2,
		OrderBy: []string{"attributes.start_time DESC"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 5 {
		t.Fatalf("search over pages of 2 found %d runs, want 5", len(runs))
	}
	if runs[0].Info.RunID != ids[`say "hi"`] || runs[4].Info.RunID != ids["s-0"] {
		t.Errorf("order by start time DESC not kept: first %s, last %s", runs[0].Info.RunID, runs[4].Info.RunID)
	}

	for _, tc := range []struct {
		stream string
		want   string
	}{
		{"s-1", ids["s-1"]},
		{"it's", ids["it's"]},
		{`say "hi"`, ids[`say "hi"`]},
		{"s-9", ""},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			run, err := c.FindRunByTag(t.Context(), expID, "aitrack.stream_id", tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && run != nil:
				t.Fatalf("found run %s, want none", run.Info.RunID)
			case tc.want != "" && (run == nil || run.Info.RunID != tc.want):
				t.Fatalf("found %v, want run %s", run, tc.want)
			}
		})
	}
}

func TestRealUpdateRun(t *testing.T) {
	c, expID := realClient(t)
	run := newRealRun(t, c, expID, nil)
	end := time.UnixMilli(time.Now().Add(time.Minute).UnixMilli())
	if err := c.UpdateRun(t.Context(), run.RunID, StatusFinished, end); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRun(t.Context(), run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Info.Status != StatusFinished || !got.Info.EndTime.Equal(end) {
		t.Fatalf("run is %s ending %s, want FINISHED ending %s", got.Info.Status, got.Info.EndTime, end)
	}
}

// binaryPattern is n bytes that cover all byte values and never repeat
// with a short period, so a dropped or reordered chunk shows.
func binaryPattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func TestRealArtifacts(t *testing.T) {
	c, expID := realClient(t)
	run := newRealRun(t, c, expID, nil)
	data := binaryPattern(3<<20 + 12345)

	for _, tc := range []struct {
		name    string
		relPath string
		size    int64
	}{
		{"known size", "logs/sub dir/session+1 (é).bin", int64(len(data))},
		{"unknown size", "logs/chunked.bin", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.UploadArtifact(t.Context(), run.ArtifactURI, tc.relPath, bytes.NewReader(data), tc.size); err != nil {
				t.Fatal(err)
			}
			r, err := c.DownloadArtifact(t.Context(), run.ArtifactURI, tc.relPath)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
			}
		})
	}

	root, err := c.ListArtifacts(t.Context(), run.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(root) != 1 || root[0] != (FileInfo{Path: "logs", IsDir: true}) {
		t.Fatalf("root lists %+v, want the logs directory", root)
	}
	sub, err := c.ListArtifacts(t.Context(), run.RunID, "logs/sub dir")
	if err != nil {
		t.Fatal(err)
	}
	want := FileInfo{Path: "logs/sub dir/session+1 (é).bin", FileSize: int64(len(data))}
	if len(sub) != 1 || sub[0] != want {
		t.Fatalf("logs/sub dir lists %+v, want [%+v]", sub, want)
	}

	t.Run("missing file is not found", func(t *testing.T) {
		_, err := c.DownloadArtifact(t.Context(), run.ArtifactURI, "logs/missing.bin")
		t.Logf("error: %v", err)
		if !IsNotFound(err) || IsRetryable(err) {
			t.Fatalf("got %v, want a non-retryable not-found error", err)
		}
	})
}

func TestRealBasicAuthAndStoppedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("real MLflow server tests are skipped with -short")
	}
	// MLflow 3.17 refuses to start the basic-auth app without a CSRF
	// secret and an admin password (it no longer accepts the old default
	// password1234).
	const adminPassword = "aitrack-test-Admin-pw-2026"
	t.Setenv("MLFLOW_FLASK_SERVER_SECRET_KEY", "mlflowclient-test")
	t.Setenv("MLFLOW_AUTH_ADMIN_PASSWORD", adminPassword)
	srv, err := mlflowtest.Start(t.Context(), t.TempDir(), "--app-name", "basic-auth")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	const wrongPassword = "not-the-password-4711"
	for _, tc := range []struct {
		name     string
		cfg      Config
		wantCode int // 0: success
	}{
		{"admin", Config{Username: "admin", Password: adminPassword}, 0},
		{"basic wins over a bad token", Config{Username: "admin", Password: adminPassword, Token: "bogus"}, 0},
		{"wrong password", Config{Username: "admin", Password: wrongPassword}, http.StatusUnauthorized},
		{"no credentials", Config{}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.TrackingURI = srv.URI
			c, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetOrCreateExperiment(t.Context(), "auth")
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.wantCode {
				t.Fatalf("got %v, want HTTP %d", err, tc.wantCode)
			}
			t.Logf("error: %v", err)
			if IsRetryable(err) {
				t.Error("an auth failure is retryable")
			}
			if strings.Contains(err.Error(), wrongPassword) || strings.Contains(fmt.Sprintf("%v %+v %#v", c, c, c), wrongPassword) {
				t.Error("the password leaked into the error or the client's string")
			}
		})
	}

	c, err := New(Config{TrackingURI: srv.URI, Username: "admin", Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	expID, err := c.GetOrCreateExperiment(t.Context(), "auth")
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for name, call := range map[string]func() error{
		"health": func() error { return c.Health(t.Context()) },
		"create run": func() error {
			_, err := c.CreateRun(t.Context(), CreateRun{ExperimentID: expID, StartTime: time.Now()})
			return err
		},
		"log batch": func() error {
			return c.LogBatch(t.Context(), "0123456789abcdef0123456789abcdef", Batch{Tags: []Tag{{"k", "v"}}})
		},
	} {
		if err := call(); !IsRetryable(err) {
			t.Errorf("%s on a stopped server: %v, want a retryable error", name, err)
		}
	}
}
