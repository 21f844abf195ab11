package parse

import (
	"path"
	"strings"
	"sync"
)

// shellSegment is one simple command of a command line: `git status` in
// `cd repo && git status | head`.
type shellSegment struct {
	raw   string   // its text as typed, trimmed
	words []string // its words with quotes removed and redirections dropped
}

// shellSplitter splits command lines, keeping its buffers from one line to
// the next: what split returns is valid until its next call.
type shellSplitter struct {
	segs  []shellSegment
	words []string
	buf   []byte
}

// split splits a command line into simple commands at |, |&, ||, &&, ;, &
// and newlines outside quotes. Command substitutions $(…) and `…` stay
// inside their word: `echo $(git rev-parse HEAD)` is an echo, not a git
// operation. It is a classifier's approximation of the shell grammar, not
// a parser: it never fails, whatever it is given.
func (sp *shellSplitter) split(line string) []shellSegment {
	var (
		segs     = sp.segs[:0]
		words    = sp.words[:0] // of every segment, each its own part
		segWords int            // where the current segment's words start
		word     = shellWord{line: line, buf: sp.buf}
		skipNext bool // the next word is a redirection target
		segStart int
		end      = len(line) // a comment ends the line earlier
	)
	endWord := func() {
		if !word.in {
			return
		}
		w := word.take()
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
		if len(words) > segWords {
			segs = append(segs, shellSegment{raw: trimGrouping(line[segStart:end]), words: words[segWords:len(words):len(words)]})
		}
		segWords = len(words)
	}
scan:
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			endWord()
			i++
		case c == '\\':
			word.add(i+1, min(i+2, len(line)))
			i += 2
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			word.add(i+1, i+1+j)
			i += j + 2
		case c == '"':
			i = readDoubleQuoted(line, i+1, &word)
		case c == '$' && i+1 < len(line) && line[i+1] == '(', c == '`':
			j := skipSubstitution(line, i)
			word.add(i, j)
			i = j
		case c == '#' && !word.in:
			end = i
			break scan
		case c == ';' || c == '\n':
			endSeg(i)
			i++
			segStart = i
		case c == '>' || c == '<' || c == '&' && i+1 < len(line) && line[i+1] == '>':
			if word.in && word.digits() { // the 2 of 2>&1 is no word
				word.in = false
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
			j := i + 1
			for j < len(line) && !shellSpecial[line[j]] {
				j++
			}
			word.add(i, j)
			i = j
		}
	}
	endSeg(end)
	sp.segs, sp.words, sp.buf = segs, words, word.buf
	if len(segs) == 0 {
		return nil
	}
	return segs
}

// shellSpecial are the bytes that may end or quote a word (a # inside a
// word does not).
var shellSpecial = classOf(true, " \t\\'\"$`;\n><&|()")

// shellWord collects a word from pieces of its line. While the pieces are
// contiguous (no quotes or escapes between them) the word is a substring of
// the line: most words cost no copy.
type shellWord struct {
	line       string
	in         bool   // a word has started
	start, end int    // the word is line[start:end]…
	joined     bool   // …unless it is buf
	buf        []byte // reused from word to word
}

// add appends line[from:to] to the word, starting one if there is none.
func (w *shellWord) add(from, to int) {
	switch {
	case !w.in:
		w.in, w.joined, w.start, w.end = true, false, from, to
	case !w.joined && from == w.end:
		w.end = to
	default:
		if !w.joined {
			w.buf = append(w.buf[:0], w.line[w.start:w.end]...)
			w.joined = true
		}
		w.buf = append(w.buf, w.line[from:to]...)
	}
}

// take ends the word and returns it.
func (w *shellWord) take() string {
	w.in = false
	if w.joined {
		return string(w.buf)
	}
	return w.line[w.start:w.end]
}

