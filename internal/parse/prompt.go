package parse

import "strings"

// promptShapes are the shell prompts a command line can start with. Each
// returns the length of the prompt at the start of s, or -1; the command
// typed is the rest of the line. Prompts sit at column 0: the TUIs indent
// their own output, so their text does not match.
//
// They are written out rather than as regular expressions because every
// line with a $, # or % is matched against them: prompt_test.go holds the
// equivalent expressions and checks that both agree on any input.
var promptShapes = []func(s string) int{
	dollarPrompt,   // "$ cmd" (PS1='$ '), "bash-5.2$ cmd", "(venv) $ cmd"
	userHostPrompt, // "user@host:~/dir$ cmd", "root@host:/# cmd" (Debian, Ubuntu)
	bracketPrompt,  // "[user@host dir]$ cmd" (Fedora, RHEL)
	zshPrompt,      // "user@host dir % cmd" (macOS's zsh default)
	zshShortPrompt, // "host% cmd" (zsh's own default)
	ohMyZshPrompt,  // "➜  dir git:(main) ✗ cmd" (oh-my-zsh's robbyrussell)
	twoLinePrompt,  // "└─$ cmd" under "┌──(user㉿host)-[~/dir]" (Kali's zsh default), "╰─% cmd"
}

func dollarPrompt(s string) int {
	return scan{s: s}.venv().span(0, &nameBytes).lit("$ ").i
}

func userHostPrompt(s string) int {
	return scan{s: s}.venv().userHost().lit(":").span(0, &pathBytes).oneOf("$#").lit(" ").i
}

func bracketPrompt(s string) int {
	return scan{s: s}.venv().lit("[").userHost().lit(" ").span(0, &notBracket).lit("]").oneOf("$#").lit(" ").i
}

func zshPrompt(s string) int {
	return scan{s: s}.userHost().lit(" ").span(1, &nonSpace).lit(" ").oneOf("%#").lit(" ").i
}

func zshShortPrompt(s string) int {
	return scan{s: s}.span(1, &letters).span(0, &nameBytes).lit("% ").i // a letter first
}

func ohMyZshPrompt(s string) int {
	dir := scan{s: s}.lit("➜").span(1, &spaces).span(1, &nonSpace)
	git := dir.lit(" git:(").span(0, &notParenClose).lit(")")
	// " git:(branch)" and " ✗" are each shown or not; like the regular
	// expression, prefer them shown.
	for _, p := range [...]scan{git.lit(" ✗"), git, dir.lit(" ✗"), dir} {
		if p = p.span(1, &spaces); p.i >= 0 {
			return p.i
		}
	}
	return -1
}

func twoLinePrompt(s string) int {
	p := scan{s: s}.lit("└")
	if p.i < 0 {
		p = scan{s: s}.lit("╰")
	}
	return p.repeat("─").opt(" ").oneOf("$%#").lit(" ").i
}

// scan matches a shape left to right: i is the length matched so far, -1
// once a step has failed (every later step then fails too).
type scan struct {
	s string
	i int
}

// lit matches l.
func (p scan) lit(l string) scan {
	if p.i >= 0 && strings.HasPrefix(p.s[p.i:], l) {
		p.i += len(l)
	} else {
		p.i = -1
	}
	return p
}

// opt matches l if it is there.
func (p scan) opt(l string) scan {
	if q := p.lit(l); q.i >= 0 {
		return q
	}
	return p
}

// repeat matches l once or more.
func (p scan) repeat(l string) scan {
	p = p.lit(l)
	for p.i >= 0 && strings.HasPrefix(p.s[p.i:], l) {
		p.i += len(l)
	}
	return p
}

// span matches as many bytes of class c as there are, at least min.
func (p scan) span(min int, c *byteClass) scan {
	if p.i < 0 {
		return p
	}
	j := p.i
	for j < len(p.s) && c[p.s[j]] {
		j++
	}
	if j-p.i < min {
		j = -1
	}
	p.i = j
	return p
}

// oneOf matches one of the bytes in set.
func (p scan) oneOf(set string) scan {
	if p.i >= 0 && p.i < len(p.s) && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	} else {
		p.i = -1
	}
	return p
}

// venv matches a virtualenv's "(name) " if there is one.
func (p scan) venv() scan {
	if q := p.lit("(").span(0, &notParen).lit(") "); q.i >= 0 {
		return q
	}
	return p
}

// userHost matches "user@host".
func (p scan) userHost() scan {
	return p.span(1, &nameBytes).lit("@").span(1, &nameBytes)
}

// byteClass is a set of bytes. A class that excludes only ASCII bytes holds
// every byte of a multi-byte UTF-8 character, so classes match characters
// as the regular expressions' classes do.
type byteClass [256]bool

func classOf(in bool, set string) (c byteClass) {
	for i := range c {
		c[i] = (strings.IndexByte(set, byte(i)) >= 0) == in
	}
	return c
}

var (
	letters       = classOf(true, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	nameBytes     = classOf(true, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") // [\w.-]
	pathBytes     = classOf(false, "\t\n\f\r $#")                                                      // [^\s$#]
	nonSpace      = classOf(false, "\t\n\f\r ")                                                        // \S
	spaces        = classOf(true, " ")
	notParen      = classOf(false, "()")
	notParenClose = classOf(false, ")")
	notBracket    = classOf(false, "]")
)
