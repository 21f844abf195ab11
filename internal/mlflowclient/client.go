package mlflowclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client talks to one MLflow tracking server. It is safe for concurrent use.
type Client struct {
	cfg       Config // holds secrets: never printed
	base      *url.URL
	http      *http.Client
	timeout   time.Duration
	userAgent string
	now       func() time.Time
}

// New checks the configuration and builds a client; it does not contact the
// server (see Health).
func New(cfg Config) (*Client, error) {
	base, err := parseTrackingURI(cfg.TrackingURI)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("MLflow client timeout %s is negative", cfg.Timeout)
	}
	transport, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		base:      base,
		http:      &http.Client{Transport: transport},
		timeout:   cfg.Timeout,
		userAgent: cfg.UserAgent,
		now:       time.Now,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "aitrack"
	}
	return c, nil
}

// TrackingURI returns the server's base URI, without a trailing slash.
func (c *Client) TrackingURI() string { return c.base.String() }

// String describes the client with secrets redacted.
func (c *Client) String() string { return "mlflowclient.Client{" + c.cfg.String() + "}" }

// GoString keeps %#v from printing the secrets.
func (c *Client) GoString() string { return c.String() }

// Health checks that an MLflow server answers GET /health with 200 "OK".
// Anything else (say the 403 macOS AirPlay gives on port 5000) is not
// healthy.
func (c *Client) Health(ctx context.Context) error {
	resp, body, err := c.roundTrip(ctx, http.MethodGet, c.TrackingURI()+"/health", nil, "")
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr):
		return fmt.Errorf("%s is not a healthy MLflow server (if it never becomes one, another program may hold the port, e.g. macOS AirPlay on 5000): %w", c.TrackingURI(), err)
	case err != nil:
		return fmt.Errorf("MLflow health check: %w", err)
	}
	if got := strings.TrimSpace(string(body)); resp.StatusCode != http.StatusOK || got != "OK" {
		return fmt.Errorf("%s is not an MLflow server: GET /health answered %q instead of \"OK\"", c.TrackingURI(), cleanMessage(got, 100))
	}
	return nil
}

// apiURL returns the URL of a tracking endpoint such as "/runs/create".
func (c *Client) apiURL(path string, query url.Values) string {
	u := c.TrackingURI() + "/api/2.0/mlflow" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

// get sends a GET to a tracking endpoint and decodes the answer into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.callJSON(ctx, http.MethodGet, c.apiURL(path, query), nil, out)
}

// post sends in as JSON to a tracking endpoint and decodes the answer into
// out (nil to ignore it).
func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := marshalJSON(in)
	if err != nil {
		return fmt.Errorf("encode MLflow %s request: %w", path, err)
	}
	return c.callJSON(ctx, http.MethodPost, c.apiURL(path, nil), body, out)
}

func (c *Client) callJSON(ctx context.Context, method, rawURL string, in []byte, out any) error {
	contentType := ""
	if in != nil {
		contentType = "application/json"
	}
	_, body, err := c.roundTrip(ctx, method, rawURL, in, contentType)
	if err != nil || out == nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: the answer is not MLflow JSON (is %s an MLflow server?): %w; body starts %q",
			endpoint(method, rawURL), c.TrackingURI(), err, redactSecrets(cleanMessage(string(body), 200), c.cfg.secrets()))
	}
	return nil
}

// roundTrip sends one request with a small body and reads the whole
// answer, all within the client's timeout. Non-2xx answers become
// *APIError.
func (c *Client) roundTrip(ctx context.Context, method, rawURL string, in []byte, contentType string) (*http.Response, []byte, error) {
	wd, reqCtx := startWatchdog(ctx, c.timeout)
	defer wd.stop()
	var body io.Reader = http.NoBody
	if in != nil {
		body = bytes.NewReader(in)
	}
	req, err := c.newRequest(reqCtx, method, rawURL, body, contentType)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.do(wd, req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, c.transportFailure(wd, endpoint(method, rawURL), err)
	}
	return resp, data, nil
}

