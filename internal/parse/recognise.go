package parse

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// lineCtx is a committed line and, for context, the screen row below it
// when it was committed ("" when unknown).
type lineCtx struct {
	text  string
	below string
	cols  int  // the terminal's width when the line was committed (0: unknown)
	alt   bool // read from the alternate screen
}

// rule recognises one line shape. Rules are tried in table order, the
// provider's own table before the generic one; a line yields at most one
// event of each kind, from the first rule that gives it.
type rule struct {
	// outputOnly rules (error detection) skip lines already recognised as
	// input: a command line mentioning "No such file" is not an error.
	outputOnly bool
	match      func(rc *recogniser, l lineCtx) []Event
}

var genericRules = []rule{
	{match: matchShellPrompt},
	{match: matchErrorLine, outputOnly: true},
}

var providerRules = map[string][]rule{
	"claude": {
		{match: matchClaudeToolCall},
		{match: matchClaudeSummary},
		{match: matchClaudeToolError},
		{match: matchClaudeUserPrompt},
		{match: matchClaudeShellMode},
	},
	"codex": {
		{match: matchCodexCommand},
		{match: matchCodexEdit},
		{match: matchCodexUserPrompt},
		{match: matchCodexExploreFailed},
	},
	"gemini": {
		{match: matchGeminiToolCard},
		{match: matchGeminiUserPrompt},
	},
}

// recogniser turns committed lines into events. It keeps the little state
// some shapes need across lines.
type recogniser struct {
	rules []rule
	// codexRunning counts commands shown as "• Running cmd" whose
	// "• Ran cmd" / "• Exited" line has not been seen: one command, shown twice.
	codexRunning map[string]int
	// codexPending is a Codex command header whose continuation lines
	// ("  │ …", a long command wrapped) may follow.
	codexPending *codexCommandLine

	// In a TUI's transcript one failure shows as a failed tool call and the
	// error messages in its output: each block (a tool call or prompt and
	// the lines under it) counts one error. blockHeader marks a line that
	// starts a block; blockErr says the current block has its error.
	tui, blockHeader, blockErr bool

	// A shell that marks its prompts (OSC 133) says where each prompt ends
	// and how each command exited: then prompts are the ones it marked,
	// and errors are its non-zero exit statuses, not guesses from the text.
	marked      bool
	prompts     []string // the latest distinct marked prompts
	typed       string   // the command line at a marked prompt, until the shell runs it (C)
	lastCommand string   // the last command run at a marked prompt
	running     bool     // a command was executed (C) and has not finished (D)

	shell shellSplitter // for classifying commands
}

// maxMarkedPrompts bounds the prompts remembered: a prompt showing the
// directory or the time changes, and any of the latest may still be on a
// line not committed yet.
const maxMarkedPrompts = 8

const maxCodexRunning = 64

func newRecogniser(provider string) *recogniser {
	rules, tui := ruleTables[provider]
	if !tui {
		rules = genericRules
	}
	return &recogniser{rules: rules, tui: tui}
}

// ruleTables are each provider's rules followed by the generic ones.
var ruleTables = func() map[string][]rule {
	tables := map[string][]rule{}
	for provider, rules := range providerRules {
		tables[provider] = append(slices.Clip(rules), genericRules...)
	}
	return tables
}()

// line returns the events a committed line shows, in rule order, with the
// git and gh operations of each command after it.
func (rc *recogniser) line(l lineCtx) []Event {
	if rc.codexPending == nil {
		return rc.match(l)
	}
	if rc.codexContinues(l) {
		return nil
	}
	flushed := rc.flush()
	return append(flushed, rc.match(l)...)
}

// flush returns the events of a command still waiting for continuation
// lines; the parser calls it at the end of the stream.
func (rc *recogniser) flush() []Event {
	pending := rc.codexPending
	if pending == nil {
		return nil
	}
	rc.codexPending = nil
	return rc.classify(rc.codexCommandEvents(pending))
}

