package mlflowclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewValidatesTrackingURI(t *testing.T) {
	for _, tc := range []struct {
		uri, want, wantErr string
	}{
		{uri: "http://127.0.0.1:5000", want: "http://127.0.0.1:5000"},
		{uri: "https://mlflow.example.com/prefix/", want: "https://mlflow.example.com/prefix"},
		{uri: "", wantErr: "empty"},
		{uri: "localhost:5000", wantErr: "scheme must be http or https"},
		{uri: "file:///tmp/mlruns", wantErr: "scheme must be http or https"},
		{uri: "databricks", wantErr: "scheme must be http or https"},
		{uri: "http://", wantErr: "no host"},
		{uri: "http://:5000", wantErr: "no host"},
		{uri: "http://bob:hunter2@host:5000", wantErr: "contains credentials"},
		{uri: "http://host:5000/?x=1", wantErr: "query"},
		{uri: "http://bob:hunter2@host:5000/%zz", wantErr: "not a valid URL"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			c, err := New(Config{TrackingURI: tc.uri})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %q reveals the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.TrackingURI(); got != tc.want {
				t.Fatalf("TrackingURI() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"empty", nil, Config{}},
		{"all", map[string]string{
			"MLFLOW_TRACKING_URI":              "http://h:1",
			"MLFLOW_TRACKING_USERNAME":         "u",
			"MLFLOW_TRACKING_PASSWORD":         "p",
			"MLFLOW_TRACKING_TOKEN":            "t",
			"MLFLOW_TRACKING_INSECURE_TLS":     "true",
			"MLFLOW_TRACKING_SERVER_CERT_PATH": "/ca.pem",
			"MLFLOW_TRACKING_CLIENT_CERT_PATH": "/client.pem",
		}, Config{TrackingURI: "http://h:1", Username: "u", Password: "p", Token: "t", InsecureTLS: true, ServerCertPath: "/ca.pem", ClientCertPath: "/client.pem"}},
		{"insecure 1", map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "1"}, Config{InsecureTLS: true}},
		{"insecure TRUE", map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "TRUE"}, Config{InsecureTLS: true}},
		{"insecure false", map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "false"}, Config{}},
		{"insecure yes is not true", map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "yes"}, Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg := Config{TrackingURI: "http://h:1", Username: "bob", Password: "pw-hunter2", Token: "tok-s3cret"}
	c := newTestClient(t, cfg)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for name, v := range map[string]any{"config": cfg, "client": c} {
			if out := fmt.Sprintf(format, v); strings.Contains(out, "pw-hunter2") || strings.Contains(out, "tok-s3cret") {
				t.Errorf("%s printed with %s reveals a secret: %s", name, format, out)
			}
		}
	}
	if out := fmt.Sprint(Config{Token: "tok-s3cret"}); !strings.Contains(out, "bearer([redacted])") {
		t.Errorf("token config prints %s", out)
	}

	t.Run("a server echoing the secret", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "bad credentials %s", r.Header.Get("Authorization"))
			user, pw, _ := r.BasicAuth()
			fmt.Fprintf(w, " for %s:%s", user, pw)
		}))
		defer srv.Close()
		cfg.TrackingURI = srv.URL
		_, err := newTestClient(t, cfg).GetRun(t.Context(), "r")
		encoded := base64.StdEncoding.EncodeToString([]byte("bob:pw-hunter2"))
		if err == nil || strings.Contains(err.Error(), "pw-hunter2") || strings.Contains(err.Error(), encoded) {
			t.Fatalf("got %v, want an error without the password", err)
		}
	})
}

func TestAuthHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"basic", Config{Username: "bob", Password: "pw"}, "Basic Ym9iOnB3"},
		{"basic preferred over token", Config{Username: "bob", Password: "pw", Token: "tok"}, "Basic Ym9iOnB3"},
		{"token", Config{Token: "tok"}, "Bearer tok"},
		{"token when basic is incomplete", Config{Username: "bob", Token: "tok"}, "Bearer tok"},
		{"none", Config{Username: "bob"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.Header.Get("Authorization"))
				mu.Unlock()
				switch r.URL.Path {
				case "/health":
					w.Write([]byte("OK"))
				case "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/f":
				default:
					w.Write([]byte("{}"))
				}
			}))
			defer srv.Close()
			tc.cfg.TrackingURI = srv.URL
			c := newTestClient(t, tc.cfg)
			if err := c.Health(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := c.UpdateRun(t.Context(), "r", StatusFinished, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if err := c.UploadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "f", strings.NewReader("x"), 1); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, h := range got {
				if h != tc.want {
					t.Errorf("request %d sent Authorization %q, want %q", i, h, tc.want)
				}
			}
			if len(got) != 3 {
				t.Errorf("%d requests, want 3", len(got))
			}
		})
	}
}

