package mlflowclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestDecodeErrorBody(t *testing.T) {
	for _, tc := range []struct {
		file, wantCode, wantMessage string
	}{
		{"mlflow-invalid-param.json", "INVALID_PARAMETER_VALUE", "Changing param values is not allowed. Param with key='model'"},
		{"mlflow-run-not-found.json", "RESOURCE_DOES_NOT_EXIST", "Run with id=00000000000000000000000000000000 not found"},
		{"basic-auth-401.txt", "", "You are not authenticated."},
		{"fastapi-503.json", "", "Artifact serving is disabled."},
		{"nginx-502.html", "", "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title>"},
		{"empty.txt", "", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "error-bodies", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			code, msg := decodeErrorBody(body)
			if code != tc.wantCode || !strings.HasPrefix(msg, tc.wantMessage) {
				t.Fatalf("got (%q, %q), want (%q, message starting %q)", code, msg, tc.wantCode, tc.wantMessage)
			}
		})
	}

	t.Run("long raw body is truncated", func(t *testing.T) {
		_, msg := decodeErrorBody([]byte(strings.Repeat("é", 5000)))
		if len(msg) > maxErrorMessageBytes+len(truncatedMarker) || !strings.HasSuffix(msg, truncatedMarker) || !utf8.ValidString(msg) {
			t.Fatalf("message of %d bytes ending %q", len(msg), msg[len(msg)-20:])
		}
	})
	t.Run("terminal escapes are neutralised", func(t *testing.T) {
		_, msg := decodeErrorBody([]byte("bad\x1b[31mred\x00"))
		if msg != "bad [31mred" {
			t.Fatalf("got %q", msg)
		}
	})
}

