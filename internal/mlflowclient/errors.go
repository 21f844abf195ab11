package mlflowclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MLflow error codes callers switch on (mlflow/protos/databricks.proto).
const (
	CodeInvalidParameterValue = "INVALID_PARAMETER_VALUE"
	CodeResourceAlreadyExists = "RESOURCE_ALREADY_EXISTS"
	CodeResourceDoesNotExist  = "RESOURCE_DOES_NOT_EXIST"
	// CodeBadRequest is MLflow's catch-all for unexpected server errors,
	// sent with status 400: e.g. its database connection pool running dry
	// under load ("QueuePool limit ... reached"). It is not about the
	// request, so it is retried.
	CodeBadRequest = "BAD_REQUEST"
	codeNotFound   = "NOT_FOUND"
)

const (
	// maxErrorMessageBytes keeps a huge error body out of logs.
	maxErrorMessageBytes = 1024
	// maxErrorBodyBytes is how much of an error answer is read.
	maxErrorBodyBytes = 64 << 10
)

var (
	// ErrInvalidInput marks a request the client refused to send because
	// MLflow would reject it (bad key, missing timestamp, ...). Retrying
	// cannot help.
	ErrInvalidInput = errors.New("invalid MLflow request")
	// ErrArtifactsNotProxied means a run's artifact URI is not served by
	// the tracking server's mlflow-artifacts proxy, so this client cannot
	// upload or download it.
	ErrArtifactsNotProxied = errors.New("artifacts are not proxied by the MLflow tracking server")
)

// APIError is a non-2xx answer from the tracking server.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is MLflow's error_code (e.g. INVALID_PARAMETER_VALUE); empty
	// when the body was not an MLflow JSON error.
	Code string
	// Message is the server's message, or the start of the raw body when
	// it was not JSON.
	Message string
	// Endpoint is the request's method and path, without the query.
	Endpoint string

	retryAfter    time.Duration
	hasRetryAfter bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "MLflow %s: HTTP %d", e.Endpoint, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// transportError is a failure to get an answer at all: refused or reset
// connection, DNS, TLS, timeout. It is always worth retrying.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// IsRetryable reports whether sending the same request again may succeed:
// transport failures, timeouts, and HTTP 408, 429, 500, 502, 503, 504 (the
// set MLflow's Python client retries). A cancelled context is not
// retryable; an expired deadline is.
func IsRetryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch apiErr.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return apiErr.Code == CodeBadRequest
	}
	var te *transportError
	return errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded)
}

// IsPermanent reports whether sending the same request again cannot
// succeed until someone changes it or the server's data: a request refused
// before sending, or a validation error (400, 404, 409, 413, 422).
// Authentication errors (401, 403) are not permanent: they end when the
// credentials are fixed, with no change to what is sent.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidInput) {
		return true
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.StatusCode {
	case http.StatusBadRequest:
		return apiErr.Code != CodeBadRequest
	case http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	case http.StatusNotFound:
		// Only MLflow's own "no such run" is about the data; a bare 404
		// means a wrong tracking URI, which is fixed by configuration.
		return apiErr.Code == CodeResourceDoesNotExist
	}
	return false
}

// IsNotFound reports whether the server said the resource does not exist.
// A 404 that names another code (e.g. ENDPOINT_NOT_FOUND, a wrong tracking
// URI prefix) is not "not found": it is a configuration problem.
func IsNotFound(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.Code {
	case CodeResourceDoesNotExist, codeNotFound:
		return true
	case "":
		return apiErr.StatusCode == http.StatusNotFound
	}
	return false
}

// RetryAfter returns how long the server asked to wait, from a Retry-After
// header on a 429 or 503 answer.
func RetryAfter(err error) (time.Duration, bool) {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.hasRetryAfter {
		return 0, false
	}
	return apiErr.retryAfter, true
}

// hasCode reports whether err is an *APIError with the MLflow error code.
func hasCode(err error, code string) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == code
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(header string, now time.Time) (time.Duration, bool) {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(header, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	at, err := http.ParseTime(header)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// decodeErrorBody extracts MLflow's {"error_code", "message"} or
// FastAPI's {"detail": "..."}; any other body becomes raw text. The message
// is cleaned of control characters (it ends up in logs and terminals) and
// truncated.
func decodeErrorBody(body []byte) (code, message string) {
	var doc struct {
		ErrorCode json.RawMessage `json:"error_code"`
		Message   json.RawMessage `json:"message"`
		Detail    json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &doc) == nil {
		code = jsonString(doc.ErrorCode)
		message = jsonString(doc.Message)
		if message == "" {
			message = jsonString(doc.Detail)
		}
		if code != "" || message != "" {
			return cleanMessage(code, 64), cleanMessage(message, maxErrorMessageBytes)
		}
	}
	return "", cleanMessage(string(body), maxErrorMessageBytes)
}

func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

const truncatedMarker = "…[truncated]"

// cleanMessage makes s printable text: valid UTF-8, no control
// characters other than newline and tab, trimmed, at most limit bytes
// (plus a marker when cut).
func cleanMessage(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMarker
}

// redactSecrets replaces every secret in s, in case a server or proxy
// echoes a credential back.
func redactSecrets(s string, secrets []string) string {
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}