func (rc *recogniser) match(l lineCtx) []Event {
	if l.alt && !rc.tui {
		// Outside the AI CLIs the alternate screen is a full-screen
		// program's view of something (a file in less or vim, a man page):
		// content that only looks like prompts and error messages.
		return nil
	}
	var out []Event
	var seen kindSet
	for _, r := range rc.rules {
		if r.outputOnly && seen.hasAny(inputKinds) {
			continue
		}
		// A rule may give several events of a kind (a summary of N
		// commands); later rules add none of the kinds it gave.
		events := r.match(rc, l)
		if seen == 0 {
			out = events // the first rule's events, all new
		} else {
			for _, ev := range events {
				if !seen.has(ev.Kind) {
					out = append(out, ev)
				}
			}
		}
		for _, ev := range events {
			seen.add(ev.Kind)
		}
	}
	if rc.tui {
		out = rc.oneErrorPerBlock(out, seen)
	}
	if !seen.has(KindCommand) {
		return out
	}
	return rc.classify(out)
}

// inputKinds are the events of a line the user typed.
var inputKinds = kindSetOf(KindCommand, KindToolUse, KindUserPrompt)

// oneErrorPerBlock drops the error events of a block that has one already.
// Errors counted from a summary line stand for separate failures.
func (rc *recogniser) oneErrorPerBlock(events []Event, seen kindSet) []Event {
	if rc.blockHeader || seen.hasAny(inputKinds) {
		rc.blockErr = false
	}
	rc.blockHeader = false
	kept := events[:0]
	for _, ev := range events {
		if ev.Kind == KindError && ev.Fields["summary"] == "" {
			if rc.blockErr {
				continue
			}
			rc.blockErr = true
		}
		kept = append(kept, ev)
	}
	return kept
}

// classify adds the git and gh operations of each command after it.
// Commands counted from a summary line have no text to classify.
func (rc *recogniser) classify(events []Event) []Event {
	classified := make([]Event, 0, len(events)+2) // room for a command's usual operations
	for _, ev := range events {
		if ev.Kind != KindCommand || ev.Fields["summary"] != "" {
			classified = append(classified, ev)
			continue
		}
		classified = classifyCommand(&rc.shell, classified, ev)
	}
	return classified
}

func commandEvent(text string, fields map[string]string) Event {
	return Event{Kind: KindCommand, Text: text, Fields: fields}
}

// mark takes a shell's semantic prompt mark: B (the prompt ends, input
// starts) teaches the prompt, C (the command runs) makes the line typed
// at the prompt a command, and D;status (it finished) gives its exit
// status, non-zero being the command's error. A line the shell never ran
// (Ctrl-C at the prompt, an empty one) is no command. C may carry the
// command line itself, as the shell read it (cmdline_url=, percent-
// encoded, as kitty's shell integration sends it): that is exact where
// the screen is not (a right-hand prompt on the same row, a command of
// several lines).
func (rc *recogniser) mark(kind byte, arg, prompt string) []Event {
	switch kind {
	case 'B':
		rc.marked, rc.typed = true, ""
		if strings.TrimSpace(prompt) == "" || slices.Contains(rc.prompts, prompt) {
			return nil
		}
		if len(rc.prompts) == maxMarkedPrompts {
			rc.prompts = rc.prompts[1:]
		}
		rc.prompts = append(rc.prompts, prompt)
	case 'C':
		rc.running = true
		cmd := rc.typed
		if enc, ok := strings.CutPrefix(arg, "cmdline_url="); ok {
			// Empty when zsh keeps no history: the screen's line then.
			if line, err := url.PathUnescape(enc); err == nil {
				if c, _ := typedCommand(line); c != "" {
					cmd = c
				}
			}
		}
		rc.typed = ""
		if cmd == "" {
			return nil
		}
		rc.lastCommand = cmd
		return rc.classify([]Event{commandEvent(cmd, nil)})
	case 'D':
		if !rc.running {
			return nil // the first prompt's, or an empty line's
		}
		rc.running = false
		if n, err := strconv.Atoi(arg); err == nil && n != 0 {
			return []Event{{Kind: KindError, Text: fmt.Sprintf("exit status %d: %s", n, rc.lastCommand),
				Fields: map[string]string{"exit_status": arg, "command": rc.lastCommand}}}
		}
	}
	return nil
}

