package clitest

import (
	"fmt"
	"strconv"
	"strings"
)

// StepKind says what the fake model does in one Step.
type StepKind int

const (
	// StepShell asks the CLI to run a shell command (a tool call).
	StepShell StepKind = iota + 1
	// StepWriteFile asks the CLI to write a file (a tool call).
	StepWriteFile
	// StepSay answers with text and ends the model's turn.
	StepSay
)

func (k StepKind) String() string {
	switch k {
	case StepShell:
		return "shell"
	case StepWriteFile:
		return "write-file"
	case StepSay:
		return "say"
	}
	return "StepKind(" + strconv.Itoa(int(k)) + ")"
}

// Step is one model response of a Script.
type Step struct {
	Kind StepKind
	// Command is the shell command of a StepShell.
	Command string
	// Path and Content are the file of a StepWriteFile. Path should be
	// absolute: Claude Code's Write tool refuses relative paths.
	Path, Content string
	// Text is the answer of a StepSay.
	Text string
}

// Shell is a step that runs command through the CLI's shell tool.
func Shell(command string) Step { return Step{Kind: StepShell, Command: command} }

// WriteFile is a step that writes content to path through the CLI's file tool.
func WriteFile(path, content string) Step {
	return Step{Kind: StepWriteFile, Path: path, Content: content}
}

// Say is a step that answers text and ends the turn, handing control back to
// the user.
func Say(text string) Step { return Step{Kind: StepSay, Text: text} }

func (s Step) String() string {
	switch s.Kind {
	case StepShell:
		return "shell " + strconv.Quote(s.Command)
	case StepWriteFile:
		return "write " + s.Path
	case StepSay:
		return "say " + strconv.Quote(s.Text)
	}
	return s.Kind.String()
}

// Script is the fake model's moves in order. Each user prompt starts after the
// last step the conversation already contains, so a script for two prompts is
// the first prompt's steps, a Say, then the second prompt's steps and a Say.
type Script []Step

// exhaustedText is what the fake model says once the script has no steps
// left, so a test that under-scripts sees it on screen instead of a hang.
const exhaustedText = "fake model: script exhausted"

// toolCallIDPrefix marks tool calls issued by the fake model; the step index
// follows it, which is how a stateless server finds its place again.
const toolCallIDPrefix = "aitrack_step_"

// toolCallID is the call ID the fake model gives step i's tool call; prefix is
// the API's customary ID prefix ("toolu_", "call_", "").
func toolCallID(prefix string, step int) string {
	return prefix + toolCallIDPrefix + strconv.Itoa(step)
}

// stepOfCallID recovers the step index from a tool call ID made by
// toolCallID, whatever the prefix; ok is false for foreign IDs.
func stepOfCallID(id string) (step int, ok bool) {
	i := strings.LastIndex(id, toolCallIDPrefix)
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(id[i+len(toolCallIDPrefix):])
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// historyItem is one thing the model said earlier, as a request replays it:
// a tool call (with its ID) or a text.
type historyItem struct {
	callID string
	text   string
}

// nextStep returns the index of the step that answers a request whose
// conversation history contains the model's earlier items in order. It
// follows the last item the fake model produced: a tool call by its ID, a Say
// by its text. Nothing but the request decides, so a retried request gets the
// same answer.
func (s Script) nextStep(history []historyItem) int {
	last := -1
	for _, h := range history {
		if h.callID != "" {
			if n, ok := stepOfCallID(h.callID); ok && n < len(s) {
				last = n
			}
			continue
		}
		text := strings.TrimSpace(h.text)
		for i := last + 1; i < len(s); i++ {
			if s[i].Kind == StepSay && strings.TrimSpace(s[i].Text) == text {
				last = i
				break
			}
		}
	}
	return last + 1
}

// step returns step i, or a Say of exhaustedText past the end.
func (s Script) step(i int) Step {
	if i < 0 || i >= len(s) {
		return Say(exhaustedText)
	}
	return s[i]
}

// Validate reports a step that cannot be played: an empty command or path, or
// an unknown kind.
func (s Script) Validate() error {
	for i, st := range s {
		var bad bool
		switch st.Kind {
		case StepShell:
			bad = st.Command == ""
		case StepWriteFile:
			bad = st.Path == ""
		case StepSay:
			bad = st.Text == ""
		default:
			bad = true
		}
		if bad {
			return fmt.Errorf("script step %d (%v) is incomplete", i, st)
		}
	}
	return nil
}
