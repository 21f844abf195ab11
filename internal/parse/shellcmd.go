package parse

import (
	"path"
	"strings"
)

// shellSegment is one simple command of a command line: `git status` in
// `cd repo && git status | head`.
type shellSegment struct {
	raw   string   // its text as typed, trimmed
	words []string // its words with quotes removed and redirections dropped
}

// splitShell splits a command line into simple commands at |, |&, ||, &&,
// ;, & and newlines outside quotes. Command substitutions $(…) and `…` stay
// inside their word: `echo $(git rev-parse HEAD)` is an echo, not a git
// operation. It is a classifier's approximation of the shell grammar, not
// a parser: it never fails, whatever it is given.
func splitShell(line string) []shellSegment {
	var (
		segs     []shellSegment
		words    []string
		word     strings.Builder
		inWord   bool
		skipNext bool // the next word is a redirection target
		segStart int
	)
	endWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		word.Reset()
		inWord = false
		switch {
		case skipNext:
			skipNext = false
		case w == "{" || w == "}" || w == "!":
		default:
			words = append(words, w)
		}
	}
	endSeg := func(end int) {
		endWord()
		skipNext = false
		if len(words) > 0 {
			segs = append(segs, shellSegment{raw: trimGrouping(line[segStart:end]), words: words})
		}
		words = nil
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			endWord()
			i++
		case c == '\\':
			if i+1 < len(line) {
				word.WriteByte(line[i+1])
			}
			inWord = true
			i += 2
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 2
		case c == '"':
			i = readDoubleQuoted(line, i+1, &word)
			inWord = true
		case c == '$' && i+1 < len(line) && line[i+1] == '(', c == '`':
			j := skipSubstitution(line, i)
			word.WriteString(line[i:j])
			inWord = true
			i = j
		case c == '#' && !inWord:
			endSeg(i)
			return segs
		case c == ';' || c == '\n':
			endSeg(i)
			i++
			segStart = i
		case c == '>' || c == '<' || c == '&' && i+1 < len(line) && line[i+1] == '>':
			if inWord && isDigits(word.String()) { // the 2 of 2>&1 is no word
				word.Reset()
				inWord = false
			}
			endWord()
			j := skipRedirection(line, i)
			skipNext = redirectionHasTarget(line[i:j])
			i = j
		case c == '&' || c == '|':
			endSeg(i)
			i++
			if i < len(line) && (line[i] == '&' || line[i] == '|') {
				i++
			}
			segStart = i
		case c == '(' || c == ')':
			endWord()
			i++
		default:
			word.WriteByte(c)
			inWord = true
			i++
		}
	}
	endSeg(len(line))
	return segs
}

// trimGrouping removes the unbalanced ( ) { } a subshell or group leaves
// at the ends of a segment: "(cd x" and "make)" in "(cd x && make)".
func trimGrouping(raw string) string {
	raw = strings.TrimSpace(raw)
	for _, p := range [][2]string{{"(", ")"}, {"{", "}"}} {
		for strings.HasPrefix(raw, p[0]) && strings.Count(raw, p[0]) > strings.Count(raw, p[1]) {
			raw = strings.TrimSpace(raw[1:])
		}
		for strings.HasSuffix(raw, p[1]) && strings.Count(raw, p[1]) > strings.Count(raw, p[0]) {
			raw = strings.TrimSpace(raw[:len(raw)-1])
		}
		for enclosed(raw, p[0][0], p[1][0]) {
			raw = strings.TrimSpace(raw[1 : len(raw)-1])
		}
	}
	return raw
}

// enclosed reports whether s is one open…close pair: "(a (b))" but not "(a) (b)".
func enclosed(s string, open, close byte) bool {
	if len(s) < 2 || s[0] != open || s[len(s)-1] != close {
		return false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 && i < len(s)-1 {
				return false
			}
		}
	}
	return depth == 0
}

// readDoubleQuoted appends the contents of a double-quoted string starting
// at i (after the quote) and returns the index after the closing quote.
func readDoubleQuoted(line string, i int, w *strings.Builder) int {
	for i < len(line) {
		switch c := line[i]; {
		case c == '"':
			return i + 1
		case c == '\\' && i+1 < len(line):
			w.WriteByte(line[i+1])
			i += 2
		case c == '$' && i+1 < len(line) && line[i+1] == '(', c == '`':
			j := skipSubstitution(line, i)
			w.WriteString(line[i:j])
			i = j
		default:
			w.WriteByte(c)
			i++
		}
	}
	return i
}