// markedCommand reads the line typed at a prompt the shell marked; it is
// a command once the shell runs it (see mark).
func (rc *recogniser) markedCommand(l lineCtx) []Event {
	for _, p := range slices.Backward(rc.prompts) {
		if rest, ok := strings.CutPrefix(l.text, p); ok {
			rc.typed, _ = typedCommand(rest)
			return nil
		}
	}
	return nil
}

// --- generic shapes ---

// knownPrograms are programs common enough at a root prompt to tell
// "# apt update" from "# Notes".
var knownPrograms = map[string]bool{
	"apt": true, "apt-get": true, "awk": true, "bash": true, "cat": true, "cd": true,
	"chmod": true, "chown": true, "cp": true, "curl": true, "dnf": true, "docker": true,
	"echo": true, "find": true, "gh": true, "git": true, "go": true, "grep": true,
	"kill": true, "less": true, "ls": true, "make": true, "mkdir": true, "mount": true,
	"mv": true, "npm": true, "pip": true, "ps": true, "python": true, "python3": true,
	"rm": true, "sed": true, "sh": true, "ssh": true, "sudo": true, "systemctl": true,
	"tail": true, "tar": true, "top": true, "touch": true, "vi": true, "vim": true,
	"wget": true, "yum": true,
}

// isCommandWord reports whether w looks like a program name or path: a
// letter or one of _ . / ~ [ ( { ! first, then also digits and + @ : ] } ) -.
func isCommandWord(w string) bool {
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("_./~[({!", c) >= 0:
		case i > 0 && (c >= '0' && c <= '9' || strings.IndexByte("+@:]})-", c) >= 0):
		default:
			return false
		}
	}
	return w != ""
}

// matchShellPrompt recognises a command typed at a shell prompt. Bash
// xtrace lines ("+ cmd", set -x) are deliberately not commands: they echo
// what a script runs, and counting them would count a script's every line.
func matchShellPrompt(rc *recogniser, l lineCtx) []Event {
	if l.alt { // a shell prompts on the main screen
		return nil
	}
	if rc.marked {
		return rc.markedCommand(l)
	}
	if !mayBePrompt(l.text) {
		return nil
	}
	for _, prompt := range promptShapes {
		if n := prompt(l.text); n >= 0 {
			if cmd, ok := typedCommand(l.text[n:]); ok {
				return []Event{commandEvent(cmd, nil)}
			}
			return nil
		}
	}
	// "# cmd" is also a comment or a Markdown heading, so it counts only
	// when the first word is a known program or a path.
	if rest, ok := strings.CutPrefix(l.text, "# "); ok {
		if cmd, ok := typedCommand(rest); ok {
			prog, _ := programOf(strings.Fields(cmd))
			if knownPrograms[prog] || strings.Contains(prog, "/") || strings.HasPrefix(cmd, "./") {
				return []Event{commandEvent(cmd, nil)}
			}
		}
	}
	return nil
}

// mayBePrompt is a cheap filter: every prompt shape has one of these.
func mayBePrompt(s string) bool {
	return strings.IndexByte(s, '$') >= 0 || strings.IndexByte(s, '#') >= 0 ||
		strings.IndexByte(s, '%') >= 0 || strings.HasPrefix(s, "➜")
}

// typedCommand trims a command read after a prompt and rejects what is not
// one: nothing, a line abandoned with Ctrl-C ("^C"), a first word that is
// no program name ("US$ 100").
func typedCommand(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, "^C") {
		return "", false
	}
	first := s
	for w := range strings.FieldsSeq(s) {
		if !isAssignment(w) {
			first = w
			break
		}
	}
	return s, isCommandWord(first)
}

// errorContains and errorPrefixes are the generic error shapes.
var (
	errorContains = []string{"command not found", "No such file or directory", "Permission denied"}
	errorPrefixes = []string{"fatal:", "error:", "Error:", "Traceback (most recent call last)"}
)

// connectors are the glyphs TUIs put before tool output lines.
var connectors = []string{"⎿", "└", "│", "├"}

