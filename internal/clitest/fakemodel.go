package clitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// API names a model API the fake model speaks.
type API string

const (
	// APIAnthropic is the Anthropic Messages API (Claude Code).
	APIAnthropic API = "anthropic-messages"
	// APIResponses is the OpenAI Responses API (Codex CLI).
	APIResponses API = "openai-responses"
	// APIGemini is the Gemini generateContent API (Gemini CLI).
	APIGemini API = "gemini"
)

// Usage is a pair of token counts, as the fake model reported them in its
// replies.
type Usage struct {
	InputTokens, OutputTokens int
}

// Request is one HTTP request the fake model received, with how it answered.
type Request struct {
	API          API // empty for paths the fake model does not serve
	Method, Path string
	Query        string
	Body         []byte
	// Side is true for requests answered outside the script: titles,
	// JSON-schema requests, requests offering no tools.
	Side bool
	// Step is the index of the script step the reply played; -1 for side
	// requests, unserved paths and undecodable bodies.
	Step int
	// Usage is what the reply reported; zero when no reply was made.
	Usage Usage
	// Status is the HTTP status sent.
	Status int
}

// ToolResult is a tool result a CLI sent back to the fake model: the evidence
// of what a tool call did.
type ToolResult struct {
	API    API
	CallID string
	// Step is the index of the script step whose tool call this answers; -1
	// when the call ID is not one the fake model issued.
	Step int
	// Command is the step's shell command; empty for other steps.
	Command string
	// Output is the result text as the CLI sent it.
	Output string
	// IsError is the CLI's own error flag on the result (Claude's is_error,
	// Gemini's error field); Codex has none.
	IsError bool
	// ExitCode is the command's exit status as the result states it: parsed
	// from "Exit code N" (Claude), "Process exited with code N" (Codex) or
	// "Exit Code: N" (Gemini, which states only non-zero codes). -1 when the
	// result states none, e.g. for file writes or interrupted commands.
	ExitCode int
}

// FakeModel is a scripted model API server on 127.0.0.1. Each request is
// answered from the script step that follows the last step the request's
// conversation already contains, so the server keeps no conversation state
// and retries get the same answer. Everything received is recorded.
type FakeModel struct {
	// URL is the server's base URL, http://127.0.0.1:PORT, without a path.
	URL string

	script Script
	srv    *httptest.Server

	mu       sync.Mutex
	requests []Request
	results  []ToolResult
	seenCall map[string]bool
	problems []error
}

// NewFakeModel starts a fake model playing script; it stops when the test
// ends.
func NewFakeModel(t testing.TB, script Script) *FakeModel {
	t.Helper()
	if err := script.Validate(); err != nil {
		t.Fatalf("clitest.NewFakeModel: %v", err)
	}
	m := &FakeModel{script: script, seenCall: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", m.serveAnthropic)
	mux.HandleFunc("POST /v1/responses", m.serveResponses)
	mux.HandleFunc("POST /v1beta/models/{modelAction}", m.serveGemini)
	mux.HandleFunc("/", m.serveUnknown)
	m.srv = httptest.NewServer(mux)
	m.URL = m.srv.URL
	t.Cleanup(m.srv.Close)
	return m
}

// Requests returns every request received so far, in arrival order.
func (m *FakeModel) Requests() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Request(nil), m.requests...)
}

// ToolResults returns every tool result received so far, each call ID once,
// in the order they first arrived (CLIs replay the whole history with every
// request).
func (m *FakeModel) ToolResults() []ToolResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ToolResult(nil), m.results...)
}

// Usage returns the token counts summed over every reply sent so far.
func (m *FakeModel) Usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var u Usage
	for _, r := range m.requests {
		u.InputTokens += r.Usage.InputTokens
		u.OutputTokens += r.Usage.OutputTokens
	}
	return u
}

// Err reports protocol problems seen so far (undecodable bodies, replies
// that could not be written), or nil.
func (m *FakeModel) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.problems...)
}

func (m *FakeModel) serveUnknown(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Step: -1, Status: http.StatusNotFound})
	http.NotFound(w, r)
}

// turn is what the fake model needs from a request, whatever its API.
type turn struct {
	history []historyItem
	results []ToolResult
	// side marks requests answered outside the script; schema is the JSON
	// schema a side request asks the answer to fit, if any.
	side   bool
	schema any
	model  string
	stream bool
}

// decision is the fake model's answer to one request: a script step, or for a
// side request a Say outside the script.
type decision struct {
	side  bool
	index int // script step index; -1 for side answers
	step  Step
}

