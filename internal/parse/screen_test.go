package parse

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// step is one input of a scripted session: output written at a time since
// t0, or a resize when cols > 0.
type step struct {
	data       string
	at         time.Duration
	cols, rows int
}

func out(data string) step                     { return step{data: data} }
func outAt(at time.Duration, data string) step { return step{data: data, at: at} }

// run feeds the steps to a parser and returns its clean transcript lines
// after Close.
func run(t *testing.T, opts Options, steps ...step) []string {
	t.Helper()
	var clean bytes.Buffer
	opts.Clean = &clean
	opts.Start = t0
	p := New(opts)
	for _, s := range steps {
		if s.cols > 0 {
			p.Resize(s.cols, s.rows)
			continue
		}
		p.Write([]byte(s.data), t0.Add(s.at))
	}
	p.Close()
	return splitClean(clean.String())
}

func splitClean(s string) []string {
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		return []string{"missing final newline: " + s}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
		t.Errorf("clean transcript\n got %q\nwant %q", got, want)
	}
}

func TestLineModel(t *testing.T) {
	x80 := strings.Repeat("x", 80)
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"line feed commits", []step{out("one\r\ntwo\r\n")}, []string{"one", "two"}},
		{"blank lines are kept", []step{out("a\r\n\r\n\r\nb\r\n")}, []string{"a", "", "", "b"}},
		{"pending line flushed at close", []step{out("no newline")}, []string{"no newline"}},
		{"trailing spaces trimmed", []step{out("abc   \r\n   \r\n")}, []string{"abc", ""}},
		{"escape sequences removed", []step{out("\x1b[1;31mred\x1b[0m \x1b]0;title\x07text\r\n")}, []string{"red text"}},
		{"CR then overwrite", []step{out("hello world\rbye\r\n")}, []string{"byelo world"}},
		{"CR and erase: progress", []step{out("10%\r\x1b[K50%\r\x1b[K100%\r\n")}, []string{"100%"}},
		{"bare LF keeps the column", []step{out("abc\ndef\r\n")}, []string{"abc", "   def"}},
		{"backspace", []step{out("abc\b\bX\r\n")}, []string{"aXc"}},
		{"tab stops", []step{out("a\tb\tc\r\n")}, []string{"a       b       c"}},
		{"CSI C over unwritten cells reads as spaces", []step{out("a\x1b[3Cb\r\n")}, []string{"a   b"}},
		{"CSI G positions words", []step{out("Read\x1b[6Gfile\x1b[12G(ok)\r\n")}, []string{"Read file  (ok)"}},
		{"CSI D moves back", []step{out("abcdef\x1b[3DX\r\n")}, []string{"abcXef"}},
		{"CSI K erases to the end", []step{out("abcdef\x1b[3D\x1b[K\r\n")}, []string{"abc"}},
		{"CSI 1K erases to the start", []step{out("abcdef\x1b[3D\x1b[1K\r\n")}, []string{"    ef"}},
		{"CSI 2K erases the row", []step{out("abc\x1b[2Kxyz\r\n")}, []string{"   xyz"}},
		{"CSI X erases characters", []step{out("abcdef\r\x1b[2X\r\n")}, []string{"  cdef"}},
		{"CSI P deletes characters", []step{out("abcdef\r\x1b[2P\r\n")}, []string{"cdef"}},
		{"CSI @ inserts blanks", []step{out("abcdef\r\x1b[2@\r\n")}, []string{"  abcdef"}},
		{"soft wrap joins rows", []step{out(x80 + "yz\r\n")}, []string{x80 + "yz"}},
		{"CR on a wrapped row returns to its start", []step{out(x80 + "yz\rA\r\n")}, []string{x80 + "Az"}},
		{"readline's wrap trick", []step{out(x80 + " \ryz\r\n")}, []string{x80 + "yz"}},
		{"autowrap off overwrites the last column", []step{out("\x1b[?7l" + x80 + "yz\x1b[?7h\r\n")}, []string{strings.Repeat("x", 79) + "z"}},
		{"wide characters take two cells", []step{out("世界\x1b[5Gx\r\n")}, []string{"世界x"}},
		{"overwriting half a wide character blanks it", []step{out("世界\x1b[2Gx\r\n")}, []string{" x界"}},
		{"combining marks stay with their letter", []step{out("e\u0301t\u00e9\r\n")}, []string{"e\u0301t\u00e9"}},
		{"invalid UTF-8 becomes U+FFFD", []step{out("a\xffb\r\n")}, []string{"a\uFFFDb"}},
		{"alternate screen 1049 is committed when left", []step{out("before\r\n\x1b[?1049h\x1b[Hfull screen\r\nTUI\x1b[?1049lafter\r\n")}, []string{"before", "full screen", "TUI", "after"}},
		{"alternate screen 47 is committed when left", []step{out("a\r\n\x1b[?47hxx\r\nyy\r\n\x1b[?47lb\r\n")}, []string{"a", "xx", "yy", "b"}},
		{"alternate screen 1047 is committed when left", []step{out("a\r\n\x1b[?1047hxx\r\n\x1b[?1047lb\r\n")}, []string{"a", "xx", "b"}},
		{"DEC private modes other than alt screen are ignored", []step{out("\x1b[?2004h\x1b[?25la\x1b[?2026h\r\n")}, []string{"a"}},
		{"private queries do not move the cursor", []step{out("ab\x1b[s\x1b[5Gcd\x1b[?u\x1b[>1u\x1b[?6nef\r\n")}, []string{"ab  cdef"}},
		{"selective erase works like erase", []step{out("abcdef\x1b[3D\x1b[?K\r\n")}, []string{"abc"}},
		{"lines scrolling off a small screen", []step{{cols: 10, rows: 2}, out("1\r\n2\r\n3\r\n4")}, []string{"1", "2", "3", "4"}},
		{"CUP addresses rows", []step{out("\x1b[3;5Hc\x1b[1;1Ha\x1b[2;3Hb")}, []string{"a", "  b", "    c"}},
		{"NEL and IND", []step{out("a\x1bEb\x1bDc\r\n")}, []string{"a", "b", " c"}},
		{"CSI S scrolls lines into scrollback", []step{{cols: 10, rows: 3}, out("\x1b[1;1Ha\x1b[2;1Hb\x1b[3;1Hc\x1b[2S\x1b[2;1Hd")}, []string{"a", "b", "c", "d"}},
		{"CSI T scrolls down, losing the bottom", []step{{cols: 10, rows: 3}, out("\x1b[1;1Ha\x1b[2;1Hb\x1b[3;1Hc\x1b[T\x1b[1;1Hz")}, []string{"z", "a", "b"}},
		{"RI at the top scrolls down", []step{{cols: 10, rows: 3}, out("\x1b[1;1Ha\x1b[2;1Hb\x1b[1;1H\x1bMz")}, []string{"z", "a", "b"}},
		{"CSI L inserts lines", []step{{cols: 10, rows: 4}, out("\x1b[1;1Ha\x1b[2;1Hb\x1b[2;1H\x1b[Lnew")}, []string{"a", "new", "b"}},
		{"CSI M deletes lines, lost as in xterm", []step{{cols: 10, rows: 4}, out("\x1b[1;1Ha\x1b[2;1Hb\x1b[3;1Hc\x1b[2;1H\x1b[M")}, []string{"a", "c"}},
		{
			// Codex's inline renderer: history goes above the viewport
			// through a scroll region from the top row: the cursor goes to
			// the last history row, then "\r\n" + line per new line.
			name: "history inserted above a viewport through a scroll region",
			steps: []step{{cols: 20, rows: 6}, out("\x1b[3;1Hbanner\x1b[4;1H› prompt\x1b[5;1Hstatus" +
				"\x1b[1;3r\x1b[3;1H\r\n• Ran ls\r\n  └ a b\x1b[r\x1b[4;1H")},
			want: []string{"banner", "• Ran ls", "  └ a b", "› prompt", "status"},
		},
		{
			name:  "lines ended in a lower scroll region are committed at their line feed",
			steps: []step{{cols: 20, rows: 6}, out("top\x1b[3;4r\x1b[3;1Hx\r\ny\r\nz\x1b[r")},
			want:  []string{"x", "y", "top", "z"},
		},
		{
			name:  "a rewritten line scrolling out of a lower region is lost, as in xterm",
			steps: []step{{cols: 20, rows: 6}, out("\x1b[3;4r\x1b[3;1Hx\r\ny\x1b[A\rX\x1b[B\r\nz\x1b[r")},
			want:  []string{"x", "y", "z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, run(t, Options{}, tt.steps...), tt.want)
		})
	}
}