// digits reports whether the word so far is a number (a file descriptor).
func (w *shellWord) digits() bool {
	if w.joined {
		return isDigits(string(w.buf))
	}
	return isDigits(w.line[w.start:w.end])
}

// trimGrouping removes the unbalanced ( ) { } a subshell or group leaves
// at the ends of a segment: "(cd x" and "make)" in "(cd x && make)".
func trimGrouping(raw string) string {
	raw = strings.TrimSpace(raw)
	if !strings.ContainsAny(raw, "(){}") {
		return raw
	}
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

// readDoubleQuoted adds to w the contents of a double-quoted string starting
// at i (after the quote) and returns the index after the closing quote.
func readDoubleQuoted(line string, i int, w *shellWord) int {
	w.add(i, i) // "" is a word
	for i < len(line) {
		switch c := line[i]; {
		case c == '"':
			return i + 1
		case c == '\\' && i+1 < len(line):
			w.add(i+1, i+2)
			i += 2
		case c == '$' && i+1 < len(line) && line[i+1] == '(', c == '`':
			j := skipSubstitution(line, i)
			w.add(i, j)
			i = j
		default:
			w.add(i, i+1)
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

// classifyCommand appends to dst the command event, its program filled in,
// and the git and gh operations the command line runs, one per simple
// command.
func classifyCommand(sp *shellSplitter, dst []Event, cmd Event) []Event {
	at := len(dst)
	dst = append(dst, cmd)
	var first, main string
	for _, seg := range sp.split(cmd.Text) {
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
			dst = append(dst, Event{Kind: KindGitOperation, Text: seg.raw, Fields: sharedFields(fieldsKey{"git", gitSubcommand(args), true})})
		case "gh":
			dst = append(dst, Event{Kind: KindGhOperation, Text: seg.raw, Fields: sharedFields(fieldsKey{"gh", ghSubcommand(args), true})})
		}
	}
	if main == "" {
		main = first
	}
	if main != "" {
		if cmd := &dst[at]; cmd.Fields == nil {
			cmd.Fields = sharedFields(fieldsKey{program: main})
		} else {
			cmd.Fields["program"] = main // the recogniser's own map, made for this event
		}
	}
	return dst
}

// fieldsKey is what the Fields of a command ({"program": p}) or of a git
// or gh operation ({"program": p, "subcommand": s}) hold.
type fieldsKey struct {
	program, subcommand string
	operation           bool // the Fields have a subcommand, even ""
}

// fieldsTable holds the Fields handed out, one map for the same values
// across events and sessions: events' Fields are read-only (see Event),
// and a map per event was most of the cost of a command line. It keeps
// the first maxSharedFields short ones: sessions run the same programs and
// subcommands again and again.
var fieldsTable struct {
	sync.RWMutex
	m map[fieldsKey]map[string]string
}

const (
	maxSharedFields = 256
	maxSharedField  = 64 // bytes of a program or subcommand kept
)

func sharedFields(k fieldsKey) map[string]string {
	fieldsTable.RLock()
	f, ok := fieldsTable.m[k]
	fieldsTable.RUnlock()
	if ok {
		return f
	}
	if len(k.program) > maxSharedField || len(k.subcommand) > maxSharedField {
		return newFields(k)
	}
	k.program, k.subcommand = strings.Clone(k.program), strings.Clone(k.subcommand) // not the command line they were cut from
	fieldsTable.Lock()
	defer fieldsTable.Unlock()
	if f, ok := fieldsTable.m[k]; ok {
		return f
	}
	f = newFields(k)
	if len(fieldsTable.m) < maxSharedFields {
		if fieldsTable.m == nil {
			fieldsTable.m = make(map[fieldsKey]map[string]string)
		}
		fieldsTable.m[k] = f
	}
	return f
}

func newFields(k fieldsKey) map[string]string {
	if k.operation {
		return map[string]string{"program": k.program, "subcommand": k.subcommand}
	}
	return map[string]string{"program": k.program}
}