// decide picks the answer to t and records its tool results.
func (m *FakeModel) decide(t turn) decision {
	m.mu.Lock()
	for _, res := range t.results {
		if m.seenCall[res.CallID] {
			continue
		}
		m.seenCall[res.CallID] = true
		m.results = append(m.results, res)
	}
	m.mu.Unlock()
	if t.side {
		text := "Fake title"
		if t.schema != nil {
			b, _ := marshalJSON(schemaExample(t.schema))
			text = string(b)
		}
		return decision{side: true, index: -1, step: Say(text)}
	}
	i := m.script.nextStep(t.history)
	return decision{index: i, step: m.script.step(i)}
}

// newToolResult fills in what a tool result's call ID says about the step it
// answers; exit is the exit code the API-specific caller parsed.
func (m *FakeModel) newToolResult(api API, callID, output string, isError bool, exit int) ToolResult {
	res := ToolResult{API: api, CallID: callID, Step: -1, Output: output, IsError: isError, ExitCode: exit}
	if n, ok := stepOfCallID(callID); ok && n < len(m.script) {
		res.Step = n
		res.Command = m.script[n].Command
		if m.script[n].Kind != StepShell {
			res.ExitCode = -1
		}
	}
	return res
}

// record appends r to the requests and returns its sequence number, which
// makes reply IDs unique (Claude Code transcripts deduplicate on them).
func (m *FakeModel) record(r Request) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, r)
	return len(m.requests)
}

func (m *FakeModel) problem(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.problems = append(m.problems, err)
}

// readRequest reads a request body and starts its record.
func (m *FakeModel) readRequest(api API, r *http.Request) (Request, error) {
	body, err := io.ReadAll(r.Body)
	rec := Request{API: api, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Step: -1}
	if err != nil {
		return rec, fmt.Errorf("read %s request body: %w", api, err)
	}
	return rec, nil
}

// reject answers a request the fake model could not decode with 400, and
// records it as a problem so the test can report it.
func (m *FakeModel) reject(w http.ResponseWriter, rec Request, err error) {
	rec.Status = http.StatusBadRequest
	m.record(rec)
	m.problem(err)
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// tokens is the token count the fake model reports for n bytes of text:
// about four bytes a token, at least one.
func tokens(n int) int { return n/4 + 1 }

// sseWriter writes server-sent events, flushing each one so the CLI sees
// the stream as it goes.
type sseWriter struct {
	w   io.Writer
	f   http.Flusher
	err error
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sseWriter{w: w, f: f}
}

// send writes one event; an empty name writes a data-only event (Gemini).
func (s *sseWriter) send(name string, data any) {
	if s.err != nil {
		return
	}
	b, err := marshalJSON(data)
	if err != nil {
		s.err = err
		return
	}
	if name != "" {
		_, s.err = fmt.Fprintf(s.w, "event: %s\n", name)
	}
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, "data: %s\n\n", b)
	}
	if s.err == nil && s.f != nil {
		s.f.Flush()
	}
}

// writeJSON answers a non-streaming request.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

// marshalJSON is json.Marshal without HTML escaping, so commands such as
// "echo x > f" travel as written rather than as "\u003e".
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// schemaExample returns a minimal value that fits a JSON schema: the first
// enum or const value, empty strings replaced by "fake", zero numbers, empty
// arrays, and objects with their required properties. It is enough for the
// titles and classifier requests the CLIs make on the side.
func schemaExample(schema any) any {
	s, ok := schema.(map[string]any)
	if !ok {
		return nil
	}
	if c, ok := s["const"]; ok {
		return c
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts, ok := s[key].([]any); ok && len(alts) > 0 {
			return schemaExample(alts[0])
		}
	}
	typ := s["type"]
	if types, ok := typ.([]any); ok && len(types) > 0 {
		typ = types[0]
	}
	switch t, _ := typ.(string); t {
	case "object", "OBJECT", "":
		props, _ := s["properties"].(map[string]any)
		if props == nil && t == "" {
			return nil
		}
		obj := map[string]any{}
		required, _ := s["required"].([]any)
		for _, r := range required {
			name, _ := r.(string)
			obj[name] = schemaExample(props[name])
		}
		return obj
	case "array", "ARRAY":
		return []any{}
	case "string", "STRING":
		return "fake"
	case "integer", "INTEGER", "number", "NUMBER":
		return 0
	case "boolean", "BOOLEAN":
		return false
	}
	return nil
}

// exitCode returns the number captured by re's first group in s, or def.
func exitCode(re *regexp.Regexp, s string, def int) int {
	if m := re.FindStringSubmatch(s); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n
		}
	}
	return def
}