// matchErrorLine recognises an error message, also inside a TUI's tool
// output (after its indentation and ⎿ └ │ connector).
func matchErrorLine(rc *recogniser, l lineCtx) []Event {
	if rc.marked && !rc.tui {
		return nil // the shell reports failures by their exit status
	}
	body := strings.TrimLeft(l.text, " ")
	for _, c := range connectors {
		if rest, ok := strings.CutPrefix(body, c); ok {
			body = strings.TrimLeft(rest, " ")
			break
		}
	}
	for _, c := range errorContains {
		if strings.Contains(body, c) {
			return []Event{{Kind: KindError, Text: strings.TrimSpace(l.text)}}
		}
	}
	for _, p := range errorPrefixes {
		if strings.HasPrefix(body, p) {
			return []Event{{Kind: KindError, Text: strings.TrimSpace(l.text)}}
		}
	}
	// "ERROR: …", "ERROR [x]": upper case alone, not "ERRORS" or a word inside.
	if rest, ok := strings.CutPrefix(body, "ERROR"); ok && (rest == "" || !isLetter(rest[0])) {
		return []Event{{Kind: KindError, Text: strings.TrimSpace(l.text)}}
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// --- Claude Code ---
//
// Evidence (ai-cli-output.md §5, ai-cli-offline-testing.md, claudeless
// captures of v2.1.29): tool headers "⏺ Bash(git status)" (macOS) or
// "● Bash(…)" (Linux), results under "  ⎿  ", failures "⎿  Error: Exit code
// N". Submitted prompts stay in the history as "❯ text" (v2.1.x) or "> text"
// (2025 versions), followed by a blank line; the input box shows the same
// "❯ text" between two "────" rules, so a prompt line directly above a rule
// is the unsent input box, not a prompt.

// claudeFileTools are the tools whose argument is the file they touch.
var claudeFileTools = map[string]bool{"Read": true, "Write": true, "Update": true, "Edit": true, "NotebookEdit": true}

func matchClaudeToolCall(_ *recogniser, l lineCtx) []Event {
	rest, ok := cutBullet(l.text, "●", "⏺")
	if !ok {
		return nil
	}
	name, args, truncated, ok := splitToolCall(rest)
	if !ok {
		return nil
	}
	call := Event{Kind: KindToolUse, Text: strings.TrimSpace(rest), Fields: map[string]string{"tool": name}}
	events := []Event{call}
	fields := map[string]string{"tool": name}
	if truncated {
		fields["truncated"] = "true"
	}
	switch {
	case name == "Bash" && args != "":
		events = append(events, commandEvent(args, fields))
	case claudeFileTools[name] && args != "":
		events = append(events, Event{Kind: KindFileTouched, Text: args, Fields: fields})
	}
	return events
}

func cutBullet(s string, bullets ...string) (string, bool) {
	for _, b := range bullets {
		if rest, ok := strings.CutPrefix(s, b+" "); ok {
			return rest, true
		}
	}
	return "", false
}

// toolName is a Claude tool as displayed: "Bash", "Web Search", "mcp__x__y".
var toolName = regexp.MustCompile(`^(?:[A-Z][A-Za-z0-9_]*(?: [A-Z][A-Za-z0-9_]*)?|mcp__[\w-]+)$`)

// splitToolCall splits "Name(args) suffix" at the parenthesis matching the
// first one. A header cut short ("Name(args…" or wrapped onto the next
// line) yields what is there, marked truncated.
func splitToolCall(s string) (name, args string, truncated, ok bool) {
	open := strings.IndexByte(s, '(')
	if open <= 0 || !toolName.MatchString(s[:open]) {
		return "", "", false, false
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[:open], s[open+1 : i], false, true
			}
		}
	}
	return s[:open], strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s[open+1:]), "…")), true, true
}

var claudeToolError = regexp.MustCompile(`^\s*⎿\s+Error:(?:.*?Exit code (\d+))?`)

func matchClaudeToolError(_ *recogniser, l lineCtx) []Event {
	if !strings.Contains(l.text, "Error:") {
		return nil // cheaper than the expression failing
	}
	m := claudeToolError.FindStringSubmatch(l.text)
	if m == nil {
		return nil
	}
	ev := Event{Kind: KindError, Text: strings.TrimSpace(l.text)}
	if m[1] != "" {
		ev.Fields = map[string]string{"exit_code": m[1]}
	}
	return []Event{ev}
}

// menuChoice is a numbered option of a dialog ("❯ 1. Yes").
var menuChoice = regexp.MustCompile(`^\d+\. `)

