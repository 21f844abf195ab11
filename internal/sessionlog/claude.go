package sessionlog

import (
	"encoding/json"
	"strings"
)

// claudeAdapter reads Claude Code's project JSONL. One API reply is
// written as several entries sharing message.id, each repeating the same
// usage, so replies and tool calls are counted once per id.
type claudeAdapter struct {
	replies map[string]bool
	calls   map[string]claudeCall // tool_use id → the call
	results map[string]bool       // tool_use ids whose result was read
}

type claudeCall struct {
	name    string
	command int // index in Facts.Commands; -1 for other tools
}

// claudeIgnored are entry types that carry nothing this package reports.
var claudeIgnored = map[string]bool{
	"attachment": true, "file-history-snapshot": true, "file-history-delta": true, "mode": true, "permission-mode": true,
	"atis-latch": true, "tools-used": true, "last-prompt": true, "cost-state": true, "api-request": true,
	"api-request-shape": true, "api-request-blob": true, "progress": true, "queue-operation": true, "summary": true,
	"custom-title": true,
}

type claudeEntry struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	Timestamp   string `json:"timestamp"`
	Cwd         string `json:"cwd"`
	SessionID   string `json:"sessionId"`
	IsSidechain bool   `json:"isSidechain"`
	IsMeta      bool   `json:"isMeta"`
	IsAPIError  bool   `json:"isApiErrorMessage"`
	Content     string `json:"content"` // system entries
	Message     struct {
		ID      string          `json:"id"`
		Model   string          `json:"model"`
		Content json.RawMessage `json:"content"`
		Usage   *struct {
			Input      int64 `json:"input_tokens"`
			Output     int64 `json:"output_tokens"`
			CacheRead  int64 `json:"cache_read_input_tokens"`
			CacheWrite int64 `json:"cache_creation_input_tokens"`
		} `json:"usage"`
	} `json:"message"`
	ToolUseResult json.RawMessage `json:"toolUseResult"`
	// ToolDenialKind is "user-rejected" on the result of a call the user
	// stopped: Ctrl-C or Escape while it ran, or "No" at its prompt.
	ToolDenialKind string `json:"toolDenialKind"`
}

type claudeBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

func (a *claudeAdapter) line(b []byte, f *Facts) {
	var e claudeEntry
	if json.Unmarshal(b, &e) != nil {
		f.Corrupt++
		return
	}
	if claudeIgnored[e.Type] {
		return
	}
	if e.IsSidechain { // a side question's copy; counting it would count twice
		return
	}
	switch e.Type {
	case "user":
		a.meta(&e, f)
		a.user(&e, f)
	case "assistant":
		a.meta(&e, f)
		a.assistant(&e, f)
	case "system":
		a.meta(&e, f)
		if e.Subtype == "api_error" {
			f.fail("api", e.Content)
		}
	default:
		f.Skipped++
	}
}

func (a *claudeAdapter) meta(e *claudeEntry, f *Facts) {
	f.started(e.Timestamp)
	if f.SessionID == "" {
		f.SessionID = e.SessionID
	}
	if f.Cwd == "" {
		f.Cwd = e.Cwd
	}
}

func (a *claudeAdapter) user(e *claudeEntry, f *Facts) {
	var blocks []claudeBlock
	if json.Unmarshal(e.Message.Content, &blocks) != nil {
		// A typed prompt is a plain string.
		a.prompt(e, textOf(e.Message.Content), f)
		return
	}
	var text []string
	for _, bl := range blocks {
		switch bl.Type {
		case "text":
			text = append(text, bl.Text)
		case "tool_result":
			a.result(e, &bl, f)
		}
	}
	if len(text) > 0 {
		a.prompt(e, strings.Join(text, "\n"), f)
	}
}

func (a *claudeAdapter) prompt(e *claudeEntry, text string, f *Facts) {
	switch {
	case e.IsMeta, text == "":
	case strings.HasPrefix(text, "[Request interrupted by user"):
		f.fail("interrupted", text)
	// Slash commands and their output are logged as user entries.
	case strings.HasPrefix(text, "<command-"), strings.HasPrefix(text, "<local-command-"):
	default:
		f.Prompts = append(f.Prompts, text)
	}
}

func (a *claudeAdapter) result(e *claudeEntry, bl *claudeBlock, f *Facts) {
	if a.results == nil {
		a.results = map[string]bool{}
	}
	if a.results[bl.ToolUseID] {
		return
	}
	a.results[bl.ToolUseID] = true
	call, ok := a.calls[bl.ToolUseID]
	text := textOf(bl.Content)
	var bash struct {
		Interrupted bool `json:"interrupted"`
	}
	json.Unmarshal(e.ToolUseResult, &bash)
	isCommand := ok && call.command >= 0
	switch {
	case e.ToolDenialKind == "user-rejected":
		// Not a failure of the tool: the "[Request interrupted by user for
		// tool use]" entry that follows records the interruption once.
	case bash.Interrupted:
		f.fail("interrupted", "interrupted: "+text)
	case isCommand && bl.IsError && exitCodeIn(text, -1) > 0:
		f.exited(call.command, exitCodeIn(text, -1))
	case bl.IsError:
		f.fail("tool", text)
	case isCommand:
		f.exited(call.command, 0) // Claude states only failures
	}
}

func (a *claudeAdapter) assistant(e *claudeEntry, f *Facts) {
	m := &e.Message
	if e.IsAPIError {
		f.fail("api", textOf(m.Content))
		return
	}
	if a.replies == nil {
		a.replies = map[string]bool{}
		a.calls = map[string]claudeCall{}
	}
	if m.ID == "" || !a.replies[m.ID] {
		a.replies[m.ID] = m.ID != ""
		if m.Model != "<synthetic>" { // Claude's own placeholder replies
			f.ModelTurns++
			f.model(m.Model)
			if u := m.Usage; u != nil {
				f.Usage.Input += u.Input
				f.Usage.Output += u.Output
				f.Usage.CacheRead += u.CacheRead
				f.Usage.CacheWrite += u.CacheWrite
			}
		}
	}
	var blocks []claudeBlock
	json.Unmarshal(m.Content, &blocks)
	for _, bl := range blocks {
		if bl.Type != "tool_use" {
			continue
		}
		if _, seen := a.calls[bl.ID]; seen && bl.ID != "" {
			continue
		}
		call := claudeCall{name: bl.Name, command: -1}
		f.useTool(bl.Name)
		var in struct {
			Command      string `json:"command"`
			FilePath     string `json:"file_path"`
			NotebookPath string `json:"notebook_path"`
		}
		json.Unmarshal(bl.Input, &in)
		switch bl.Name {
		case "Bash":
			call.command = len(f.Commands)
			f.Commands = append(f.Commands, Command{Text: in.Command, ExitCode: -1})
		case "Read":
			f.touch(in.FilePath, "read")
		case "Write":
			f.touch(in.FilePath, "written")
		case "Edit", "MultiEdit":
			f.touch(in.FilePath, "edited")
		case "NotebookEdit":
			f.touch(in.NotebookPath, "edited")
		}
		a.calls[bl.ID] = call
	}
}
