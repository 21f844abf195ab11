package parse

import (
	"fmt"
	"strings"
	"testing"
)

// tokenLog is a performer that records tokens as text, merging adjacent
// printed characters so that the log does not depend on how input was split.
type tokenLog struct {
	b       strings.Builder
	inPrint bool
}

func (l *tokenLog) token(format string, args ...any) {
	if l.inPrint {
		l.b.WriteString("» ")
		l.inPrint = false
	}
	fmt.Fprintf(&l.b, format+" ", args...)
}

func (l *tokenLog) print(r rune) {
	if !l.inPrint {
		l.b.WriteString("«")
		l.inPrint = true
	}
	l.b.WriteRune(r)
}

func (l *tokenLog) printASCII(run []byte) {
	for _, c := range run {
		l.print(rune(c))
	}
}

func (l *tokenLog) execute(b byte) { l.token("X%02x", b) }

func (l *tokenLog) csiDispatch(c *csiSeq) {
	l.token("CSI[%s%v%s]%c", privateString(c.private), c.params[:c.nparams], string(c.inter[:c.ninter]), c.final)
}

func (l *tokenLog) escDispatch(inter []byte, final byte) { l.token("ESC[%s]%c", inter, final) }
func (l *tokenLog) oscDispatch(data []byte)              { l.token("OSC[%s]", data) }
func (l *tokenLog) dcsDispatch(c *csiSeq, data []byte) {
	l.token("DCS[%s%v%s]%c[%s]", privateString(c.private), c.params[:c.nparams], string(c.inter[:c.ninter]), c.final, data)
}

func privateString(p byte) string {
	if p == 0 {
		return ""
	}
	return string(p)
}

func (l *tokenLog) String() string {
	if l.inPrint {
		return l.b.String() + "»"
	}
	return strings.TrimSpace(l.b.String())
}

// tokens feeds the chunks to a fresh tokenizer and returns its log.
func tokens(chunks ...string) string {
	var l tokenLog
	t := newTokenizer(&l)
	for _, c := range chunks {
		t.feed([]byte(c))
	}
	t.finish()
	return l.String()
}