func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		wantErr   bool
		retryable bool
	}{
		{"mlflow", 200, "OK", false, false},
		{"mlflow with newline", 200, "OK\n", false, false},
		{"macOS AirPlay", 403, "", true, false},
		{"another web app", 200, "<html>hello</html>", true, false},
		{"starting proxy", 503, "upstream not ready", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/health" || r.Method != http.MethodGet {
					t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			err := newTestClient(t, Config{TrackingURI: srv.URL}).Health(t.Context())
			if (err != nil) != tc.wantErr || IsRetryable(err) != tc.retryable {
				t.Fatalf("got %v (retryable %t), want error %t retryable %t", err, IsRetryable(err), tc.wantErr, tc.retryable)
			}
		})
	}
}

// recordedRequest is what the fake server saw.
type recordedRequest struct {
	method, path, query, contentType string
	body                             []byte
}

// recorder is a fake tracking server that answers every request with the
// JSON answers[path] (or {}) and records what it got.
type recorder struct {
	mu       sync.Mutex
	requests []recordedRequest
	answers  map[string]string
}

func newRecorder(t *testing.T, answers map[string]string) (*recorder, *Client) {
	t.Helper()
	rec := &recorder{answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.requests = append(rec.requests, recordedRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Content-Type"), body})
		rec.mu.Unlock()
		answer, ok := answers[r.URL.Path]
		if !ok {
			answer = "{}"
		}
		w.Write([]byte(answer))
	}))
	t.Cleanup(srv.Close)
	return rec, newTestClient(t, Config{TrackingURI: srv.URL})
}

func (rec *recorder) all() []recordedRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recordedRequest(nil), rec.requests...)
}

