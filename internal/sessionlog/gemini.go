package sessionlog

import (
	"encoding/json"
	"strings"
	"time"
)

// geminiAdapter reads Gemini CLI's chat JSONL: a header line, then message
// lines and {"$set": …} updates. A model message is rewritten under the
// same id as its tool calls complete, so replies and calls count once per id.
type geminiAdapter struct {
	messages map[string]bool // ids of messages already read
	calls    map[string]bool // ids of tool calls already read
}

type geminiMessage struct {
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	Type      string          `json:"type"`
	Content   json.RawMessage `json:"content"`
	Model     string          `json:"model"`
	Tokens    *struct {
		Input  int64 `json:"input"`
		Output int64 `json:"output"`
		Cached int64 `json:"cached"`
	} `json:"tokens"`
	ToolCalls []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Args   struct {
			Command      string `json:"command"`
			FilePath     string `json:"file_path"`
			AbsolutePath string `json:"absolute_path"`
		} `json:"args"`
		Result []struct {
			FunctionResponse struct {
				Response struct {
					Output string `json:"output"`
					Error  string `json:"error"`
				} `json:"response"`
			} `json:"functionResponse"`
		} `json:"result"`
	} `json:"toolCalls"`
}

type geminiLine struct {
	geminiMessage
	SessionID string `json:"sessionId"`
	StartTime string `json:"startTime"`
	Set       *struct {
		Messages []json.RawMessage `json:"messages"`
	} `json:"$set"`
}

func (a *geminiAdapter) line(b []byte, f *Facts) {
	var l geminiLine
	if json.Unmarshal(b, &l) != nil {
		f.Corrupt++
		return
	}
	if a.messages == nil {
		a.messages, a.calls = map[string]bool{}, map[string]bool{}
	}
	switch {
	case l.SessionID != "":
		f.SessionID = l.SessionID
		if t, err := time.Parse(time.RFC3339Nano, l.StartTime); err == nil {
			f.Start = t
		}
	case l.Set != nil:
		for _, raw := range l.Set.Messages {
			var m geminiMessage
			if json.Unmarshal(raw, &m) == nil {
				a.message(&m, f)
			}
		}
	case l.Type != "":
		a.message(&l.geminiMessage, f)
	default:
		f.Skipped++
	}
}

func (a *geminiAdapter) message(m *geminiMessage, f *Facts) {
	f.started(m.Timestamp)
	first := !a.messages[m.ID]
	a.messages[m.ID] = true
	switch m.Type {
	case "user":
		text := textOf(m.Content)
		// Gemini opens each chat with its context as a user message.
		if first && text != "" && !strings.HasPrefix(text, "<session_context>") {
			f.Prompts = append(f.Prompts, text)
		}
	case "gemini":
		if first {
			f.ModelTurns++
			f.model(m.Model)
			if t := m.Tokens; t != nil {
				f.Usage.Input += t.Input
				f.Usage.Output += t.Output
				f.Usage.CacheRead += t.Cached
			}
		}
		a.toolCalls(m, f)
	case "error":
		if first {
			f.fail("api", textOf(m.Content))
		}
	case "info", "warning":
	default:
		f.Skipped++
	}
}

// toolCalls reads a model message's calls once each has finished: a call
// is logged first without its result.
func (a *geminiAdapter) toolCalls(m *geminiMessage, f *Facts) {
	for _, c := range m.ToolCalls {
		if a.calls[c.ID] || c.Status == "" || c.Status == "executing" || c.Status == "scheduled" || c.Status == "validating" {
			continue
		}
		a.calls[c.ID] = true
		f.useTool(c.Name)
		var out, errText string
		for _, r := range c.Result {
			out += r.FunctionResponse.Response.Output
			errText += r.FunctionResponse.Response.Error
		}
		switch c.Status {
		case "cancelled":
			f.fail("interrupted", "cancelled: "+c.Name)
		case "error":
			f.fail("tool", errText+out)
		}
		path := c.Args.FilePath
		if path == "" {
			path = c.Args.AbsolutePath
		}
		switch c.Name {
		case "run_shell_command":
			code := exitCodeIn(out, 0) // Gemini states only non-zero codes
			if c.Status == "cancelled" || c.Status == "error" && code == 0 {
				code = -1
			}
			f.Commands = append(f.Commands, Command{Text: c.Args.Command, ExitCode: -1})
			if c.Status == "error" { // already counted above
				f.Commands[len(f.Commands)-1].ExitCode = code
			} else {
				f.exited(len(f.Commands)-1, code)
			}
		case "read_file":
			f.touch(path, "read")
		case "write_file":
			f.touch(path, "written")
		case "replace", "edit":
			f.touch(path, "edited")
		}
	}
}
