package sessionlog

import (
	"encoding/json"
	"strings"
	"time"
)

// codexAdapter reads Codex rollout JSONL. Token usage is cumulative in
// token_count events, so the last total is the session's; a model turn is a
// token_count whose total grew (the same total is re-sent with rate limits).
type codexAdapter struct {
	calls     map[string]codexCall // call_id → the call
	lastTotal int64
}

type codexCall struct {
	command int // index in Facts.Commands; -1 for other tools
}

// codexIgnored are record and payload types that carry nothing this
// package reports; exec_command_end and friends repeat what the function
// calls and their outputs already say.
var codexIgnored = map[string]bool{
	"compacted": true, "world_state": true, "token_usage_record": true,
	"reasoning": true, "web_search_call": true,
	"task_started": true, "task_complete": true, "agent_message": true, "agent_reasoning": true, "user_message": true,
	"item_completed": true, "item_started": true, "thread_settings_applied": true, "exec_command_begin": true,
	"exec_command_end": true, "patch_apply_begin": true, "patch_apply_end": true, "context_compacted": true,
	"web_search_end": true, "mcp_tool_call_begin": true, "mcp_tool_call_end": true, "agent_reasoning_section_break": true,
}

type codexLine struct {
	Timestamp string          `json:"timestamp"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
}

type codexPayload struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Cwd       string          `json:"cwd"`
	Timestamp string          `json:"timestamp"`
	Model     string          `json:"model"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Input     string          `json:"input"`
	CallID    string          `json:"call_id"`
	Output    json.RawMessage `json:"output"`
	Message   string          `json:"message"`
	Reason    string          `json:"reason"`
	Action    struct {
		Command []string `json:"command"`
	} `json:"action"`
	Info *struct {
		Total struct {
			Input      int64 `json:"input_tokens"`
			CacheRead  int64 `json:"cached_input_tokens"`
			CacheWrite int64 `json:"cache_write_input_tokens"`
			Output     int64 `json:"output_tokens"`
			Total      int64 `json:"total_tokens"`
		} `json:"total_token_usage"`
	} `json:"info"`
}

func (a *codexAdapter) line(b []byte, f *Facts) {
	var l codexLine
	var p codexPayload
	if json.Unmarshal(b, &l) != nil || json.Unmarshal(l.Payload, &p) != nil {
		f.Corrupt++
		return
	}
	if a.calls == nil {
		a.calls = map[string]codexCall{}
	}
	f.started(l.Timestamp)
	switch {
	case codexIgnored[l.Type], codexIgnored[p.Type]:
	case l.Type == "session_meta":
		f.SessionID, f.Cwd = p.ID, p.Cwd
		// The session's own start, not the first line's write time.
		if t, err := time.Parse(time.RFC3339Nano, p.Timestamp); err == nil {
			f.Start = t
		}
	case l.Type == "turn_context":
		f.model(p.Model)
	case l.Type == "response_item":
		a.item(&p, f)
	case l.Type == "event_msg":
		a.event(&p, f)
	default:
		f.Skipped++
	}
}

func (a *codexAdapter) item(p *codexPayload, f *Facts) {
	switch p.Type {
	case "message":
		// Codex injects its context (<environment_context>, AGENTS.md …)
		// as user messages; what the user typed is plain text.
		if text := textOf(p.Content); p.Role == "user" && text != "" && !strings.HasPrefix(text, "<") && !strings.HasPrefix(text, "# AGENTS.md") {
			f.Prompts = append(f.Prompts, text)
		}
	case "function_call", "local_shell_call":
		name := p.Name
		if p.Type == "local_shell_call" {
			name = "local_shell"
		}
		f.useTool(name)
		call := codexCall{command: -1}
		if cmd, ok := codexCommand(name, p); ok {
			call.command = len(f.Commands)
			f.Commands = append(f.Commands, Command{Text: cmd, ExitCode: -1})
		}
		a.calls[p.CallID] = call
	case "custom_tool_call":
		f.useTool(p.Name)
		a.calls[p.CallID] = codexCall{command: -1}
		if p.Name == "apply_patch" {
			patchFiles(p.Input, f)
		}
	case "function_call_output", "custom_tool_call_output":
		a.output(p, f)
	default:
		f.Skipped++
	}
}

// codexCommand is the shell command of a tool call, by era: exec_command
// {"cmd"}, shell {"command": argv}, shell_command {"command"}, and
// local_shell_call's action.
func codexCommand(name string, p *codexPayload) (string, bool) {
	var args struct {
		Cmd     string          `json:"cmd"`
		Command json.RawMessage `json:"command"`
	}
	json.Unmarshal([]byte(p.Arguments), &args)
	var argv []string
	switch name {
	case "exec_command":
		return args.Cmd, true
	case "shell_command":
		var s string
		json.Unmarshal(args.Command, &s)
		return s, true
	case "shell", "container.exec":
		json.Unmarshal(args.Command, &argv)
	case "local_shell":
		argv = p.Action.Command
	default:
		return "", false
	}
	// ["bash", "-lc", "<script>"] runs the script the model wrote.
	if len(argv) == 3 && (argv[1] == "-lc" || argv[1] == "-c") {
		return argv[2], true
	}
	return strings.Join(argv, " "), true
}

func (a *codexAdapter) output(p *codexPayload, f *Facts) {
	call, ok := a.calls[p.CallID]
	if !ok {
		return
	}
	delete(a.calls, p.CallID) // a result counts once
	text := textOf(p.Output)
	// The older shell tool answers JSON {"output", "metadata": {"exit_code"}}.
	var old struct {
		Output   string `json:"output"`
		Metadata *struct {
			ExitCode int `json:"exit_code"`
		} `json:"metadata"`
	}
	code := -1
	if json.Unmarshal([]byte(text), &old) == nil && old.Metadata != nil {
		code, text = old.Metadata.ExitCode, old.Output
	} else {
		code = exitCodeIn(text, -1)
	}
	switch {
	case call.command >= 0:
		f.exited(call.command, code)
	case code > 0:
		f.fail("tool", text)
	}
}

func (a *codexAdapter) event(p *codexPayload, f *Facts) {
	switch p.Type {
	case "token_count":
		if p.Info == nil {
			return
		}
		t := p.Info.Total
		if t.Total > a.lastTotal {
			f.ModelTurns++
			a.lastTotal = t.Total
		}
		f.Usage = Usage{Input: t.Input, Output: t.Output, CacheRead: t.CacheRead, CacheWrite: t.CacheWrite}
	case "turn_aborted":
		f.fail("interrupted", "turn aborted: "+p.Reason)
	case "error", "stream_error":
		f.fail("api", p.Message)
	default:
		f.Skipped++
	}
}

// patchFiles records the files an apply_patch input adds, updates or deletes.
func patchFiles(patch string, f *Facts) {
	for _, l := range strings.Split(patch, "\n") {
		switch {
		case strings.HasPrefix(l, "*** Add File: "):
			f.touch(strings.TrimSpace(strings.TrimPrefix(l, "*** Add File: ")), "written")
		case strings.HasPrefix(l, "*** Update File: "):
			f.touch(strings.TrimSpace(strings.TrimPrefix(l, "*** Update File: ")), "edited")
		case strings.HasPrefix(l, "*** Delete File: "):
			f.touch(strings.TrimSpace(strings.TrimPrefix(l, "*** Delete File: ")), "edited")
		}
	}
}