func TestJSONRequestsOnTheWire(t *testing.T) {
	start := time.UnixMilli(1_750_000_000_123)
	rec, c := newRecorder(t, map[string]string{
		"/api/2.0/mlflow/runs/create": `{"run":{"info":{"run_id":"r1","experiment_id":"7","status":"RUNNING","start_time":1750000000123}}}`,
	})
	ctx := t.Context()
	if _, err := c.CreateRun(ctx, CreateRun{ExperimentID: "7", RunName: "n", StartTime: start, Tags: map[string]string{"b": "2", "a": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.LogBatch(ctx, "r1", Batch{Metrics: []Metric{{Key: "m", Value: 1.5, Timestamp: start, Step: 1 << 40}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateRun(ctx, "r1", StatusFailed, start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SearchRuns(ctx, SearchRuns{ExperimentIDs: []string{"7"}, Filter: "tags.a = '1'", MaxResults: 10, ViewType: ViewAll}); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		"/api/2.0/mlflow/runs/create":    `{"experiment_id":"7","run_name":"n","start_time":1750000000123,"tags":[{"key":"a","value":"1"},{"key":"b","value":"2"}]}`,
		"/api/2.0/mlflow/runs/log-batch": `{"run_id":"r1","metrics":[{"key":"m","value":1.5,"timestamp":1750000000123,"step":1099511627776}]}`,
		"/api/2.0/mlflow/runs/update":    `{"run_id":"r1","status":"FAILED","end_time":1750000001123}`,
		"/api/2.0/mlflow/runs/search":    `{"experiment_ids":["7"],"filter":"tags.a = '1'","run_view_type":"ALL","max_results":10}`,
	}
	seen := map[string]bool{}
	for _, r := range rec.all() {
		if r.method == http.MethodPost && r.contentType != "application/json" {
			t.Errorf("POST %s has Content-Type %q", r.path, r.contentType)
		}
		if r.method == http.MethodGet && len(r.body) != 0 {
			t.Errorf("GET %s has a body", r.path)
		}
		if w, ok := want[r.path]; ok {
			seen[r.path] = true
			if string(r.body) != w {
				t.Errorf("%s sent\n %s\nwant\n %s", r.path, r.body, w)
			}
		}
	}
	for path := range want {
		if !seen[path] {
			t.Errorf("no request to %s", path)
		}
	}
}

func TestGetOrCreateExperimentSteps(t *testing.T) {
	const (
		getByName = "/api/2.0/mlflow/experiments/get-by-name"
		create    = "/api/2.0/mlflow/experiments/create"
		restore   = "/api/2.0/mlflow/experiments/restore"
	)
	type answer struct {
		status int
		body   string
	}
	notFound := answer{404, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Could not find experiment with name x"}`}
	active := answer{200, `{"experiment":{"experiment_id":"3","name":"x","lifecycle_stage":"active"}}`}
	for _, tc := range []struct {
		name    string
		answers map[string][]answer // per path, in order
		wantID  string
		wantErr bool
		calls   []string
	}{
		{"exists", map[string][]answer{getByName: {active}}, "3", false, []string{getByName}},
		{"created", map[string][]answer{getByName: {notFound}, create: {{200, `{"experiment_id":"4"}`}}}, "4", false, []string{getByName, create}},
		{"deleted is restored", map[string][]answer{
			getByName: {{200, `{"experiment":{"experiment_id":"5","lifecycle_stage":"deleted"}}`}}, restore: {{200, `{}`}},
		}, "5", false, []string{getByName, restore}},
		{"lost the creation race", map[string][]answer{
			getByName: {notFound, active}, create: {{400, `{"error_code":"RESOURCE_ALREADY_EXISTS","message":"Experiment(name=x) already exists."}`}},
		}, "3", false, []string{getByName, create, getByName}},
		{"lookup fails", map[string][]answer{getByName: {{500, "oops"}}}, "", true, []string{getByName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				calls []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, r.URL.Path)
				if r.Method == http.MethodPost {
					body, _ := io.ReadAll(r.Body)
					if r.Header.Get("Content-Type") != "application/json" || !json.Valid(body) {
						t.Errorf("POST %s: Content-Type %q, body %s", r.URL.Path, r.Header.Get("Content-Type"), body)
					}
				}
				queue := tc.answers[r.URL.Path]
				if len(queue) == 0 {
					t.Errorf("unexpected request %s", r.URL.Path)
					w.WriteHeader(500)
					return
				}
				tc.answers[r.URL.Path] = queue[1:]
				w.WriteHeader(queue[0].status)
				w.Write([]byte(queue[0].body))
			}))
			defer srv.Close()
			id, err := newTestClient(t, Config{TrackingURI: srv.URL}).GetOrCreateExperiment(t.Context(), "x")
			if id != tc.wantID || (err != nil) != tc.wantErr {
				t.Fatalf("got %q, %v; want %q, error %t", id, err, tc.wantID, tc.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(calls, " ") != strings.Join(tc.calls, " ") {
				t.Fatalf("calls %v, want %v", calls, tc.calls)
			}
		})
	}
}

func TestSearchRunsFollowsPages(t *testing.T) {
	var (
		mu     sync.Mutex
		tokens []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var req struct {
			PageToken string `json:"page_token"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		tokens = append(tokens, req.PageToken)
		switch req.PageToken {
		case "":
			w.Write([]byte(`{"runs":[{"info":{"run_id":"a"}},{"info":{"run_id":"b"}}],"next_page_token":"p2"}`))
		case "p2":
			w.Write([]byte(`{"runs":[{"info":{"run_id":"c"}}],"next_page_token":"p3"}`))
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	runs, err := newTestClient(t, Config{TrackingURI: srv.URL}).SearchRuns(t.Context(), SearchRuns{ExperimentIDs: []string{"1"}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.Info.RunID)
	}
	if strings.Join(ids, ",") != "a,b,c" || strings.Join(tokens, ",") != ",p2,p3" {
		t.Fatalf("runs %v with page tokens %q", ids, tokens)
	}
}

func TestInvalidCallsSendNothing(t *testing.T) {
	rec, c := newRecorder(t, nil)
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"experiment name empty":  func() error { _, err := c.GetOrCreateExperiment(ctx, ""); return err },
		"experiment name long":   func() error { _, err := c.GetOrCreateExperiment(ctx, strings.Repeat("x", 501)); return err },
		"run without start time": func() error { _, err := c.CreateRun(ctx, CreateRun{ExperimentID: "1"}); return err },
		"run without experiment": func() error { _, err := c.CreateRun(ctx, CreateRun{StartTime: time.Now()}); return err },
		"run with a bad tag key": func() error {
			_, err := c.CreateRun(ctx, CreateRun{ExperimentID: "1", StartTime: time.Now(), Tags: map[string]string{"a/../b": "x"}})
			return err
		},
		"get run without id":         func() error { _, err := c.GetRun(ctx, ""); return err },
		"search without experiments": func() error { _, err := c.SearchRuns(ctx, SearchRuns{}); return err },
		"search with a bad view": func() error {
			_, err := c.SearchRuns(ctx, SearchRuns{ExperimentIDs: []string{"1"}, ViewType: "active"})
			return err
		},
		"search with a huge page": func() error {
			_, err := c.SearchRuns(ctx, SearchRuns{ExperimentIDs: []string{"1"}, MaxResults: 50_001})
			return err
		},
		"find run by unquotable value": func() error { _, err := c.FindRunByTag(ctx, "1", "k", `it's "x"`); return err },
		"find run by backslash":        func() error { _, err := c.FindRunByTag(ctx, "1", "k", `a\`); return err },
		"update to unknown status":     func() error { return c.UpdateRun(ctx, "r", "DONE", time.Time{}) },
		"update to end before 1970":    func() error { return c.UpdateRun(ctx, "r", StatusFinished, time.UnixMilli(-5)) },
		"list artifacts without run":   func() error { _, err := c.ListArtifacts(ctx, "", ""); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, ErrInvalidInput) || IsRetryable(err) {
				t.Fatalf("got %v, want a non-retryable ErrInvalidInput", err)
			}
		})
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d requests were sent", n)
	}
}

// writePEM writes PEM blocks to a file in dir.
func writePEM(t *testing.T, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, block := range blocks {
		b = append(b, pem.EncodeToMemory(block)...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// selfSignedClientCert makes a client certificate that is its own CA.
func selfSignedClientCert(t *testing.T) (*x509.Certificate, *pem.Block, *pem.Block) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "aitrack test client"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, &pem.Block{Type: "CERTIFICATE", Bytes: der}, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	clientCert, clientCertPEM, clientKeyPEM := selfSignedClientCert(t)
	clientPool := x509.NewCertPool()
	clientPool.AddCert(clientCert)

	okHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("OK")) })
	quiet := log.New(io.Discard, "", 0) // refused handshakes are expected
	plain := httptest.NewUnstartedServer(okHandler)
	plain.Config.ErrorLog = quiet
	plain.StartTLS()
	defer plain.Close()
	mutual := httptest.NewUnstartedServer(okHandler)
	mutual.Config.ErrorLog = quiet
	mutual.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPool}
	mutual.StartTLS()
	defer mutual.Close()

	serverCA := writePEM(t, dir, "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: plain.Certificate().Raw})
	mutualCA := writePEM(t, dir, "mutual-ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: mutual.Certificate().Raw})
	clientBoth := writePEM(t, dir, "client.pem", clientCertPEM, clientKeyPEM)
	clientCertOnly := writePEM(t, dir, "client-cert-only.pem", clientCertPEM)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		cfg        Config
		url        string
		wantNewErr string
		wantOK     bool
	}{
		{name: "unknown CA is refused", url: plain.URL},
		{name: "CA bundle", cfg: Config{ServerCertPath: serverCA}, url: plain.URL, wantOK: true},
		{name: "insecure", cfg: Config{InsecureTLS: true}, url: plain.URL, wantOK: true},
		{name: "insecure with CA bundle", cfg: Config{InsecureTLS: true, ServerCertPath: serverCA}, url: plain.URL, wantNewErr: "mutually exclusive"},
		{name: "missing CA bundle", cfg: Config{ServerCertPath: filepath.Join(dir, "nope.pem")}, url: plain.URL, wantNewErr: "MLFLOW_TRACKING_SERVER_CERT_PATH"},
		{name: "CA bundle without certificates", cfg: Config{ServerCertPath: notPEM}, url: plain.URL, wantNewErr: "no PEM certificate"},
		{name: "mTLS", cfg: Config{ServerCertPath: mutualCA, ClientCertPath: clientBoth}, url: mutual.URL, wantOK: true},
		{name: "mTLS without client certificate", cfg: Config{ServerCertPath: mutualCA}, url: mutual.URL},
		{name: "client certificate without key", cfg: Config{ClientCertPath: clientCertOnly}, url: mutual.URL, wantNewErr: "private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.TrackingURI = tc.url
			c, err := New(tc.cfg)
			if tc.wantNewErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantNewErr) {
					t.Fatalf("New: got %v, want an error containing %q", err, tc.wantNewErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = c.Health(t.Context())
			if tc.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || IsRetryable(err) {
				t.Fatalf("got %v, want a non-retryable TLS error", err)
			}
		})
	}
}