// FuzzDecodeErrorBody checks the decoder's promises on any body: no panic,
// printable valid UTF-8 of bounded size, and MLflow's JSON errors decoded
// exactly.
func FuzzDecodeErrorBody(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "error-bodies", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"error_code": 5, "message": ["x"]}`))
	f.Add([]byte(`{"detail": [{"loc": ["body"], "msg": "field required"}]}`))
	f.Add([]byte("\xff\xfe\x00garbage"))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := decodeErrorBody(body)
		for _, s := range []string{code, msg} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && unicode.IsControl(r) }) {
				t.Fatalf("control character in %q", s)
			}
		}
		if len(msg) > maxErrorMessageBytes+len(truncatedMarker) {
			t.Fatalf("message of %d bytes", len(msg))
		}
		var doc struct {
			ErrorCode string `json:"error_code"`
			Message   string `json:"message"`
		}
		if json.Unmarshal(body, &doc) == nil && doc.ErrorCode != "" && doc.ErrorCode == cleanMessage(doc.ErrorCode, 64) &&
			doc.Message != "" && doc.Message == cleanMessage(doc.Message, maxErrorMessageBytes) {
			if code != doc.ErrorCode || msg != doc.Message {
				t.Fatalf("MLflow error (%q, %q) decoded as (%q, %q)", doc.ErrorCode, doc.Message, code, msg)
			}
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"Fri, 01 May 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Fri, 01 May 2026 11:00:00 GMT", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		t.Run(tc.header, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.header, now)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %s, %t; want %s, %t", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAPIErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		status               int
		header, body         string
		wantCode, wantPrefix string
		retryable, notFound  bool
		retryAfter           time.Duration
		hasRetryAfter        bool
	}{
		{name: "invalid parameter", status: 400, body: `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad key"}`, wantCode: "INVALID_PARAMETER_VALUE", wantPrefix: "bad key"},
		{name: "already exists is 400", status: 400, body: `{"error_code":"RESOURCE_ALREADY_EXISTS","message":"Experiment(name=x) already exists."}`, wantCode: "RESOURCE_ALREADY_EXISTS", wantPrefix: "Experiment"},
		{name: "resource does not exist", status: 404, body: `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run with id=1 not found"}`, wantCode: "RESOURCE_DOES_NOT_EXIST", wantPrefix: "Run with id", notFound: true},
		{name: "plain 404", status: 404, body: "Not Found", wantPrefix: "Not Found", notFound: true},
		{name: "wrong endpoint is not not-found", status: 404, body: `{"error_code":"ENDPOINT_NOT_FOUND","message":"No API endpoint"}`, wantCode: "ENDPOINT_NOT_FOUND", wantPrefix: "No API"},
		{name: "basic auth", status: 401, body: "You are not authenticated.", wantPrefix: "You are not authenticated."},
		{name: "host check", status: 403, body: "Invalid Host header", wantPrefix: "Invalid Host"},
		{name: "empty body gets the status text", status: 403, wantPrefix: "Forbidden"},
		{name: "408", status: 408, wantPrefix: "Request Timeout", retryable: true},
		{name: "429 with seconds", status: 429, header: "12", body: `{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}`, wantCode: "REQUEST_LIMIT_EXCEEDED", wantPrefix: "slow down", retryable: true, retryAfter: 12 * time.Second, hasRetryAfter: true},
		{name: "429 without header", status: 429, wantPrefix: "Too Many", retryable: true},
		{name: "500", status: 500, body: `{"error_code":"INTERNAL_ERROR","message":"boom"}`, wantCode: "INTERNAL_ERROR", wantPrefix: "boom", retryable: true},
		{name: "501 is final", status: 501, body: `{"error_code":"NOT_IMPLEMENTED","message":"no"}`, wantCode: "NOT_IMPLEMENTED", wantPrefix: "no"},
		{name: "502 html", status: 502, body: "<html><body>Bad Gateway</body></html>", wantPrefix: "<html>", retryable: true},
		{name: "503 with date", status: 503, header: "Fri, 01 May 2026 12:01:00 GMT", body: "busy", wantPrefix: "busy", retryable: true, retryAfter: time.Minute, hasRetryAfter: true},
		{name: "504", status: 504, wantPrefix: "Gateway Timeout", retryable: true},
		{name: "Retry-After ignored on 500", status: 500, header: "5", wantPrefix: "Internal", retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := newTestClient(t, Config{TrackingURI: srv.URL})
			c.now = func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }

			_, err := c.GetRun(t.Context(), "r1")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v, want an *APIError", err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Code != tc.wantCode || !strings.HasPrefix(apiErr.Message, tc.wantPrefix) {
				t.Errorf("got %d %q %q, want %d %q %q…", apiErr.StatusCode, apiErr.Code, apiErr.Message, tc.status, tc.wantCode, tc.wantPrefix)
			}
			if !strings.Contains(apiErr.Endpoint, "GET "+srv.URL+"/api/2.0/mlflow/runs/get") || strings.Contains(apiErr.Endpoint, "?") {
				t.Errorf("endpoint %q", apiErr.Endpoint)
			}
			if IsRetryable(err) != tc.retryable || IsNotFound(err) != tc.notFound {
				t.Errorf("retryable %t, not found %t; want %t, %t", IsRetryable(err), IsNotFound(err), tc.retryable, tc.notFound)
			}
			if d, ok := RetryAfter(err); d != tc.retryAfter || ok != tc.hasRetryAfter {
				t.Errorf("RetryAfter = %s, %t; want %s, %t", d, ok, tc.retryAfter, tc.hasRetryAfter)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused is retryable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c := newTestClient(t, Config{TrackingURI: "http://" + addr})
		_, err = c.GetRun(t.Context(), "r1")
		if !IsRetryable(err) || IsNotFound(err) {
			t.Fatalf("got %v, want a retryable error", err)
		}
	})

	// hang answers only when the test ends, so every request times out.
	hang := func(t *testing.T) *httptest.Server {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(release); srv.Close() })
		return srv
	}

	t.Run("client timeout is retryable", func(t *testing.T) {
		c := newTestClient(t, Config{TrackingURI: hang(t).URL, Timeout: 50 * time.Millisecond})
		_, err := c.GetRun(t.Context(), "r1")
		if !IsRetryable(err) || !strings.Contains(err.Error(), "within 50ms") {
			t.Fatalf("got %v, want a retryable timeout", err)
		}
	})
	t.Run("caller deadline is retryable", func(t *testing.T) {
		c := newTestClient(t, Config{TrackingURI: hang(t).URL})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := c.GetRun(ctx, "r1")
		if !IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want a retryable deadline error", err)
		}
	})
	t.Run("caller cancellation is not retryable", func(t *testing.T) {
		c := newTestClient(t, Config{TrackingURI: hang(t).URL})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := c.GetRun(ctx, "r1")
		if IsRetryable(err) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want a non-retryable cancellation", err)
		}
	})
	t.Run("a non-JSON 200 is not retryable", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>captive portal</html>"))
		}))
		defer srv.Close()
		c := newTestClient(t, Config{TrackingURI: srv.URL})
		_, err := c.GetRun(t.Context(), "r1")
		if err == nil || IsRetryable(err) || !strings.Contains(err.Error(), "captive portal") {
			t.Fatalf("got %v, want a non-retryable error quoting the body", err)
		}
	})
}

func TestOverloadedServerIsRetried(t *testing.T) {
	err := &APIError{StatusCode: 400, Code: CodeBadRequest, Message: "QueuePool limit of size 5 overflow 10 reached, connection timed out"}
	if !IsRetryable(err) || IsPermanent(err) {
		t.Errorf("MLflow's overload answer: retryable %v, permanent %v", IsRetryable(err), IsPermanent(err))
	}
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&APIError{StatusCode: 400, Code: CodeInvalidParameterValue}, true},
		{&APIError{StatusCode: 404, Code: CodeResourceDoesNotExist}, true},
		{&APIError{StatusCode: 404}, false}, // a wrong tracking URI prefix
		{&APIError{StatusCode: 400, Code: CodeBadRequest, Message: "QueuePool limit of size 5 overflow 10 reached"}, false},
		{&APIError{StatusCode: 401}, false}, // fixed by credentials, not by changing the data
		{&APIError{StatusCode: 403}, false},
		{&APIError{StatusCode: 429}, false},
		{&APIError{StatusCode: 503}, false},
		{fmt.Errorf("wrapped: %w", ErrInvalidInput), true},
		{errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