func matchClaudeUserPrompt(_ *recogniser, l lineCtx) []Event {
	text, ok := cutBullet(l.text, "❯", ">")
	if !ok || inputBox(l) || menuChoice.MatchString(text) {
		return nil
	}
	return userPrompt(text)
}

// slashCommand is a CLI's own command typed at its prompt ("/exit",
// "/model gpt-5"): it goes to the CLI, not to the model, so it is no user
// prompt.
var slashCommand = regexp.MustCompile(`^/[a-z][\w-]*(?:\s|$)`)

// userPrompt is the prompt event for a submitted prompt's text, if it is one.
func userPrompt(text string) []Event {
	if text = strings.TrimSpace(text); text == "" || slashCommand.MatchString(text) {
		return nil
	}
	return []Event{{Kind: KindUserPrompt, Text: text}}
}

// Claude Code collapses runs of tool calls into summary lines: "Listed 1
// directory, ran 2 shell commands · 1 failed", "Created PR #7, read 1
// file, ran 1 shell command", "Committed 1a2b3c4, ran 3 shell commands"
// (the fullscreen renderer shows nothing else of them; the classic one
// collapses read-only calls so). The clauses that can only be shell
// commands are counted as commands, without text, marked "summary"; a
// created PR and a commit are also a gh and a git operation. "Listed" and
// "Read" can be the file tools, so they are not counted. "· N failed"
// counts N errors.
var (
	claudeSummary       = regexp.MustCompile(`^  [A-Z][a-z]+(?: [A-Za-z]+)* (?:#?\d+|[0-9a-f]{7,40})(?: [a-z]+)*(?:, [a-z]+(?: [A-Za-z]+)* (?:#?\d+|[0-9a-f]{7,40})(?: [a-z]+)*)*(?: · (\d+) failed)?(?: \(ctrl\+o to expand\))?$`)
	claudeRanCommands   = regexp.MustCompile(`(?:^|, )[Rr]an (\d+) shell commands?\b`)
	claudeCreatedPR     = regexp.MustCompile(`(?:^|, )Created PR #\d+\b`)
	claudeCommittedHash = regexp.MustCompile(`(?:^|, )Committed [0-9a-f]{7,40}\b`)
)

// maxSummaryCount bounds the commands one summary line can count.
const maxSummaryCount = 1000

func matchClaudeSummary(_ *recogniser, l lineCtx) []Event {
	if len(l.text) < 3 || l.text[0] != ' ' || l.text[1] != ' ' || l.text[2] < 'A' || l.text[2] > 'Z' ||
		!strings.ContainsAny(l.text, "0123456789") {
		return nil // what the expression requires, cheaply
	}
	m := claudeSummary.FindStringSubmatch(l.text)
	if m == nil {
		return nil
	}
	line := strings.TrimSpace(l.text)
	summary := map[string]string{"summary": "true"}
	var events []Event
	if n := claudeRanCommands.FindStringSubmatch(line); n != nil {
		count, _ := strconv.Atoi(n[1])
		for range min(count, maxSummaryCount) {
			events = append(events, Event{Kind: KindCommand, Text: line, Fields: summary})
		}
	}
	if claudeCreatedPR.MatchString(line) {
		events = append(events, Event{Kind: KindCommand, Text: line, Fields: summary},
			Event{Kind: KindGhOperation, Text: line, Fields: map[string]string{"summary": "true", "program": "gh", "subcommand": "pr create"}})
	}
	if claudeCommittedHash.MatchString(line) {
		events = append(events, Event{Kind: KindCommand, Text: line, Fields: summary},
			Event{Kind: KindGitOperation, Text: line, Fields: map[string]string{"summary": "true", "program": "git", "subcommand": "commit"}})
	}
	if m[1] != "" {
		failed, _ := strconv.Atoi(m[1])
		for range min(failed, maxSummaryCount) {
			events = append(events, Event{Kind: KindError, Text: line, Fields: summary})
		}
	}
	return events
}

// matchClaudeShellMode recognises "! cmd", a command the user runs through
// Claude Code's shell mode.
func matchClaudeShellMode(_ *recogniser, l lineCtx) []Event {
	text, ok := strings.CutPrefix(l.text, "! ")
	if !ok || inputBox(l) {
		return nil
	}
	if cmd, ok := typedCommand(text); ok {
		return []Event{commandEvent(cmd, nil)}
	}
	return nil
}