func TestLongLinesCommittedInPieces(t *testing.T) {
	tests := []struct {
		name string
		cols int
		n    int
	}{
		{"at 80 columns, through scrollback", 80, 3*maxLineBytes + 1000},
		{"wider than the screen holds", maxCols, 5*maxLineBytes + 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := strings.Repeat("0123456789", tt.n/10+1)[:tt.n]
			got := run(t, Options{Cols: tt.cols}, out(line+"\r\nnext\r\n"))
			if len(got) < 2 || got[len(got)-1] != "next" {
				t.Fatalf("got %d lines, last %.20q", len(got), got[len(got)-1])
			}
			pieces := got[:len(got)-1]
			if strings.Join(pieces, "") != line {
				t.Errorf("pieces do not join back into the line")
			}
			for i, p := range pieces {
				if len(p) > maxLineBytes {
					t.Errorf("piece %d is %d bytes, cap %d", i, len(p), maxLineBytes)
				}
			}
			if want := (tt.n + maxLineBytes - 1) / maxLineBytes; len(pieces) != want {
				t.Errorf("%d pieces, want %d", len(pieces), want)
			}
		})
	}
}

// TestRedraws covers the cursor-up redraw heuristic (see doc.go).
func TestRedraws(t *testing.T) {
	ms := time.Millisecond
	// inkFrame erases the previous frame of n lines the way Ink's
	// log-update does (CSI 2K, CSI 1A ..., CSI G), then writes the new one.
	inkFrame := func(prevLines int, lines ...string) string {
		var b strings.Builder
		for i := 0; i < prevLines; i++ {
			b.WriteString("\x1b[2K")
			if i < prevLines-1 {
				b.WriteString("\x1b[1A")
			}
		}
		b.WriteString("\x1b[G")
		b.WriteString(strings.Join(lines, "\r\n"))
		return b.String()
	}
	spinner := func(frames int) []step {
		steps := []step{outAt(0, inkFrame(0, "● Bash(make)", "✶ Working 0", "────", "status"))}
		for i := 1; i <= frames; i++ {
			steps = append(steps, outAt(time.Duration(i)*32*ms,
				inkFrame(4, "● Bash(make)", "✶ Working "+string(rune('0'+i%10)), "────", "status")))
		}
		return steps
	}
	tests := []struct {
		name     string
		provider string
		steps    []step
		want     []string
	}{
		{
			name:  "identical redraw after cursor up is not committed again",
			steps: []step{out("a\r\nb\r\nc\r\n"), out("\x1b[3Aa\r\nb\r\nc\r\n")},
			want:  []string{"a", "b", "c"},
		},
		{
			name:  "a changed line is committed once, in its final state",
			steps: []step{out("a\r\nspin 1\r\nc\r\n"), out("\x1b[2A\rspin 2\r\n\n"), out("\x1b[2A\rspin 3\r\n\n")},
			want:  []string{"a", "spin 1", "c", "spin 3"},
		},
		{
			name:     "Ink frames: 49 spinner frames commit the spinner twice, not 49 times",
			provider: "claude",
			steps:    spinner(49),
			want:     []string{"● Bash(make)", "✶ Working 0", "────", "✶ Working 9", "status"},
		},
		{
			name:     "Ink frames ending as they began commit nothing more",
			provider: "claude",
			steps:    spinner(50),
			want:     []string{"● Bash(make)", "✶ Working 0", "────", "status"},
		},
		{
			name:     "Ink frame growing by a static line: shifted lines are not repeated",
			provider: "claude",
			steps: []step{
				outAt(0, inkFrame(0, "✶ Thinking", "────", "❯", "────", "status")),
				outAt(40*ms, inkFrame(5, "● Bash(ls)", "✶ Thinking", "────", "❯", "────", "status")),
			},
			want: []string{"✶ Thinking", "────", "❯", "────", "● Bash(ls)", "status"},
		},
		{
			name:     "TUI clear and redraw of the same screen is not repeated",
			provider: "claude",
			steps:    []step{out("a\r\nb\r\n"), outAt(10*ms, "\x1b[H\x1b[2J\x1b[3Ja\r\nb\r\n")},
			want:     []string{"a", "b"},
		},
		{
			name:     "TUI clear then new content",
			provider: "claude",
			steps:    []step{out("a\r\nb\r\n"), outAt(10*ms, "\x1b[H\x1b[2Jc\r\nd\r\n")},
			want:     []string{"a", "b", "c", "d"},
		},
		{
			name:  "shell clear starts a new page: the same command again counts",
			steps: []step{out("$ ls\r\nx\r\n$ clear\r\n"), outAt(10*ms, "\x1b[H\x1b[2J\x1b[3J$ ls\r\nx\r\n$ ")},
			want:  []string{"$ ls", "x", "$ clear", "$ ls", "x", "$"},
		},
		{
			name:  "shell Ctrl-L keeps the half-typed command uncommitted",
			steps: []step{out("$ ls\r\nx\r\n$ git sta"), outAt(10*ms, "\x1b[H\x1b[2J$ git sta"), outAt(20*ms, "tus\r\n")},
			want:  []string{"$ ls", "x", "$ git status"},
		},
		{
			name:  "the same output twice without redraw is committed twice",
			steps: []step{out("$ make\r\nok\r\n$ make\r\nok\r\n")},
			want:  []string{"$ make", "ok", "$ make", "ok"},
		},
		{
			name: "a displaced line no longer matches after displacedTTL",
			steps: []step{
				out("same\r\nother\r\n"),
				outAt(10*ms, "\x1b[2A\x1b[2Kfresh\r\n\n"),
				outAt(10*time.Second, "same\r\n"),
			},
			want: []string{"same", "other", "fresh", "same"},
		},
		{
			name: "within displacedTTL a shifted line is recognised",
			steps: []step{
				out("same\r\nother\r\n"),
				outAt(10*ms, "\x1b[2A\x1b[2Kfresh\r\n\nsame\r\n"),
			},
			want: []string{"same", "other", "fresh"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, run(t, Options{Provider: tt.provider}, tt.steps...), tt.want)
		})
	}
}

