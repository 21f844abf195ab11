package parse

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzTokenizer: any input split at any point gives the tokens of one write.
func FuzzTokenizer(f *testing.F) {
	for _, tt := range tokenizerCases {
		f.Add([]byte(tt.in), uint16(len(tt.in)/2))
	}
	for _, name := range shellFixtures {
		f.Add(readFixture(f, name), uint16(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		i := int(split) % (len(data) + 1)
		whole, parts := tokens(string(data)), tokens(string(data[:i]), string(data[i:]))
		if whole != parts {
			t.Fatalf("split at %d changes the tokens:\n%q\n%q", i, whole, parts)
		}
		// Byte by byte, the fast paths (runs of text, whole UTF-8
		// characters, parameters) see runs of one or none.
		bytewise := make([]string, len(data))
		for j := range data {
			bytewise[j] = string(data[j : j+1])
		}
		if slow := tokens(bytewise...); slow != whole {
			t.Fatalf("byte by byte, the tokens differ:\n%q\n%q", whole, slow)
		}
	})
}

// FuzzParser feeds arbitrary output, repeated 1+repeat times (so a small
// corpus entry can be a 10 MB stream), in random chunks at random times
// with random resizes: the parser must not panic, must count every byte,
// keep its memory bounded and write a clean transcript (valid UTF-8, no
// control characters, lines within the cap).
func FuzzParser(f *testing.F) {
	type seed struct {
		data   []byte
		repeat uint16
	}
	var seeds []seed
	for _, name := range shellFixtures {
		seeds = append(seeds, seed{readFixture(f, name), 0})
	}
	seeds = append(seeds, []seed{
		{[]byte("\x1b[" + strings.Repeat("9", 1000) + "A" + "\x1b[" + strings.Repeat("1;", 1000) + "m after"), 100},
		{[]byte("\x1b]0;endless title "), 60000}, // a 1 MB OSC
		// Prompt marks, in order and not: D without C, C without B, B at
		// column 0, a status that is no number.
		{[]byte("\x1b]133;A\a$ \x1b]133;B\als /x\r\n\x1b]133;C\aout\r\n\x1b]133;D;2\a\x1b]133;D;x\a\x1b]133;C\x1b\\\x1b]133;B\a\x1b]133;\a"), 0},
		{[]byte("\x1bPq#0;2;0;0;0"), 0}, // a DCS, and
		{[]byte("#0;2;0;0;0"), 50000},   // its endless payload
		{[]byte{0xff, 0xfe, 0xc0, 0x80, 0xe4, 0xb8, '\n', 0xed, 0xa0, 0x80, 0xf4, 0x90}, 10000},
		{bytes.Repeat([]byte("x"), 1<<10), 10<<10 - 1}, // a 10 MB line
		{[]byte("世🙂e\u0301"), 10000},
		{[]byte("a\r\n\x1b[?1049h" + strings.Repeat("alt\r\n", 100) + "\x1b[?1049lb\x1b[5;10r\x1b[10;1H\r\n\x1b[S\x1b[T\x1b[3L\x1b[2M\x1bM\x1b[?7l" + strings.Repeat("w", 500) + "\x1b[?7h\x1bc"), 3},
		{[]byte("\x1b[2J\x1b[H\x1b[A\x1b[2K● Bash(git status)\r\n  ⎿  Error: Exit code 1\r\n"), 200},
		{[]byte("\x1b[999;999H\x1b[999@\x1b[999P\x1b[999X\x1b[999Z\x1b[999I\x1b[0;0r\x1b[99;1r\x1b[s\x1b[u\x1b7\x1b8\x1b[65535S\x1b[65535T\x1b[65535L\x1b[65535M"), 1000},
	}...)
	for i, s := range seeds {
		f.Add(s.data, s.repeat, uint64(i), uint8(i))
	}
	providers := []string{"", "claude", "codex", "gemini"}
	f.Fuzz(func(t *testing.T, unit []byte, repeat uint16, seed uint64, provider uint8) {
		const maxStream = 16 << 20
		times := 1 + int(repeat)
		if len(unit)*times > maxStream {
			times = max(1, maxStream/max(len(unit), 1))
		}
		data := bytes.Repeat(unit, times)
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		var clean bytes.Buffer
		p := New(Options{Provider: providers[int(provider)%len(providers)], Clean: &clean, Start: t0, OnEvent: func(ev Event) {
			if kindIndex(ev.Kind) < 0 {
				t.Errorf("unknown event kind %q", ev.Kind)
			}
		}})
		at := t0
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(4096))
			p.Write(rest[:n], at)
			rest = rest[n:]
			at = at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			if rng.IntN(16) == 0 {
				p.Resize(rng.IntN(400)-10, rng.IntN(120)-10)
			}
			if bound := footprintBound(p); footprint(p) > bound {
				t.Fatalf("state grew to %d bytes, bound %d", footprint(p), bound)
			}
		}
		p.Close()
		if got := p.Metrics().OutputBytes; got != int64(len(data)) {
			t.Errorf("OutputBytes = %d, fed %d", got, len(data))
		}
		transcript := clean.Bytes()
		if !utf8.Valid(transcript) {
			t.Error("clean transcript is not valid UTF-8")
		}
		lines := bytes.Split(transcript, []byte("\n"))
		if int64(len(lines)-1) != p.Metrics().OutputLines {
			t.Errorf("%d lines written, OutputLines = %d", len(lines)-1, p.Metrics().OutputLines)
		}
		for _, line := range lines {
			if len(line) > maxLineBytes {
				t.Fatalf("line of %d bytes, cap %d", len(line), maxLineBytes)
			}
			if i := bytes.IndexFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
				t.Fatalf("control character %q in clean line %q", line[i], line)
			}
		}
	})
}