func inputBox(l lineCtx) bool { return strings.HasPrefix(l.below, "──") }

// --- Codex CLI ---
//
// Evidence (ai-cli-output.md §5, ai-cli-offline-testing.md): "• Ran cmd"
// once finished, "• Running cmd" while it runs (the same command then
// appears again as Ran: counted once), "• You ran cmd" for the user's own
// "!" commands, "• Exited (status N) cmd" for failures in the alternate-
// screen renderer, "• Edited path (+a -b)". The inline renderer shows a
// failure only by the bullet's colour, which this parser does not track.

var (
	codexCommand = regexp.MustCompile(`^• (Ran|Running|You ran) (.+)$`)
	codexExited  = regexp.MustCompile(`^• Exited \(status (\d+)\) (.+)$`)
	codexEdited  = regexp.MustCompile(`^• (?:Edited|Added|Deleted) (\S+)(?: \(\+\d+ -\d+\))?$`)
	// codexContinuation is a further line of a command: its wrapped rest or
	// the next line of a multi-line command.
	codexContinuation = regexp.MustCompile(`^  │ (.*)$`)
)

// codexCommandLine is a Codex command header, completed by the
// continuation lines that follow it.
type codexCommandLine struct {
	verb, text, exit string
	lastWidth        int    // width in cells of the last screen line taken
	lastPiece        string // the command text on that line
	ended            bool   // a line of a multi-line command came: the first line is complete
}

func matchCodexCommand(rc *recogniser, l lineCtx) []Event {
	pending := &codexCommandLine{lastWidth: displayWidth(l.text)}
	defer func() { pending.lastPiece = pending.text }()
	var events []Event
	if m := codexExited.FindStringSubmatch(l.text); m != nil {
		pending.verb, pending.exit, pending.text = "Exited", m[1], m[2]
		events = append(events, Event{Kind: KindError, Text: strings.TrimSpace(l.text), Fields: map[string]string{"exit_code": m[1]}})
	} else if m := codexCommand.FindStringSubmatch(l.text); m != nil {
		pending.verb, pending.text = m[1], m[2]
	} else {
		return nil
	}
	rc.codexPending = pending
	rc.blockHeader = true
	return events
}

// codexContinues takes l into the pending command if it continues it.
// Codex wraps a long command at word boundaries onto "  │ " lines, and
// shows a multi-line command's next lines the same way; a line is the
// wrapped rest when its first word would not have fitted on the line
// before (the command's first line is what is kept, as other renderers
// show).
func (rc *recogniser) codexContinues(l lineCtx) bool {
	m := codexContinuation.FindStringSubmatch(l.text)
	if m == nil {
		return false
	}
	p := rc.codexPending
	if p.ended || l.cols <= 0 || len(p.text) > maxLineBytes {
		p.ended = true
		return true
	}
	rest := m[1]
	first, _, _ := strings.Cut(rest, " ")
	switch {
	case p.lastWidth+1+displayWidth(first) <= l.cols:
		p.ended = true // it would have fitted: a line of its own
		return true
	case !strings.Contains(p.lastPiece, " ") && 2*displayWidth(p.lastPiece) >= l.cols:
		p.text += rest // a word longer than the line, cut
	default:
		p.text += " " + rest
	}
	p.lastWidth, p.lastPiece = displayWidth(l.text), rest
	return true
}

func (rc *recogniser) codexCommandEvents(p *codexCommandLine) []Event {
	cmd := strings.TrimSpace(p.text)
	fields := map[string]string{}
	if cut, ok := strings.CutSuffix(cmd, "…"); ok {
		cmd = strings.TrimSpace(cut)
		fields["truncated"] = "true"
	}
	if cmd == "" {
		return nil
	}
	switch p.verb {
	case "Exited":
		fields["exit_code"] = p.exit
		if rc.finishRunning(cmd) {
			return nil
		}
	case "Running":
		if rc.codexRunning == nil {
			rc.codexRunning = map[string]int{}
		}
		if len(rc.codexRunning) < maxCodexRunning {
			rc.codexRunning[cmd]++
		}
	case "Ran":
		if rc.finishRunning(cmd) {
			return nil
		}
	}
	if len(fields) == 0 {
		fields = nil
	}
	return []Event{commandEvent(cmd, fields)}
}