// TestCommitTiming checks when lines reach the transcript, before Close.
func TestCommitTiming(t *testing.T) {
	tests := []struct {
		name   string
		steps  []step
		before []string // committed after the steps, before Close
	}{
		{
			name:   "fresh lines commit at their line feed",
			steps:  []step{out("$ ls\r\na\r\n$ ")},
			before: []string{"$ ls", "a"},
		},
		{
			name:   "the cursor's line waits, however long",
			steps:  []step{out("$ git sta"), outAt(time.Hour, "")},
			before: nil,
		},
		{
			name:   "a rewritten line waits while it keeps changing",
			steps:  []step{out("a\r\n"), outAt(time.Second, "\x1b[A\rb\r\n"), outAt(2500*time.Millisecond, "\x1b[A\rc\r\n")},
			before: []string{"a"},
		},
		{
			name:   "a rewritten line commits once still for settleDelay",
			steps:  []step{out("a\r\n"), outAt(time.Second, "\x1b[A\rb\r\n"), outAt(time.Second+settleDelay, "")},
			before: []string{"a", "b"},
		},
		{
			name:   "a line the cursor left by moving commits once still",
			steps:  []step{out("\x1b[5;1Hhello\x1b[1;1H"), outAt(settleDelay, "")},
			before: []string{"hello"},
		},
		{
			name:   "a rewritten line scrolling off commits at once",
			steps:  []step{{cols: 20, rows: 3}, out("a\r\nb\r\nc"), outAt(time.Second, "\x1b[2A\rA\x1b[2B\r\nd\r\n")},
			before: []string{"a", "b", "c", "A", "d"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clean bytes.Buffer
			p := New(Options{Clean: &clean, Start: t0})
			for _, s := range tt.steps {
				if s.cols > 0 {
					p.Resize(s.cols, s.rows)
					continue
				}
				p.Write([]byte(s.data), t0.Add(s.at))
			}
			equalLines(t, splitClean(clean.String()), tt.before)
			p.Close()
		})
	}
}

