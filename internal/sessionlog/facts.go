// Package sessionlog reads the session logs the AI coding CLIs write for
// themselves (Claude Code's project JSONL, Codex's rollout JSONL, Gemini
// CLI's chat JSONL) into typed facts: the exact commands with their exit
// codes, tool uses, files, prompts, errors, models and token usage.
//
// It is the authoritative complement to the terminal view (internal/parse):
// the screen is live but lossy, these logs are exact but private formats
// that change between CLI versions, so every adapter skips and counts what
// it does not know instead of failing. It does not talk to MLflow and does
// not know about sessions of aitrack; the daemon decides what to do with
// the facts.
package sessionlog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Format names a session log format; its values are aitrack's provider
// names.
type Format string

const (
	Claude Format = "claude" // ~/.claude/projects/<cwd-slug>/<session-id>.jsonl
	Codex  Format = "codex"  // ~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<id>.jsonl
	Gemini Format = "gemini" // ~/.gemini/tmp/<project>/chats/session-*.jsonl
)

// Formats lists the formats this package reads.
var Formats = []Format{Claude, Codex, Gemini}

// Command is one shell command the CLI ran for the model.
type Command struct {
	Text string `json:"text"`
	// ExitCode is the command's exit status; -1 while unknown (no result
	// yet, or a result that states none, e.g. an interrupted command).
	ExitCode int `json:"exit_code"`
}

// Error is something that went wrong in the session, as the log says.
type Error struct {
	Kind string // "tool" (a failed tool call or command), "api" or "interrupted"
	Text string // the first line of the CLI's message
}

// Usage is token usage summed over the session's model replies.
type Usage struct {
	Input, Output, CacheRead, CacheWrite int64
}

// Facts is what a session log says about its session.
type Facts struct {
	Format    Format
	SessionID string
	Cwd       string    // the CLI's working directory
	Start     time.Time // the first timestamp in the log
	Models    []string  // distinct, in order of first use
	Prompts   []string  // what the user typed, in order
	Commands  []Command // in the order the model asked for them
	// ToolUses counts tool calls by the CLI's own tool name.
	ToolUses map[string]int
	// Files maps each file the tools read or changed to "read", "written"
	// or "edited" (the strongest operation seen: edited > written > read).
	Files      map[string]string
	Errors     []Error
	ToolErrors int // tool calls that failed, commands with non-zero exit included
	Usage      Usage
	ModelTurns int // model replies (deduplicated as the format requires)
	// Skipped counts records of types this package does not read, Corrupt
	// the lines that are not valid JSON (a torn write, a foreign line).
	Skipped, Corrupt int
}

// ToolUseTotal is the number of tool calls.
func (f *Facts) ToolUseTotal() int {
	n := 0
	for _, c := range f.ToolUses {
		n += c
	}
	return n
}

// GitOperations and GhOperations count the commands that run git or gh.
func (f *Facts) GitOperations() int { return f.countProgram("git") }
func (f *Facts) GhOperations() int  { return f.countProgram("gh") }

func (f *Facts) countProgram(name string) int {
	n := 0
	for _, c := range f.Commands {
		if slices.Contains(Programs(c.Text), name) {
			n++
		}
	}
	return n
}

// Programs returns the programs a shell command line runs: the first word
// of each simple command separated by ; && || | or a newline, with leading
// variable assignments and sudo/env/time prefixes skipped. It is a
// heuristic for counting, not a shell parser.
func Programs(cmd string) []string {
	var out []string
	seps := strings.NewReplacer("&&", "\n", "||", "\n", ";", "\n", "|", "\n", "(", "\n", ")", "\n", "$", "\n")
	for _, seg := range strings.Split(seps.Replace(cmd), "\n") {
		for _, w := range strings.Fields(seg) {
			if strings.Contains(w, "=") || w == "sudo" || w == "env" || w == "time" || w == "command" || w == "exec" {
				continue
			}
			if i := strings.LastIndexByte(w, '/'); i >= 0 {
				w = w[i+1:]
			}
			out = append(out, w)
			break
		}
	}
	return out
}

// FailedCommands counts the commands with a known non-zero exit code.
func (f *Facts) FailedCommands() int {
	n := 0
	for _, c := range f.Commands {
		if c.ExitCode > 0 {
			n++
		}
	}
	return n
}

// Metrics are the figures of f under aitrack's run metric names.
func (f *Facts) Metrics() map[string]float64 {
	m := map[string]float64{
		"commands_executed":  float64(len(f.Commands)),
		"git_operations":     float64(f.GitOperations()),
		"gh_operations":      float64(f.GhOperations()),
		"tool_uses":          float64(f.ToolUseTotal()),
		"user_prompts":       float64(len(f.Prompts)),
		"errors_encountered": float64(len(f.Errors)),
		"files_touched":      float64(len(f.Files)),
		"input_tokens":       float64(f.Usage.Input),
		"output_tokens":      float64(f.Usage.Output),
		"cache_read_tokens":  float64(f.Usage.CacheRead),
		"cache_write_tokens": float64(f.Usage.CacheWrite),
		"model_turns":        float64(f.ModelTurns),
		"tool_errors":        float64(f.ToolErrors),
	}
	for name, n := range f.ToolUses {
		m["tool_uses."+name] = float64(n)
	}
	return m
}

// clone returns a deep copy, so that a caller's Facts do not change under
// it while the reader goes on.
func (f *Facts) clone() Facts {
	c := *f
	c.Models = slices.Clone(f.Models)
	c.Prompts = slices.Clone(f.Prompts)
	c.Commands = slices.Clone(f.Commands)
	c.Errors = slices.Clone(f.Errors)
	c.ToolUses = make(map[string]int, len(f.ToolUses))
	for k, v := range f.ToolUses {
		c.ToolUses[k] = v
	}
	c.Files = make(map[string]string, len(f.Files))
	for k, v := range f.Files {
		c.Files[k] = v
	}
	return c
}

// fileRank orders file operations: a file both read and edited is edited.
var fileRank = map[string]int{"read": 1, "written": 2, "edited": 3}

func (f *Facts) touch(path, op string) {
	if path == "" {
		return
	}
	if f.Files == nil {
		f.Files = map[string]string{}
	}
	if fileRank[op] > fileRank[f.Files[path]] {
		f.Files[path] = op
	}
}

func (f *Facts) useTool(name string) {
	if f.ToolUses == nil {
		f.ToolUses = map[string]int{}
	}
	f.ToolUses[name]++
}

func (f *Facts) model(name string) {
	if name != "" && !slices.Contains(f.Models, name) {
		f.Models = append(f.Models, name)
	}
}

func (f *Facts) fail(kind, text string) {
	first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	f.Errors = append(f.Errors, Error{Kind: kind, Text: first})
	if kind == "tool" {
		f.ToolErrors++
	}
}

// exited records command i's exit status; a failure is a tool error.
func (f *Facts) exited(i, code int) {
	f.Commands[i].ExitCode = code
	if code > 0 {
		f.fail("tool", fmt.Sprintf("exit code %d: %s", code, f.Commands[i].Text))
	}
}

func (f *Facts) started(ts string) {
	if !f.Start.IsZero() || ts == "" {
		return
	}
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		f.Start = t
	}
}