// finishRunning reports whether cmd was already counted as "• Running".
func (rc *recogniser) finishRunning(cmd string) bool {
	n := rc.codexRunning[cmd]
	switch {
	case n == 0:
		return false
	case n == 1:
		delete(rc.codexRunning, cmd)
	default:
		rc.codexRunning[cmd] = n - 1
	}
	return true
}

// codexExploreFailed is a failed read-only command in an "• Explored"
// group, where Codex shows no command text: "  └ List nonexistent-dir (exit 2)".
var codexExploreFailed = regexp.MustCompile(`^\s+(?:└ )?(?:List|Read|Search)\b.* \(exit (\d+)\)$`)

func matchCodexExploreFailed(_ *recogniser, l lineCtx) []Event {
	if m := codexExploreFailed.FindStringSubmatch(l.text); m != nil {
		return []Event{{Kind: KindError, Text: strings.TrimSpace(l.text), Fields: map[string]string{"exit_code": m[1]}}}
	}
	return nil
}

// codexFooter is the status line under Codex's composer ("gpt-5.5 default ·
// /repo", "? for shortcuts", "← for agents"): a "› text" line above it is
// the unsent composer, not a submitted prompt.
var codexFooter = regexp.MustCompile(`^\s+(?:\S.* · |.*for shortcuts|.*for agents)`)

func matchCodexUserPrompt(_ *recogniser, l lineCtx) []Event {
	text, ok := strings.CutPrefix(l.text, "› ")
	if !ok || codexFooter.MatchString(l.below) {
		return nil
	}
	return userPrompt(text)
}

func matchCodexEdit(_ *recogniser, l lineCtx) []Event {
	if m := codexEdited.FindStringSubmatch(l.text); m != nil {
		return []Event{{Kind: KindFileTouched, Text: m[1], Fields: map[string]string{"tool": "apply_patch"}}}
	}
	return nil
}

// --- Gemini CLI ---
//
// Evidence (ai-cli-output.md §5, ai-cli-offline-testing.md): tool cards
// "│ ✓  Shell git status [current working directory …] (description) │",
// "✓  ReadFile  path", "✓  WriteFile  path → Accepted (+4, -0)",
// "✓  Edit  path → Accepted"; a failed command shows the same ✓, so
// failures are not recognisable on screen. Submitted prompts show as
// "> text" (the composer is a bordered box, "│ > …").

// geminiCard is a finished tool card's title; the card's right border (and
// in the alternate buffer a scrollbar after it) may follow.
var geminiCard = regexp.MustCompile(`^(?:│\s*)?✓\s+([A-Z][A-Za-z]*)\s+(.+?)(?:\s+│.*|\s*)$`)

var geminiFileTools = map[string]bool{"ReadFile": true, "WriteFile": true, "Edit": true}

func matchGeminiToolCard(_ *recogniser, l lineCtx) []Event {
	m := geminiCard.FindStringSubmatch(l.text)
	if m == nil {
		return nil
	}
	name, args := m[1], strings.TrimSpace(m[2])
	call := Event{Kind: KindToolUse, Text: name + " " + args, Fields: map[string]string{"tool": name}}
	switch {
	case name == "Shell":
		if i := strings.Index(args, " [current working directory "); i >= 0 {
			args = args[:i]
		}
		return []Event{call, commandEvent(strings.TrimSpace(args), map[string]string{"tool": name})}
	case geminiFileTools[name]:
		file, _, _ := strings.Cut(args, " ")
		return []Event{call, {Kind: KindFileTouched, Text: file, Fields: map[string]string{"tool": name}}}
	}
	return []Event{call}
}

// matchGeminiUserPrompt recognises a submitted prompt, "> text" (" > text"
// in Gemini CLI 0.61, on a shaded band).
func matchGeminiUserPrompt(_ *recogniser, l lineCtx) []Event {
	text, ok := strings.CutPrefix(strings.TrimPrefix(l.text, " "), "> ")
	if !ok {
		return nil
	}
	return userPrompt(text)
}
