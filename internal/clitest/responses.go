package clitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// responsesRequest is the part of an OpenAI Responses API request the fake
// model reads.
type responsesRequest struct {
	Model  string            `json:"model"`
	Stream bool              `json:"stream"`
	Input  json.RawMessage   `json:"input"`
	Tools  []json.RawMessage `json:"tools"`
	Text   struct {
		Format struct {
			Type   string `json:"type"`
			Schema any    `json:"schema"`
		} `json:"format"`
	} `json:"text"`
}

// responsesItem is an input or output item; which fields are set depends on
// Type.
type responsesItem struct {
	Type      string          `json:"type"`
	ID        string          `json:"id,omitempty"`
	Role      string          `json:"role,omitempty"`
	Status    string          `json:"status,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments string          `json:"arguments,omitempty"`
	Input     string          `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
}

// responsesText flattens a content or output value: a string, or a list of
// parts with text.
func responsesText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return string(raw)
	}
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n")
}

var codexExitCode = regexp.MustCompile(`(?:Process exited with code|Exit code:) (\d+)`)

// decodeResponses turns a Responses API request into a turn.
func (m *FakeModel) decodeResponses(body []byte) (turn, error) {
	var req responsesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return turn{}, fmt.Errorf("decode OpenAI Responses request: %w", err)
	}
	t := turn{model: req.Model, stream: req.Stream, side: len(req.Tools) == 0}
	if req.Text.Format.Type == "json_schema" {
		t.side, t.schema = true, req.Text.Format.Schema
	}
	var items []responsesItem
	var prompt string
	if json.Unmarshal(req.Input, &prompt) == nil {
		return t, nil // a bare string input has no history
	}
	if err := json.Unmarshal(req.Input, &items); err != nil {
		return turn{}, fmt.Errorf("decode OpenAI Responses input: %w", err)
	}
	for _, it := range items {
		switch it.Type {
		case "function_call", "custom_tool_call":
			t.history = append(t.history, historyItem{callID: it.CallID})
		case "message":
			if it.Role == "assistant" {
				t.history = append(t.history, historyItem{text: responsesText(it.Content)})
			}
		case "function_call_output", "custom_tool_call_output":
			out := responsesText(it.Output)
			t.results = append(t.results, m.newToolResult(APIResponses, it.CallID, out, false, exitCode(codexExitCode, out, -1)))
		}
	}
	return t, nil
}

// responsesOutput is the output item that plays d, without its ID.
func responsesOutput(d decision) responsesItem {
	switch d.step.Kind {
	case StepShell:
		args, _ := marshalJSON(map[string]string{"cmd": d.step.Command})
		return responsesItem{Type: "function_call", Status: "completed",
			CallID: toolCallID("call_", d.index), Name: "exec_command", Arguments: string(args)}
	case StepWriteFile:
		return responsesItem{Type: "custom_tool_call", Status: "completed",
			CallID: toolCallID("call_", d.index), Name: "apply_patch", Input: addFilePatch(d.step.Path, d.step.Content)}
	}
	content, _ := marshalJSON([]map[string]any{{"type": "output_text", "text": d.step.Text, "annotations": []any{}}})
	return responsesItem{Type: "message", Role: "assistant", Status: "completed", Content: content}
}

// addFilePatch is an apply_patch input that creates path with content.
func addFilePatch(path, content string) string {
	var b strings.Builder
	b.WriteString("*** Begin Patch\n*** Add File: " + path + "\n")
	for _, line := range strings.SplitAfter(strings.TrimSuffix(content, "\n"), "\n") {
		b.WriteString("+" + strings.TrimSuffix(line, "\n") + "\n")
	}
	b.WriteString("*** End Patch\n")
	return b.String()
}

func (m *FakeModel) serveResponses(w http.ResponseWriter, r *http.Request) {
	rec, err := m.readRequest(APIResponses, r)
	if err != nil {
		m.reject(w, rec, err)
		return
	}
	t, err := m.decodeResponses(rec.Body)
	if err != nil {
		m.reject(w, rec, err)
		return
	}
	d := m.decide(t)
	item := responsesOutput(d)
	outLen := len(item.Content) + len(item.Arguments) + len(item.Input)
	rec.Side, rec.Step, rec.Status = d.side, d.index, http.StatusOK
	rec.Usage = Usage{InputTokens: tokens(len(rec.Body)), OutputTokens: tokens(outLen)}
	seq := strconv.Itoa(m.record(rec))
	item.ID = "item_fake_" + seq

	usage := map[string]any{
		"input_tokens": rec.Usage.InputTokens, "input_tokens_details": map[string]int{"cached_tokens": 0},
		"output_tokens": rec.Usage.OutputTokens, "output_tokens_details": map[string]int{"reasoning_tokens": 0},
		"total_tokens": rec.Usage.InputTokens + rec.Usage.OutputTokens,
	}
	response := func(status string, output []responsesItem, usage any) map[string]any {
		return map[string]any{
			"id": "resp_fake_" + seq, "object": "response", "created_at": time.Now().Unix(), "status": status,
			"model": t.model, "output": output, "usage": usage,
		}
	}
	if !t.stream {
		if err := writeJSON(w, response("completed", []responsesItem{item}, usage)); err != nil {
			m.problem(fmt.Errorf("write OpenAI Responses reply: %w", err))
		}
		return
	}
	sse := newSSEWriter(w)
	n := 0
	send := func(typ string, fields map[string]any) {
		fields["type"], fields["sequence_number"] = typ, n
		n++
		sse.send(typ, fields)
	}
	send("response.created", map[string]any{"response": response("in_progress", []responsesItem{}, nil)})
	send("response.in_progress", map[string]any{"response": response("in_progress", []responsesItem{}, nil)})
	added := item
	added.Status, added.Arguments, added.Input = "in_progress", "", ""
	if item.Type == "message" {
		added.Content = json.RawMessage("[]")
	}
	send("response.output_item.added", map[string]any{"output_index": 0, "item": added})
	switch item.Type {
	case "function_call":
		send("response.function_call_arguments.delta", map[string]any{"item_id": item.ID, "output_index": 0, "delta": item.Arguments})
		send("response.function_call_arguments.done", map[string]any{"item_id": item.ID, "output_index": 0, "arguments": item.Arguments})
	case "custom_tool_call":
		send("response.custom_tool_call_input.delta", map[string]any{"item_id": item.ID, "output_index": 0, "delta": item.Input})
		send("response.custom_tool_call_input.done", map[string]any{"item_id": item.ID, "output_index": 0, "input": item.Input})
	case "message":
		text := responsesText(item.Content)
		// The text events name their place in the item's content.
		at := func(k string, v any) map[string]any {
			return map[string]any{"item_id": item.ID, "output_index": 0, "content_index": 0, k: v}
		}
		part := func(text string) map[string]any {
			return map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
		}
		send("response.content_part.added", at("part", part("")))
		send("response.output_text.delta", at("delta", text))
		send("response.output_text.done", at("text", text))
		send("response.content_part.done", at("part", part(text)))
	}
	send("response.output_item.done", map[string]any{"output_index": 0, "item": item})
	send("response.completed", map[string]any{"response": response("completed", []responsesItem{item}, usage)})
	if sse.err != nil {
		m.problem(fmt.Errorf("write OpenAI Responses stream: %w", sse.err))
	}
}
