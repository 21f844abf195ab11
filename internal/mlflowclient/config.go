package mlflowclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultTimeout bounds a request when Config.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Config says where the tracking server is and how to authenticate to it.
// Its String and GoString never reveal Password or Token.
type Config struct {
	// TrackingURI is http(s)://host:port[/prefix]. Credentials do not belong
	// in it: use Username and Password.
	TrackingURI string
	// Username and Password select HTTP basic auth; it is preferred over
	// Token when both are set, as in MLflow's Python client.
	Username, Password string
	// Token is sent as a bearer token, only without basic credentials.
	Token string
	// InsecureTLS skips server certificate verification.
	InsecureTLS bool
	// ServerCertPath is a PEM CA bundle that replaces the system roots.
	// Combining it with InsecureTLS is an error.
	ServerCertPath string
	// ClientCertPath is a PEM file holding a client certificate and its
	// key, for mutual TLS.
	ClientCertPath string
	// Timeout bounds each JSON request, and each stretch without progress
	// of an artifact transfer. Zero means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent with every request; empty means "aitrack".
	UserAgent string
}

// ConfigFromEnv reads the environment variables MLflow's Python client
// honours, so both talk to the same server the same way.
func ConfigFromEnv(getenv func(string) string) Config {
	insecure := strings.ToLower(strings.TrimSpace(getenv("MLFLOW_TRACKING_INSECURE_TLS")))
	return Config{
		TrackingURI:    getenv("MLFLOW_TRACKING_URI"),
		Username:       getenv("MLFLOW_TRACKING_USERNAME"),
		Password:       getenv("MLFLOW_TRACKING_PASSWORD"),
		Token:          getenv("MLFLOW_TRACKING_TOKEN"),
		InsecureTLS:    insecure == "true" || insecure == "1",
		ServerCertPath: getenv("MLFLOW_TRACKING_SERVER_CERT_PATH"),
		ClientCertPath: getenv("MLFLOW_TRACKING_CLIENT_CERT_PATH"),
	}
}

// String describes the configuration with secrets redacted.
func (c Config) String() string {
	auth := "none"
	switch {
	case c.hasBasicAuth():
		auth = fmt.Sprintf("basic(user=%q, password=[redacted])", c.Username)
	case c.Token != "":
		auth = "bearer([redacted])"
	}
	return fmt.Sprintf("mlflowclient.Config{TrackingURI: %q, Auth: %s, InsecureTLS: %t, ServerCertPath: %q, ClientCertPath: %q, Timeout: %s, UserAgent: %q}",
		redactURI(c.TrackingURI), auth, c.InsecureTLS, c.ServerCertPath, c.ClientCertPath, c.Timeout, c.UserAgent)
}

// GoString keeps %#v from printing the secrets too.
func (c Config) GoString() string { return c.String() }

func (c Config) hasBasicAuth() bool { return c.Username != "" && c.Password != "" }

// secrets lists the strings that must never reach an error message: the
// password, the token and the encoded basic credentials.
func (c Config) secrets() []string {
	var s []string
	for _, v := range []string{c.Password, c.Token} {
		if v != "" {
			s = append(s, v)
		}
	}
	if c.hasBasicAuth() {
		s = append(s, base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)))
	}
	return s
}

// parseTrackingURI checks the URI and returns it without a trailing slash.
func parseTrackingURI(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("MLflow tracking URI is empty: set MLFLOW_TRACKING_URI to http(s)://host:port")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the input, which may hold credentials.
		return nil, fmt.Errorf("MLflow tracking URI %q is not a valid URL: want http(s)://host:port[/prefix]", redactURI(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("MLflow tracking URI %q: scheme must be http or https (this client speaks only to a tracking server, not to a local store)", u.Redacted())
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("MLflow tracking URI %q has no host: want http(s)://host:port[/prefix]", u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("MLflow tracking URI %q contains credentials: put them in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("MLflow tracking URI %q must not have a query or fragment", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// redactURI hides the password of a URI for messages, also when it does
// not parse.
func redactURI(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		if scheme := strings.Index(raw, "://"); scheme >= 0 && scheme < at {
			return raw[:scheme+3] + "[redacted]" + raw[at:]
		}
		return "[redacted]" + raw[at:]
	}
	return raw
}

// newTransport builds the TLS settings from the configuration.
func newTransport(cfg Config) (*http.Transport, error) {
	if cfg.InsecureTLS && cfg.ServerCertPath != "" {
		return nil, errors.New("MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are mutually exclusive: verify with the CA bundle or skip verification, not both")
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureTLS}
	if cfg.ServerCertPath != "" {
		pem, err := os.ReadFile(cfg.ServerCertPath)
		if err != nil {
			return nil, fmt.Errorf("read MLflow server CA bundle (MLFLOW_TRACKING_SERVER_CERT_PATH): %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("MLflow server CA bundle %s holds no PEM certificate", cfg.ServerCertPath)
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.ClientCertPath != "" {
		pem, err := os.ReadFile(cfg.ClientCertPath)
		if err != nil {
			return nil, fmt.Errorf("read MLflow client certificate (MLFLOW_TRACKING_CLIENT_CERT_PATH): %w", err)
		}
		// One file holds both, as MLflow's Python client expects.
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, fmt.Errorf("MLflow client certificate %s must hold a PEM certificate and its private key: %w", cfg.ClientCertPath, err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsCfg
	return t, nil
}