// skipSubstitution returns the index after the $(…) or `…` starting at i.
func skipSubstitution(line string, i int) int {
	if line[i] == '`' {
		for j := i + 1; j < len(line); j++ {
			switch line[j] {
			case '\\':
				j++
			case '`':
				return j + 1
			}
		}
		return len(line)
	}
	depth := 0
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			j++
		case '\'':
			if k := strings.IndexByte(line[j+1:], '\''); k >= 0 {
				j += k + 1
			} else {
				return len(line)
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(line)
}

// skipRedirection returns the index after a redirection operator such as
// >, >>, 2>&1's >&1, <<, <<<, &>, >|.
func skipRedirection(line string, i int) int {
	for i < len(line) && strings.IndexByte("<>&|-", line[i]) >= 0 {
		i++
		if i > 0 && line[i-1] == '&' {
			for i < len(line) && line[i] >= '0' && line[i] <= '9' {
				i++
			}
		}
	}
	return i
}

// redirectionHasTarget reports whether a redirection operator is followed
// by a file word (> out, << EOF, &> log) rather than naming a descriptor
// itself (>&2, <&-).
func redirectionHasTarget(op string) bool {
	amp := strings.LastIndexByte(op, '&')
	if amp < 0 || amp == 0 && len(op) > 1 && op[1] == '>' {
		return true
	}
	rest := op[amp+1:]
	return rest != "-" && !isDigits(rest)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAssignment(w string) bool {
	eq := strings.IndexByte(w, '=')
	if eq <= 0 {
		return false
	}
	for i := 0; i < eq; i++ {
		c := w[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// wrapperArgs lists commands that run another command, with their options
// that take a value (so the value is not mistaken for the program).
var wrapperArgs = map[string]string{
	"sudo":    "ugCDprtUTh",
	"doas":    "uC",
	"env":     "uCS",
	"command": "",
	"exec":    "a",
	"nohup":   "",
	"time":    "fo",
	"nice":    "n",
	"timeout": "sk",
	"builtin": "",
}

// programOf looks through environment assignments and wrappers such as
// sudo, env and timeout, and returns the program a simple command runs
// (its base name) and its arguments.
func programOf(words []string) (string, []string) {
	i := 0
	for i < len(words) {
		w := words[i]
		if isAssignment(w) {
			i++
			continue
		}
		prog := path.Base(w)
		valued, wrapper := wrapperArgs[prog]
		if !wrapper {
			return prog, words[i+1:]
		}
		i++
		for i < len(words) && (strings.HasPrefix(words[i], "-") || prog == "env" && isAssignment(words[i])) {
			opt := words[i]
			i++
			if len(opt) == 2 && strings.IndexByte(valued, opt[1]) >= 0 {
				i++
			}
		}
		if prog == "timeout" && i < len(words) {
			i++ // the duration
		}
	}
	return "", nil
}

// gitValuedOptions are git's global options that take a separate value.
var gitValuedOptions = map[string]bool{
	"-C": true, "-c": true, "--git-dir": true, "--work-tree": true,
	"--namespace": true, "--super-prefix": true, "--config-env": true, "--list-cmds": true,
}

// gitSubcommand returns the subcommand of `git [global options] sub …`, or
// the first option when there is none (`git --version`).
func gitSubcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a
		}
		if gitValuedOptions[a] {
			i++
		}
	}
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

// ghGroups are gh commands whose second word is an action (`gh pr create`).
var ghGroups = map[string]bool{
	"agent-task": true, "alias": true, "attestation": true, "auth": true, "cache": true,
	"codespace": true, "config": true, "extension": true, "gist": true, "gpg-key": true,
	"issue": true, "label": true, "org": true, "pr": true, "project": true, "release": true,
	"repo": true, "ruleset": true, "run": true, "search": true, "secret": true,
	"ssh-key": true, "variable": true, "workflow": true,
}

// ghSubcommand returns "pr create" for `gh pr create …`, "api" for `gh api …`.
func ghSubcommand(args []string) string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if args[i] == "-R" || args[i] == "--repo" {
			i++
		}
		i++
	}
	if i >= len(args) {
		return ""
	}
	group := args[i]
	if ghGroups[group] && i+1 < len(args) && isActionWord(args[i+1]) {
		return group + " " + args[i+1]
	}
	return group
}

func isActionWord(w string) bool {
	if w == "" || w[0] == '-' {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// navigation programs only set up the real command: `cd repo && make`
// runs make.
var navigation = map[string]bool{
	"cd": true, "pushd": true, "popd": true, "export": true, "source": true,
	".": true, "set": true, "unset": true,
}

// classifyCommand fills in a command event's program and returns the git
// and gh operations the command line runs, one per simple command.
func classifyCommand(cmd Event) (Event, []Event) {
	var ops []Event
	var first, main string
	for _, seg := range splitShell(cmd.Text) {
		prog, args := programOf(seg.words)
		if prog == "" {
			continue
		}
		if first == "" {
			first = prog
		}
		if main == "" && !navigation[prog] {
			main = prog
		}
		switch prog {
		case "git":
			ops = append(ops, Event{Kind: KindGitOperation, Text: seg.raw, Fields: map[string]string{
				"program": "git", "subcommand": gitSubcommand(args)}})
		case "gh":
			ops = append(ops, Event{Kind: KindGhOperation, Text: seg.raw, Fields: map[string]string{
				"program": "gh", "subcommand": ghSubcommand(args)}})
		}
	}
	if main == "" {
		main = first
	}
	if main != "" {
		if cmd.Fields == nil {
			cmd.Fields = map[string]string{}
		}
		cmd.Fields["program"] = main
	}
	return cmd, ops
}