// footprint estimates the bytes of state a parser retains.
func footprint(p *Parser) int {
	s := p.scr
	n := cap(p.tok.str) + cap(s.carry) + cap(s.buf) + len(s.pool)*64 + len(p.rec.codexRunning)*64
	for _, r := range s.grid {
		n += cap(r.cells)*4 + len(r.emitted)
		for _, m := range r.comb {
			n += 16 + cap(m)*4
		}
	}
	for _, e := range s.pool {
		n += len(e.text)
	}
	if s.alt != nil {
		a := s.alt
		n += a.committedBytes + cap(a.lcs)*2 + cap(a.buf)
		for _, r := range a.scr.grid {
			n += cap(r.cells)*4 + len(r.emitted) + cap(r.textCache)
		}
		for _, l := range a.prev {
			n += len(l.text) + len(l.key)
		}
		for _, v := range a.vanished {
			n += len(v.key)
		}
	}
	if pending := p.rec.codexPending; pending != nil {
		n += len(pending.text)
	}
	return n
}

// footprintBound is what footprint may reach at the parser's screen size:
// the screen's cells (with growth slack), displaced and committed copies
// of its text, the carried start of a long line and the capped strings.
func footprintBound(p *Parser) int {
	s := p.scr
	screenText := s.rows * maxCols * 4 * (1 + maxCombining)
	// The alternate screen: its grid, a frame's text and keys, the
	// vanished keys, the LCS table, the reprint memory.
	alt := 4*screenText + (4*s.rows+64)*maxCols*4 + 2*(s.rows+1)*(s.rows+1) + maxAltCommittedBytes
	return 4*screenText + 8*maxLineBytes + 2*maxStringLen + (2*s.rows+16)*64 + maxCodexRunning*64 + alt + 2*maxLineBytes
}

// FuzzSplitShell: any command line splits without panicking into segments
// that are non-empty and taken from the line.
func FuzzSplitShell(f *testing.F) {
	for _, s := range []string{
		`git commit -m "a && b" && gh pr create --fill | tee log`,
		`echo $(git rev-parse HEAD) "$(date)" ` + "`x`" + ` 2>&1 >/dev/null <<'EOF'`,
		`(cd x && { make; }) & sudo -u root env A=1 timeout 3 git -C . status`,
		`"unterminated 'quote $(nested (deep`,
	} {
		f.Add(s)
	}
	var sp shellSplitter // reused, as the recogniser does
	f.Fuzz(func(t *testing.T, line string) {
		for _, seg := range sp.split(line) {
			if len(seg.words) == 0 {
				t.Fatalf("segment %q has no words", seg.raw)
			}
			if !strings.Contains(line, seg.raw) {
				t.Fatalf("segment %q is not part of %q", seg.raw, line)
			}
		}
		programOf(strings.Fields(line))
	})
}

// FuzzRecognisers: any line, for any provider, gives events of known
// kinds with text.
func FuzzRecognisers(f *testing.F) {
	for _, s := range []string{
		"$ git status", "● Bash(git push)", "● Bash(gh pr create …", "  ⎿  Error: Exit code 1",
		"• Exited (status 1) git pull", "│ ✓  Shell gh pr list │", "❯ hi", "fatal: x", "➜  app git:(main) ✗ ls",
	} {
		f.Add(s, "", uint8(0))
		f.Add(s, "────", uint8(1))
	}
	providers := []string{"", "claude", "codex", "gemini"}
	f.Fuzz(func(t *testing.T, line, below string, provider uint8) {
		rc := newRecogniser(providers[int(provider)%len(providers)])
		for _, ev := range rc.line(lineCtx{text: line, below: below}) {
			if kindIndex(ev.Kind) < 0 || ev.Text == "" {
				t.Fatalf("event %+v from %q", ev, line)
			}
		}
	})
}