var tokenizerCases = []struct {
	name, in, want string
}{
	{"plain text", "hello", "«hello»"},
	{"C0 controls", "a\r\nb\tc\bd\a", "«a» X0d X0a «b» X09 «c» X08 «d» X07"},
	{"CSI with parameters", "\x1b[12;34H", "CSI[[12 34]]H"},
	{"CSI without parameters", "\x1b[K", "CSI[[]]K"},
	{"CSI empty parameters", "\x1b[;5H", "CSI[[0 5]]H"},
	{"CSI trailing separator", "\x1b[5;m", "CSI[[5 0]]m"},
	{"CSI private marker", "\x1b[?1049h\x1b[>4;2m", "CSI[?[1049]]h CSI[>[4 2]]m"},
	{"CSI intermediate", "\x1b[2 q\x1b[!p", "CSI[[2] ]q CSI[[]!]p"},
	{"CSI colon sub-parameters flattened", "\x1b[38:2:10:20:30m", "CSI[[38 2 10 20 30]]m"},
	{"C0 inside CSI is executed", "\x1b[1\n2A", "X0a CSI[[12]]A"},
	{"private marker after parameters ignores the sequence", "\x1b[1?2hx", "«x»"},
	{"parameter after intermediate ignores the sequence", "\x1b[ 1qx", "«x»"},
	{"CAN aborts a sequence", "\x1b[12\x18x", "X18 «x»"},
	{"SUB aborts a sequence", "\x1b]0;t\x1ax", "OSC[0;t] X1a «x»"},
	{"ESC restarts a sequence", "\x1b[12\x1b[3A", "CSI[[3]]A"},
	{"huge parameter is clamped", "\x1b[99999999999999999999A", "CSI[[65535]]A"},
	{"too many parameters ignore the sequence", "\x1b[" + strings.Repeat("1;", 40) + "Ax", "«x»"},
	{"ESC dispatch", "\x1b7\x1bM\x1bc", "ESC[]7 ESC[]M ESC[]c"},
	{"ESC intermediate", "\x1b(B\x1b#8", "ESC[(]B ESC[#]8"},
	{"too many ESC intermediates", "\x1b(((Bx", "«x»"},
	{"OSC ended by BEL", "\x1b]0;title\x07x", "OSC[0;title] «x»"},
	{"OSC ended by ST", "\x1b]8;;http://e.x/\x1b\\link", "OSC[8;;http://e.x/] ESC[]\\ «link»"},
	{"OSC keeps UTF-8 bytes, drops C0", "\x1b]2;é\n\x07", "OSC[2;é]"},
	{"OSC is capped", "\x1b]" + strings.Repeat("a", 10000) + "\x07", "OSC[" + strings.Repeat("a", maxStringLen) + "]"},
	{"DCS with payload", "\x1bP1$qm\x1b\\", "DCS[[1]$]q[m] ESC[]\\"},
	{"DCS is capped", "\x1bPq" + strings.Repeat("#", 5000) + "\x1b\\", "DCS[[]]q[" + strings.Repeat("#", maxStringLen) + "] ESC[]\\"},
	{"APC, PM, SOS are consumed", "\x1b_Gf=1;AAAA\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\x", "ESC[]\\ ESC[]\\ ESC[]\\ «x»"},
	{"UTF-8", "é世🙂", "«é世🙂»"},
	{"DEL is ignored", "a\x7fb", "«ab»"},
	{"invalid byte", "a\xffb", "«a\uFFFDb»"},
	{"stray continuation byte", "\x80x", "«\uFFFDx»"},
	{"truncated sequence then ASCII", "\xe4\xb8x", "«\uFFFD\uFFFDx»"},
	{"overlong encoding", "\xc0\x80", "«\uFFFD\uFFFD»"},
	{"surrogate", "\xed\xa0\x80", "«\uFFFD\uFFFD\uFFFD»"},
	{"truncated sequence then ESC", "\xe4\x1b[A", "«\uFFFD» CSI[[]]A"},
	{"truncated sequence at end of stream", "ok\xe4\xb8", "«ok\uFFFD\uFFFD»"},
	{"ESC before UTF-8 text", "\x1bé", "«é»"},
	{"C1 bytes are not controls in UTF-8", "\x9b31m", "«\uFFFD31m»"},
}

func TestTokenizer(t *testing.T) {
	for _, tt := range tokenizerCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := tokens(tt.in); got != tt.want {
				t.Errorf("tokens(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestTokenizerSplitAnywhere checks that splitting the input at any byte
// boundary, or into single bytes, gives the same tokens as one write.
func TestTokenizerSplitAnywhere(t *testing.T) {
	inputs := map[string]string{}
	for _, name := range shellFixtures {
		inputs[name+" fixture"] = string(readFixture(t, name))
	}
	for _, tt := range tokenizerCases {
		inputs[tt.name] = tt.in
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			whole := tokens(in)
			step := 1
			if len(in) > 2000 { // long cases: every 61st split point is enough
				step = 61
			}
			for i := 1; i < len(in); i += step {
				if got := tokens(in[:i], in[i:]); got != whole {
					t.Fatalf("split at %d:\n got %q\nwant %q", i, got, whole)
				}
			}
			bytewise := make([]string, len(in))
			for i := 0; i < len(in); i++ {
				bytewise[i] = in[i : i+1]
			}
			if got := tokens(bytewise...); got != whole {
				t.Fatalf("byte by byte:\n got %q\nwant %q", got, whole)
			}
		})
	}
}

func TestTokenizerBoundedState(t *testing.T) {
	var l tokenLog
	tok := newTokenizer(&l)
	tok.feed([]byte("\x1b]"))
	for range 1000 {
		tok.feed([]byte(strings.Repeat("x", 10000)))
	}
	if len(tok.str) > maxStringLen || cap(tok.str) > 2*maxStringLen {
		t.Errorf("endless OSC kept %d bytes (cap %d), limit %d", len(tok.str), cap(tok.str), maxStringLen)
	}
}
