package parse

import (
	"regexp"
	"strings"
)

// lineCtx is a committed line and, for context, the screen row below it
// when it was committed ("" when unknown).
type lineCtx struct {
	text  string
	below string
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
		{match: matchClaudeToolError},
		{match: matchClaudeUserPrompt},
		{match: matchClaudeShellMode},
	},
	"codex": {
		{match: matchCodexCommand},
		{match: matchCodexEdit},
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
}

const maxCodexRunning = 64

func newRecogniser(provider string) *recogniser {
	rules := append(append([]rule(nil), providerRules[provider]...), genericRules...)
	return &recogniser{rules: rules, codexRunning: map[string]int{}}
}

// line returns the events a committed line shows, in rule order, with the
// git and gh operations of each command after it.
func (rc *recogniser) line(l lineCtx) []Event {
	var out []Event
	seen := map[Kind]bool{}
	for _, r := range rc.rules {
		if r.outputOnly && (seen[KindCommand] || seen[KindToolUse] || seen[KindUserPrompt]) {
			continue
		}
		for _, ev := range r.match(rc, l) {
			if !seen[ev.Kind] {
				seen[ev.Kind] = true
				out = append(out, ev)
			}
		}
	}
	if !seen[KindCommand] {
		return out
	}
	var classified []Event
	for _, ev := range out {
		if ev.Kind != KindCommand {
			classified = append(classified, ev)
			continue
		}
		cmd, ops := classifyCommand(ev)
		classified = append(append(classified, cmd), ops...)
	}
	return classified
}

func commandEvent(text string, fields map[string]string) Event {
	return Event{Kind: KindCommand, Text: text, Fields: fields}
}

// --- generic shapes ---

// promptPatterns capture the command typed after a shell prompt. Prompts
// sit at column 0; the TUIs indent their own output, so their text does not
// match.
var promptPatterns = []*regexp.Regexp{
	// "$ cmd" (PS1='$ '), "bash-5.2$ cmd", "(venv) $ cmd"
	regexp.MustCompile(`^(?:\([^()]*\) )?(?:[\w.-]+)?\$ (.+)$`),
	// "user@host:~/dir$ cmd", "root@host:/# cmd"
	regexp.MustCompile(`^(?:\([^()]*\) )?[\w.-]+@[\w.-]+:[^\s$#]*[$#] (.+)$`),
	// "[user@host dir]$ cmd" (Fedora, RHEL)
	regexp.MustCompile(`^(?:\([^()]*\) )?\[[\w.-]+@[\w.-]+ [^\]]*\][$#] (.+)$`),
	// zsh: "user@host dir % cmd" (macOS default) and "host% cmd"
	regexp.MustCompile(`^[\w.-]+@[\w.-]+ \S+ [%#] (.+)$`),
	regexp.MustCompile(`^[A-Za-z][\w.-]*% (.+)$`),
	// oh-my-zsh robbyrussell: "➜  dir git:(main) ✗ cmd"
	regexp.MustCompile(`^➜ +\S+(?: git:\([^)]*\))?(?: ✗)? +(.+)$`),
}

// rootPrompt is "# cmd": also a comment or a Markdown heading, so it counts
// only when the first word is a known program or a path.
var rootPrompt = regexp.MustCompile(`^# (.+)$`)

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

// commandWord is what a program name or path looks like.
var commandWord = regexp.MustCompile(`^[A-Za-z_./~\[({!][\w.+~/@:\[\]{}()!-]*$`)

// matchShellPrompt recognises a command typed at a shell prompt. Bash
// xtrace lines ("+ cmd", set -x) are deliberately not commands: they echo
// what a script runs, and counting them would count a script's every line.
func matchShellPrompt(_ *recogniser, l lineCtx) []Event {
	if !mayBePrompt(l.text) {
		return nil
	}
	for _, re := range promptPatterns {
		if m := re.FindStringSubmatch(l.text); m != nil {
			if cmd, ok := typedCommand(m[1]); ok {
				return []Event{commandEvent(cmd, nil)}
			}
			return nil
		}
	}
	if m := rootPrompt.FindStringSubmatch(l.text); m != nil {
		if cmd, ok := typedCommand(m[1]); ok {
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
	for _, w := range strings.Fields(s) {
		if !isAssignment(w) {
			first = w
			break
		}
	}
	return s, commandWord.MatchString(first)
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
func matchErrorLine(_ *recogniser, l lineCtx) []Event {
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
	if text = strings.TrimSpace(text); text == "" {
		return nil
	}
	return []Event{{Kind: KindUserPrompt, Text: text}}
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
	codexEdited  = regexp.MustCompile(`^• Edited (\S+)(?: \(\+\d+ -\d+\))?$`)
)

func matchCodexCommand(rc *recogniser, l lineCtx) []Event {
	if m := codexExited.FindStringSubmatch(l.text); m != nil {
		cmd := strings.TrimSpace(m[2])
		events := []Event{{Kind: KindError, Text: strings.TrimSpace(l.text), Fields: map[string]string{"exit_code": m[1]}}}
		if !rc.finishRunning(cmd) {
			events = append(events, commandEvent(cmd, map[string]string{"exit_code": m[1]}))
		}
		return events
	}
	m := codexCommand.FindStringSubmatch(l.text)
	if m == nil {
		return nil
	}
	cmd := strings.TrimSpace(m[2])
	switch m[1] {
	case "Running":
		if len(rc.codexRunning) < maxCodexRunning {
			rc.codexRunning[cmd]++
		}
	case "Ran":
		if rc.finishRunning(cmd) {
			return nil
		}
	}
	return []Event{commandEvent(cmd, nil)}
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

var geminiCard = regexp.MustCompile(`^(?:│\s*)?✓\s+([A-Z][A-Za-z]*)\s+(.+?)\s*│?$`)

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

func matchGeminiUserPrompt(_ *recogniser, l lineCtx) []Event {
	text, ok := strings.CutPrefix(l.text, "> ")
	if !ok {
		return nil
	}
	if text = strings.TrimSpace(text); text == "" {
		return nil
	}
	return []Event{{Kind: KindUserPrompt, Text: text}}
}
