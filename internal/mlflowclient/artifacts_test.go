package mlflowclient

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestArtifactURL(t *testing.T) {
	c := newTestClient(t, Config{TrackingURI: "http://127.0.0.1:5000/mlflow"})
	const run = "mlflow-artifacts:/1/0123abcd/artifacts"
	for _, tc := range []struct {
		name, uri, rel, want, wantErr string
		notProxied                    bool
	}{
		{name: "plain", uri: run, rel: "transcript.jsonl",
			want: "http://127.0.0.1:5000/mlflow/api/2.0/mlflow-artifacts/artifacts/1/0123abcd/artifacts/transcript.jsonl"},
		{name: "segments escaped", uri: run, rel: "logs/sub dir/a?b+c (é).bin",
			want: "http://127.0.0.1:5000/mlflow/api/2.0/mlflow-artifacts/artifacts/1/0123abcd/artifacts/logs/sub%20dir/a%3Fb+c%20%28%C3%A9%29.bin"},
		{name: "authority replaces the host", uri: "mlflow-artifacts://artifacts.example:8443/1/r/artifacts", rel: "f",
			want: "http://artifacts.example:8443/mlflow/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/f"},
		{name: "without slash", uri: "mlflow-artifacts:1/r/artifacts", rel: "f",
			want: "http://127.0.0.1:5000/mlflow/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/f"},
		{name: "s3", uri: "s3://bucket/1/r/artifacts", rel: "f", wantErr: "s3://bucket/1/r/artifacts", notProxied: true},
		{name: "local file", uri: "file:///home/u/mlruns/1/r/artifacts", rel: "f", wantErr: "file:///home/u/mlruns", notProxied: true},
		{name: "bare path", uri: "/home/u/mlruns/1/r/artifacts", rel: "f", wantErr: "not a URI"},
		{name: "empty path", uri: run, rel: "", wantErr: "relative and not empty"},
		{name: "absolute path", uri: run, rel: "/etc/passwd", wantErr: "relative and not empty"},
		{name: "parent", uri: run, rel: "a/../../b", wantErr: `".."`},
		{name: "dot", uri: run, rel: "./a", wantErr: `"."`},
		{name: "double slash", uri: run, rel: "a//b", wantErr: "empty segment"},
		{name: "trailing slash", uri: run, rel: "a/", wantErr: "empty segment"},
		{name: "percent would be decoded again", uri: run, rel: "100%25.txt", wantErr: `'%'`},
		{name: "hash", uri: run, rel: "a#b", wantErr: `'#'`},
		{name: "backslash", uri: run, rel: `a\b`, wantErr: `'\\'`},
		{name: "control", uri: run, rel: "a\x01b", wantErr: `'\x01'`},
		{name: "parent in the URI", uri: "mlflow-artifacts:/1/../2/artifacts", rel: "f", wantErr: `".."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.artifactURL(tc.uri, tc.rel)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.wantErr)
			}
			if errors.Is(err, ErrArtifactsNotProxied) != tc.notProxied || errors.Is(err, ErrInvalidInput) == tc.notProxied {
				t.Fatalf("error %v: not proxied %t, invalid input %t", err, errors.Is(err, ErrArtifactsNotProxied), errors.Is(err, ErrInvalidInput))
			}
		})
	}
}

// FuzzArtifactURL checks that any accepted path maps to a URL under the
// artifact proxy whose decoded path holds exactly the given segments.
func FuzzArtifactURL(f *testing.F) {
	f.Add("mlflow-artifacts:/1/r/artifacts", "a/b c.txt")
	f.Add("mlflow-artifacts://h:1/1/r/artifacts", "x?y")
	f.Add("mlflow-artifacts:/1/r/artifacts", "../../etc/passwd")
	f.Add("s3://b/k", "f")
	c, err := New(Config{TrackingURI: "http://127.0.0.1:5000"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, uri, rel string) {
		got, err := c.artifactURL(uri, rel)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%q is not a URL: %v", got, err)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("%q has a query or fragment", got)
		}
		p, ok := strings.CutPrefix(u.Path, artifactsAPI+"/")
		if !ok {
			t.Fatalf("%q is not under %s", got, artifactsAPI)
		}
		if !strings.HasSuffix(p, "/"+rel) && p != rel {
			t.Fatalf("decoded path %q does not end in %q", p, rel)
		}
		for _, s := range strings.Split(p, "/") {
			if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `%#\`) {
				t.Fatalf("unsafe segment %q in %q", s, got)
			}
		}
	})
}