func TestResize(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{
			name:  "fewer rows push lines above the cursor off the top",
			steps: []step{{cols: 20, rows: 5}, out("\x1b[1;1Ha\x1b[2;1Hb\x1b[5;1Hc"), {cols: 20, rows: 2}, out("\r\nd")},
			want:  []string{"a", "b", "c", "d"},
		},
		{
			name:  "rows below the cursor are committed before they go",
			steps: []step{{cols: 20, rows: 5}, out("\x1b[4;1Hlow\x1b[1;1Htop"), {cols: 20, rows: 2}},
			want:  []string{"low", "top"},
		},
		{
			name:  "narrower: rows are cut, the cursor kept inside",
			steps: []step{out("abcdef"), {cols: 3, rows: 24}, out("X\r\n")},
			want:  []string{"abX"},
		},
		{
			name:  "wider: wrapping follows the new width",
			steps: []step{{cols: 4, rows: 5}, {cols: 8, rows: 5}, out("abcdefgh\r\n")},
			want:  []string{"abcdefgh"},
		},
		{
			name:  "absurd sizes are clamped",
			steps: []step{{cols: 1 << 30, rows: 1 << 30}, out("a\r\n"), {cols: 1, rows: 1}, out("bc\r\n")},
			want:  []string{"a", "bc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, run(t, Options{}, tt.steps...), tt.want)
		})
	}
}