// newRequest builds a request with the client's headers and credentials.
func (c *Client) newRequest(ctx context.Context, method, rawURL string, body io.Reader, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidInput, endpoint(method, rawURL), err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", c.userAgent)
	switch {
	case c.cfg.hasBasicAuth():
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	case c.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	return req, nil
}

// do sends req, whose context is wd's, turning failures into classified
// errors and non-2xx answers into *APIError. The caller closes the body of
// a returned response.
func (c *Client) do(wd *watchdog, req *http.Request) (*http.Response, error) {
	ep := endpoint(req.Method, req.URL.String())
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportFailure(wd, ep, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	// Redacted before decoding too, so truncation cannot cut a secret in
	// half and leave a piece.
	code, msg := decodeErrorBody([]byte(redactSecrets(string(raw), c.cfg.secrets())))
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	apiErr := &APIError{
		StatusCode: resp.StatusCode,
		Code:       code,
		Message:    redactSecrets(msg, c.cfg.secrets()),
		Endpoint:   ep,
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		apiErr.retryAfter, apiErr.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	return nil, apiErr
}

// transportFailure classifies a failure to get or read an answer under
// wd. If the caller's context ended, its error decides (cancelled: not
// retryable; deadline: retryable). A rejected TLS certificate is a
// configuration problem, not retryable. Anything else is a retryable
// transport error.
func (c *Client) transportFailure(wd *watchdog, ep string, err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err // its message repeats the URL
	}
	if wd.parent.Err() != nil {
		return fmt.Errorf("%s: %w", ep, err)
	}
	var certErr *tls.CertificateVerificationError
	var opErr *net.OpError
	// crypto/tls reports an alert from the server (e.g. "certificate
	// required" for mTLS) as a net.OpError with this Op.
	if errors.As(err, &certErr) || (errors.As(err, &opErr) && opErr.Op == "remote error") {
		return fmt.Errorf("%s: TLS failed (check MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_TRACKING_CLIENT_CERT_PATH or MLFLOW_TRACKING_INSECURE_TLS): %w", ep, err)
	}
	if wd.fired.Load() {
		err = fmt.Errorf("no answer or progress within %s: %w", c.timeout, err)
	}
	return &transportError{err: fmt.Errorf("%s: %w", ep, err)}
}

// endpoint names a request in messages: method and URL without the query.
func endpoint(method, rawURL string) string {
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		rawURL = rawURL[:i]
	}
	return method + " " + rawURL
}

// watchdog cancels a request that makes no progress for its timeout. JSON
// calls never kick it, so for them it bounds the whole request; artifact
// transfers kick it on every read.
type watchdog struct {
	parent  context.Context
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelFunc
	fired   atomic.Bool
}

func startWatchdog(parent context.Context, timeout time.Duration) (*watchdog, context.Context) {
	ctx, cancel := context.WithCancel(parent)
	wd := &watchdog{parent: parent, timeout: timeout, cancel: cancel}
	wd.timer = time.AfterFunc(timeout, func() {
		wd.fired.Store(true)
		cancel()
	})
	return wd, ctx
}

func (wd *watchdog) kick() { wd.timer.Reset(wd.timeout) }

func (wd *watchdog) stop() {
	wd.timer.Stop()
	wd.cancel()
}

// progressReader kicks the watchdog on every read and remembers why the
// wrapped reader failed (a read error, or not the announced length), so
// a broken upload source is not mistaken for a network failure.
type progressReader struct {
	r    io.Reader
	wd   *watchdog
	want int64 // announced length, -1 if unknown

	mu  sync.Mutex
	got int64
	err error
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.wd.kick()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got += int64(n)
	switch {
	case p.err != nil:
	case err == io.EOF && p.want >= 0 && p.got != p.want:
		p.err = fmt.Errorf("it had %d bytes, %d were announced", p.got, p.want)
	case err != nil && err != io.EOF:
		p.err = err
	}
	return n, err
}

func (p *progressReader) readErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