func TestUploadArtifactOnTheWire(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, strings.Join([]string{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"),
			strings.Join(r.TransferEncoding, ","), string(body)}, " | "))
	}))
	defer srv.Close()
	c := newTestClient(t, Config{TrackingURI: srv.URL})
	for _, tc := range []struct {
		name string
		body string
		size int64
		want string
	}{
		{"known size", "hello", 5, "PUT | /api/2.0/mlflow-artifacts/artifacts/2/r/artifacts/dir/a%20b.txt | application/octet-stream |  | hello"},
		{"unknown size is chunked", "hello", -1, "PUT | /api/2.0/mlflow-artifacts/artifacts/2/r/artifacts/dir/a%20b.txt | application/octet-stream | chunked | hello"},
		{"empty", "", 0, "PUT | /api/2.0/mlflow-artifacts/artifacts/2/r/artifacts/dir/a%20b.txt | application/octet-stream |  | "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			if err := c.UploadArtifact(t.Context(), "mlflow-artifacts:/2/r/artifacts", "dir/a b.txt", strings.NewReader(tc.body), tc.size); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || seen[0] != tc.want {
				t.Fatalf("server saw %q, want %q", seen, tc.want)
			}
		})
	}
}

func TestUploadArtifactSourceErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	c := newTestClient(t, Config{TrackingURI: srv.URL})
	broken := errors.New("disk on fire")
	for _, tc := range []struct {
		name string
		body io.Reader
		size int64
		want string
	}{
		{"shorter than announced", strings.NewReader("abc"), 10, "3 bytes, 10 were announced"},
		{"longer than announced", strings.NewReader("abcdef"), 2, "6 bytes, 2 were announced"},
		{"read error", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(broken)), -1, "disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.UploadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "f", tc.body, tc.size)
			if err == nil || IsRetryable(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a non-retryable error containing %q", err, tc.want)
			}
		})
	}
	t.Run("the read error is kept", func(t *testing.T) {
		err := c.UploadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "f", iotest.ErrReader(broken), -1)
		if !errors.Is(err, broken) {
			t.Fatalf("got %v, want it to wrap the reader's error", err)
		}
	})
}

func TestArtifactTransfersAreRetryableWhenStalled(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Length", "100")
			w.Write(bytes.Repeat([]byte("x"), 10))
			w.(http.Flusher).Flush()
		}
		select { // then stall
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newTestClient(t, Config{TrackingURI: srv.URL, Timeout: 100 * time.Millisecond})

	t.Run("download", func(t *testing.T) {
		r, err := c.DownloadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "f")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if len(got) != 10 || !IsRetryable(err) || !strings.Contains(err.Error(), "within 100ms") {
			t.Fatalf("read %d bytes, then %v; want 10 bytes and a retryable stall", len(got), err)
		}
	})
	t.Run("upload", func(t *testing.T) {
		err := c.UploadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "f", strings.NewReader("data"), 4)
		if !IsRetryable(err) {
			t.Fatalf("got %v, want a retryable stall", err)
		}
	})
}

func TestArtifactsNotProxied(t *testing.T) {
	rec, c := newRecorder(t, nil)
	uri := "s3://bucket/mlruns/1/r/artifacts"
	upErr := c.UploadArtifact(t.Context(), uri, "f", strings.NewReader("x"), 1)
	_, downErr := c.DownloadArtifact(t.Context(), uri, "f")
	for _, err := range []error{upErr, downErr} {
		if !errors.Is(err, ErrArtifactsNotProxied) || !strings.Contains(err.Error(), uri) || IsRetryable(err) {
			t.Errorf("got %v, want a non-retryable ErrArtifactsNotProxied naming %s", err, uri)
		}
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestListArtifactsFollowsPages(t *testing.T) {
	var (
		mu      sync.Mutex
		queries []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Query().Get("page_token") == "" {
			w.Write([]byte(`{"root_uri":"x","files":[{"path":"d/a","is_dir":true},{"path":"d/b","file_size":12}],"next_page_token":"t2"}`))
			return
		}
		w.Write([]byte(`{"files":[{"path":"d/c","file_size":"3"}]}`))
	}))
	defer srv.Close()
	files, err := newTestClient(t, Config{TrackingURI: srv.URL}).ListArtifacts(t.Context(), "r1", "d")
	if err != nil {
		t.Fatal(err)
	}
	want := []FileInfo{{Path: "d/a", IsDir: true}, {Path: "d/b", FileSize: 12}, {Path: "d/c", FileSize: 3}}
	if len(files) != len(want) {
		t.Fatalf("got %+v, want %+v", files, want)
	}
	for i := range want {
		if files[i] != want[i] {
			t.Fatalf("got %+v, want %+v", files, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(queries, " ") != "path=d&run_id=r1 page_token=t2&path=d&run_id=r1" {
		t.Fatalf("queries %q", queries)
	}
}
