package clitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// anthropicRequest is the part of a Messages API request the fake model
// reads.
type anthropicRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools        []json.RawMessage `json:"tools"`
	OutputConfig struct {
		Format struct {
			Type   string `json:"type"`
			Schema any    `json:"schema"`
		} `json:"format"`
	} `json:"output_config"`
}

// anthropicBlock is a content block; which fields are set depends on Type.
type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

// anthropicBlocks decodes message content, which is a string or a list of
// blocks.
func anthropicBlocks(raw json.RawMessage) ([]anthropicBlock, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anthropicBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, fmt.Errorf("message content is neither a string nor a list of blocks: %w", err)
	}
	return blocks, nil
}

// anthropicText flattens tool_result content (a string or text blocks).
func anthropicText(raw json.RawMessage) string {
	blocks, err := anthropicBlocks(raw)
	if err != nil {
		return string(raw)
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

var claudeExitCode = regexp.MustCompile(`Exit code (\d+)`)

// decodeAnthropic turns a Messages API request into a turn.
func (m *FakeModel) decodeAnthropic(body []byte) (turn, error) {
	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return turn{}, fmt.Errorf("decode Anthropic Messages request: %w", err)
	}
	t := turn{model: req.Model, stream: req.Stream, side: len(req.Tools) == 0}
	if req.OutputConfig.Format.Schema != nil {
		t.side, t.schema = true, req.OutputConfig.Format.Schema
	}
	for i, msg := range req.Messages {
		blocks, err := anthropicBlocks(msg.Content)
		if err != nil {
			return turn{}, fmt.Errorf("decode Anthropic message %d: %w", i, err)
		}
		for _, b := range blocks {
			switch {
			case msg.Role == "assistant" && b.Type == "tool_use":
				t.history = append(t.history, historyItem{callID: b.ID})
			case msg.Role == "assistant" && b.Type == "text":
				t.history = append(t.history, historyItem{text: b.Text})
			case msg.Role == "user" && b.Type == "tool_result":
				out := anthropicText(b.Content)
				exit := 0
				if b.IsError {
					exit = exitCode(claudeExitCode, out, -1)
				}
				t.results = append(t.results, m.newToolResult(APIAnthropic, b.ToolUseID, out, b.IsError, exit))
			}
		}
	}
	return t, nil
}

// anthropicReply is the content block and stop reason that play d.
func anthropicReply(d decision) (anthropicBlock, string) {
	switch d.step.Kind {
	case StepShell:
		input, _ := marshalJSON(map[string]string{
			"command":     d.step.Command,
			"description": "Run script step " + strconv.Itoa(d.index),
		})
		return anthropicBlock{Type: "tool_use", ID: toolCallID("toolu_", d.index), Name: "Bash", Input: input}, "tool_use"
	case StepWriteFile:
		input, _ := marshalJSON(map[string]string{"file_path": d.step.Path, "content": d.step.Content})
		return anthropicBlock{Type: "tool_use", ID: toolCallID("toolu_", d.index), Name: "Write", Input: input}, "tool_use"
	}
	return anthropicBlock{Type: "text", Text: d.step.Text}, "end_turn"
}

func (m *FakeModel) serveAnthropic(w http.ResponseWriter, r *http.Request) {
	rec, err := m.readRequest(APIAnthropic, r)
	if err != nil {
		m.reject(w, rec, err)
		return
	}
	t, err := m.decodeAnthropic(rec.Body)
	if err != nil {
		m.reject(w, rec, err)
		return
	}
	d := m.decide(t)
	block, stop := anthropicReply(d)
	outLen := len(block.Text) + len(block.Input)
	rec.Side, rec.Step, rec.Status = d.side, d.index, http.StatusOK
	rec.Usage = Usage{InputTokens: tokens(len(rec.Body)), OutputTokens: tokens(outLen)}
	msgID := "msg_fake_" + strconv.Itoa(m.record(rec))
	usage := map[string]int{"input_tokens": rec.Usage.InputTokens, "output_tokens": rec.Usage.OutputTokens}
	if !t.stream {
		err := writeJSON(w, map[string]any{
			"id": msgID, "type": "message", "role": "assistant", "model": t.model,
			"content": []anthropicBlock{block}, "stop_reason": stop, "stop_sequence": nil, "usage": usage,
		})
		if err != nil {
			m.problem(fmt.Errorf("write Anthropic reply: %w", err))
		}
		return
	}
	sse := newSSEWriter(w)
	sse.send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": msgID, "type": "message", "role": "assistant", "model": t.model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": rec.Usage.InputTokens, "output_tokens": 1},
	}})
	start := map[string]any{"type": "text", "text": ""}
	delta := map[string]any{"type": "text_delta", "text": block.Text}
	if block.Type == "tool_use" {
		start = map[string]any{"type": "tool_use", "id": block.ID, "name": block.Name, "input": map[string]any{}}
		delta = map[string]any{"type": "input_json_delta", "partial_json": string(block.Input)}
	}
	sse.send("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": start})
	sse.send("ping", map[string]any{"type": "ping"})
	sse.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": delta})
	sse.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	sse.send("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": rec.Usage.OutputTokens},
	})
	sse.send("message_stop", map[string]any{"type": "message_stop"})
	if sse.err != nil {
		m.problem(fmt.Errorf("write Anthropic stream: %w", sse.err))
	}
}
