package clitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// geminiRequest is the part of a Gemini generateContent request the fake
// model reads.
type geminiRequest struct {
	Contents []struct {
		Role  string       `json:"role"`
		Parts []geminiPart `json:"parts"`
	} `json:"contents"`
	Tools []struct {
		FunctionDeclarations []json.RawMessage `json:"functionDeclarations"`
	} `json:"tools"`
	GenerationConfig struct {
		ResponseJSONSchema any `json:"responseJsonSchema"`
		ResponseSchema     any `json:"responseSchema"`
	} `json:"generationConfig"`
}

type geminiPart struct {
	Text             string          `json:"text,omitempty"`
	FunctionCall     *geminiCall     `json:"functionCall,omitempty"`
	FunctionResponse *geminiResponse `json:"functionResponse,omitempty"`
}

type geminiCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type geminiResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

var geminiExitCode = regexp.MustCompile(`Exit Code: (\d+)`)

// geminiResult reads a functionResponse: {"output": ...} or {"error": ...}.
func (m *FakeModel) geminiResult(fr *geminiResponse) ToolResult {
	var body struct {
		Output *string         `json:"output"`
		Error  json.RawMessage `json:"error"`
	}
	out := string(fr.Response)
	if json.Unmarshal(fr.Response, &body) == nil && body.Output != nil {
		out = *body.Output
	}
	isError := len(body.Error) > 0 && string(body.Error) != "null"
	// Gemini CLI states an exit code only when it is not 0.
	exit := 0
	if isError {
		exit = -1
	}
	return m.newToolResult(APIGemini, fr.ID, out, isError, exitCode(geminiExitCode, out, exit))
}

// decodeGemini turns a generateContent request into a turn.
func (m *FakeModel) decodeGemini(body []byte) (turn, error) {
	var req geminiRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return turn{}, fmt.Errorf("decode Gemini generateContent request: %w", err)
	}
	var t turn
	t.side = true
	for _, tool := range req.Tools {
		if len(tool.FunctionDeclarations) > 0 {
			t.side = false
		}
	}
	for _, schema := range []any{req.GenerationConfig.ResponseJSONSchema, req.GenerationConfig.ResponseSchema} {
		if schema != nil {
			t.side, t.schema = true, schema
		}
	}
	for _, c := range req.Contents {
		for _, p := range c.Parts {
			switch {
			case c.Role == "model" && p.FunctionCall != nil:
				t.history = append(t.history, historyItem{callID: p.FunctionCall.ID})
			case c.Role == "model" && p.Text != "":
				t.history = append(t.history, historyItem{text: p.Text})
			case p.FunctionResponse != nil:
				t.results = append(t.results, m.geminiResult(p.FunctionResponse))
			}
		}
	}
	return t, nil
}

// geminiReply is the part that plays d.
func geminiReply(d decision) geminiPart {
	call := func(name string, args map[string]string) geminiPart {
		b, _ := marshalJSON(args)
		return geminiPart{FunctionCall: &geminiCall{ID: toolCallID("", d.index), Name: name, Args: b}}
	}
	switch d.step.Kind {
	case StepShell:
		return call("run_shell_command", map[string]string{
			"command": d.step.Command, "description": "Run script step " + strconv.Itoa(d.index),
		})
	case StepWriteFile:
		return call("write_file", map[string]string{"file_path": d.step.Path, "content": d.step.Content})
	}
	return geminiPart{Text: d.step.Text}
}

func (m *FakeModel) serveGemini(w http.ResponseWriter, r *http.Request) {
	rec, err := m.readRequest(APIGemini, r)
	if err != nil {
		m.reject(w, rec, err)
		return
	}
	model, action, _ := strings.Cut(r.PathValue("modelAction"), ":")
	if action == "countTokens" {
		rec.Status = http.StatusOK
		m.record(rec)
		if err := writeJSON(w, map[string]int{"totalTokens": tokens(len(rec.Body))}); err != nil {
			m.problem(fmt.Errorf("write Gemini countTokens reply: %w", err))
		}
		return
	}
	if action != "generateContent" && action != "streamGenerateContent" {
		m.reject(w, rec, fmt.Errorf("gemini: unsupported action %q in %s", action, r.URL.Path))
		return
	}
	t, err := m.decodeGemini(rec.Body)
	if err != nil {
		m.reject(w, rec, err)
		return
	}
	d := m.decide(t)
	part := geminiReply(d)
	outLen := len(part.Text)
	if part.FunctionCall != nil {
		outLen = len(part.FunctionCall.Args)
	}
	rec.Side, rec.Step, rec.Status = d.side, d.index, http.StatusOK
	rec.Usage = Usage{InputTokens: tokens(len(rec.Body)), OutputTokens: tokens(outLen)}
	seq := m.record(rec)

	// Gemini CLI rejects a stream whose last chunk lacks finishReason and
	// usageMetadata, so the single chunk carries both.
	chunk := map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"role": "model", "parts": []geminiPart{part}},
			"finishReason": "STOP",
			"index":        0,
		}},
		"usageMetadata": map[string]int{
			"promptTokenCount":     rec.Usage.InputTokens,
			"candidatesTokenCount": rec.Usage.OutputTokens,
			"totalTokenCount":      rec.Usage.InputTokens + rec.Usage.OutputTokens,
		},
		"modelVersion": model,
		"responseId":   "fake_response_" + strconv.Itoa(seq),
	}
	if action == "generateContent" || r.URL.Query().Get("alt") != "sse" {
		if action == "streamGenerateContent" {
			err = writeJSON(w, []any{chunk}) // without alt=sse the stream is one JSON array
		} else {
			err = writeJSON(w, chunk)
		}
		if err != nil {
			m.problem(fmt.Errorf("write Gemini reply: %w", err))
		}
		return
	}
	sse := newSSEWriter(w)
	sse.send("", chunk)
	if sse.err != nil {
		m.problem(fmt.Errorf("write Gemini stream: %w", sse.err))
	}
}
