package redact

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// streamAll feeds in to a new Stream in the pieces split gives (the
// lengths of successive writes) and returns the output and counts.
func streamAll(t testing.TB, r *Redactor, in []byte, split func(rest int) int) ([]byte, Counts) {
	t.Helper()
	var out bytes.Buffer
	s := r.NewStream(&out)
	for len(in) > 0 {
		n := min(len(in), split(len(in)))
		if w, err := s.Write(in[:n]); err != nil || w != n {
			t.Fatalf("Write = %d, %v; want %d", w, err, n)
		}
		in = in[n:]
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), s.Counts()
}

func whole(rest int) int { return rest }

func randomSplits(seed uint64, maxLen int) func(int) int {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(int) int { return 1 + rng.IntN(maxLen) }
}

// decorate dresses text as a terminal program would: SGR colour codes at
// random character boundaries (inside secrets too), erase-to-end-of-line,
// and single spaces printed as cursor-forward. None of it changes the text a
// reader sees, which is what strip recovers.
func decorate(text string, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	sgr := []string{"\x1b[1m", "\x1b[22m", "\x1b[38;2;215;119;87m", "\x1b[39m", "\x1b[2m", "\x1b[0m", "\x1b[m", "\x1b[48;5;236m"}
	var b bytes.Buffer
	for i, w := 0, 0; i < len(text); i += w {
		var r rune
		r, w = utf8.DecodeRuneInString(text[i:])
		if rng.IntN(8) == 0 {
			b.WriteString(sgr[rng.IntN(len(sgr))])
		}
		switch {
		case r == ' ' && rng.IntN(3) == 0:
			b.WriteString("\x1b[1C")
		case r == '\n' && rng.IntN(2) == 0:
			b.WriteString("\x1b[K\r\n")
		case r == '\n':
			b.WriteString("\r\n")
		default:
			b.WriteString(text[i : i+w])
		}
	}
	return b.Bytes()
}

var styling = regexp.MustCompile(`\x1b\[[0-9;]*[mK]|\r`)

// strip undoes decorate.
func strip(raw []byte) string {
	return strings.ReplaceAll(styling.ReplaceAllString(string(raw), ""), "\x1b[1C", " ")
}

func assertNoneLeaked(t testing.TB, out []byte, planted []string) {
	t.Helper()
	for _, v := range planted {
		if bytes.Contains(out, []byte(v)) {
			t.Fatalf("output holds planted secret %q", v)
		}
	}
}

// TestStreamPlainText: without escape sequences a Stream writes what String
// returns, however the input is split.
func TestStreamPlainText(t *testing.T) {
	r := newTestRedactor(t, Config{})
	fx := render(t, readTemplate(t, "transcript.txt"), 1)
	splits := map[string]func(int) int{
		"whole":     whole,
		"bytes":     func(int) int { return 1 },
		"random-64": randomSplits(1, 64),
		"random-4k": randomSplits(2, 4096),
	}
	for name, split := range splits {
		t.Run(name, func(t *testing.T) {
			out, counts := streamAll(t, r, []byte(fx.input), split)
			if string(out) != fx.want {
				t.Fatal(diffLines(string(out), fx.want))
			}
			if !maps.Equal(counts, fx.counts) {
				t.Fatalf("counts %v, want %v", counts, fx.counts)
			}
		})
	}
}

// TestStreamEscapes: colour codes inside a secret do not hide it, and the
// escape sequences outside secrets survive.
func TestStreamEscapes(t *testing.T) {
	r := newTestRedactor(t, Config{})
	template := readTemplate(t, "transcript.txt")
	for seed := uint64(1); seed <= 10; seed++ {
		fx := render(t, template, seed)
		raw := decorate(fx.input, seed)
		out, counts := streamAll(t, r, raw, whole)
		assertNoneLeaked(t, out, fx.planted)
		if got := strip(out); got != fx.want {
			t.Fatalf("seed %d: %s", seed, diffLines(got, fx.want))
		}
		if !maps.Equal(counts, fx.counts) {
			t.Fatalf("seed %d: counts %v, want %v", seed, counts, fx.counts)
		}
	}
}

// TestStreamEverySplit cuts a decorated corpus with one secret of each kind
// in two at every byte boundary, and feeds it a byte at a time: the output
// never changes.
func TestStreamEverySplit(t *testing.T) {
	r := newTestRedactor(t, Config{})
	fx := render(t, readTemplate(t, "kinds.txt"), 3)
	raw := decorate(fx.input, 3)
	want, wantCounts := streamAll(t, r, raw, whole)
	if got := strip(want); got != fx.want {
		t.Fatal(diffLines(got, fx.want))
	}
	if !maps.Equal(wantCounts, fx.counts) {
		t.Fatalf("counts %v, want %v", wantCounts, fx.counts)
	}
	if len(wantCounts) != len(builtinRules()) {
		t.Errorf("corpus covers %d kinds of %d", len(wantCounts), len(builtinRules()))
	}
	for kind, n := range wantCounts {
		if n != 1 {
			t.Errorf("%d redactions of %s; the corpus has one of each kind", n, kind)
		}
	}
	for i := 1; i < len(raw); i++ {
		first := true
		out, counts := streamAll(t, r, raw, func(rest int) int {
			if first {
				first = false
				return i
			}
			return rest
		})
		if !bytes.Equal(out, want) {
			t.Fatalf("split at %d: %s", i, diffLines(string(out), string(want)))
		}
		if !maps.Equal(counts, wantCounts) {
			t.Fatalf("split at %d: counts %v, want %v", i, counts, wantCounts)
		}
	}
	out, _ := streamAll(t, r, raw, func(int) int { return 1 })
	if !bytes.Equal(out, want) {
		t.Fatalf("byte at a time: %s", diffLines(string(out), string(want)))
	}
}

// longFixture renders the transcript n times with different secrets.
func longFixture(t testing.TB, n int) fixture {
	template := readTemplate(t, "transcript.txt")
	all := fixture{counts: Counts{}}
	var in, want strings.Builder
	for i := range n {
		fx := render(t, template, uint64(100+i))
		in.WriteString(fx.input)
		want.WriteString(fx.want)
		all.counts.Add(fx.counts)
		all.planted = append(all.planted, fx.planted...)
	}
	all.input, all.want = in.String(), want.String()
	return all
}

// TestStreamLong crosses many flushes: the Stream decides text while later
// input is still to come, and must decide as String does.
func TestStreamLong(t *testing.T) {
	r := newTestRedactor(t, Config{})
	fx := longFixture(t, 25) // ~250 KB decorated, ~15 flushes
	raw := decorate(fx.input, 7)
	want, wantCounts := streamAll(t, r, raw, whole)
	if got := strip(want); got != fx.want {
		t.Fatal(diffLines(got, fx.want))
	}
	if !maps.Equal(wantCounts, fx.counts) {
		t.Fatalf("counts %v, want %v", wantCounts, fx.counts)
	}
	for seed := uint64(1); seed <= 2; seed++ {
		for _, maxLen := range []int{7, 300, 5000, 40000} {
			out, counts := streamAll(t, r, raw, randomSplits(seed, maxLen))
			if !bytes.Equal(out, want) {
				t.Fatalf("seed %d, writes up to %d bytes: %s", seed, maxLen, diffLines(string(out), string(want)))
			}
			if !maps.Equal(counts, wantCounts) {
				t.Fatalf("seed %d: counts %v, want %v", seed, counts, wantCounts)
			}
		}
	}
}

// TestStreamShrink: a stream shrunk after every write writes what one never
// shrunk does, and holds no more than its held-back input between writes.
func TestStreamShrink(t *testing.T) {
	r := newTestRedactor(t, Config{})
	raw := decorate(longFixture(t, 10).input, 3)
	want, wantCounts := streamAll(t, r, raw, whole)
	var out bytes.Buffer
	s := r.NewStream(&out)
	split := randomSplits(5, 40000)
	for rest := raw; len(rest) > 0; {
		n := min(len(rest), split(len(rest)))
		if _, err := s.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
		s.Shrink()
		if cap(s.raw) != len(s.raw) || cap(s.text) != len(s.text) || cap(s.rawFrom) != len(s.rawFrom) || s.out != nil {
			t.Fatalf("after Shrink: raw %d/%d, text %d/%d, rawFrom %d/%d", len(s.raw), cap(s.raw), len(s.text), cap(s.text), len(s.rawFrom), cap(s.rawFrom))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) || !maps.Equal(s.Counts(), wantCounts) {
		t.Fatalf("shrunk stream differs: counts %v, want %v; %s", s.Counts(), wantCounts, diffLines(out.String(), string(want)))
	}
}

// TestStreamCutNearSecret places secrets, with their keys, all around the
// place where the first flush cuts: the cut must move before them, and the
// next pass must find them whole.
func TestStreamCutNearSecret(t *testing.T) {
	r := newTestRedactor(t, Config{})
	// One Write of 3 batches: the first flush sees 48 KiB and cuts holdBack
	// before its end.
	firstCut := 3*decideBatch - holdBack
	secrets := []struct{ text, kind string }{
		{"DB_PASSWORD=" + fake("password", 1), "password"},
		{"https://ci:" + fake("url-password", 1) + "@git.example.com/x", "url-password"},
		{fake("jwt", 1), "jwt"},
		{fake("pem-rsa", 1), "private-key"},
	}
	filler := strings.Repeat("lorem ipsum dolor sit amet\n", 2500)
	for _, sec := range secrets {
		// Every cut from just before the secret's key to just after its
		// end: every byte near its ends, a sample in between.
		for at := firstCut - len(sec.text) - 3; at <= firstCut+3; at++ {
			if d := min(at-(firstCut-len(sec.text)-3), firstCut+3-at); d > 24 && at%17 != 0 {
				continue
			}
			// 3 full batches, then some: the first flush is at 3 batches.
			in := filler[:at] + "\n" + sec.text + "\n" + filler[:3*decideBatch+5000-at-len(sec.text)]
			want, wantCounts := r.String(in)
			out, counts := streamAll(t, r, []byte(in), whole)
			if string(out) != want || !maps.Equal(counts, Counts{sec.kind: 1}) || !maps.Equal(wantCounts, counts) {
				t.Fatalf("%s at %d: counts %v; %s", sec.kind, at, counts, diffLines(string(out), want))
			}
		}
	}
}

// TestStreamBounded: memory stays bounded whatever is written, including
// output that is nearly all escape sequences.
func TestStreamBounded(t *testing.T) {
	r := newTestRedactor(t, Config{})
	inputs := map[string][]byte{
		"transcript":   decorate(longFixture(t, 20).input, 9),
		"escapes only": bytes.Repeat([]byte("\x1b[38;5;208m\x1b[0m"), 100000),
		// Over 64 raw bytes per text byte: the held-back text's raw bytes
		// exceed maxPendingRaw, and the Stream stops holding back.
		"escape-dense":     bytes.Repeat([]byte(strings.Repeat("\x1b[38;2;1;2;3m", 7)+"a"), 25000),
		"endless osc":      append([]byte("\x1b]0;"), bytes.Repeat([]byte("title "), 50000)...),
		"endless csi":      append([]byte("\x1b["), bytes.Repeat([]byte("1;"), 50000)...),
		"no line breaks":   bytes.Repeat([]byte("x"), 300000),
		"keywords, no end": bytes.Repeat([]byte("password=password=token:"), 10000),
	}
	const rawBound = maxPendingRaw + 2*decideBatch
	const textBound = contextLen + holdBack + 2*decideBatch
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			s := r.NewStream(&out)
			split := randomSplits(1, 70000)
			for rest := in; len(rest) > 0; {
				n := min(len(rest), split(len(rest)))
				if _, err := s.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
				if len(s.raw) > rawBound || len(s.text) > textBound {
					t.Fatalf("holding %d raw bytes and %d text bytes", len(s.raw), len(s.text))
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if name != "transcript" && name != "keywords, no end" && !bytes.Equal(out.Bytes(), in) {
				t.Fatalf("output differs from input without secrets: %d bytes, want %d", out.Len(), len(in))
			}
		})
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestStreamWriterError(t *testing.T) {
	r := newTestRedactor(t, Config{})
	s := r.NewStream(&failingWriter{after: 1})
	big := bytes.Repeat([]byte("some output\n"), 20000)
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = s.Write(big)
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Write error = %v, want the writer's", err)
	}
	if _, err2 := s.Write([]byte("x")); err2 == nil {
		t.Fatal("Write after a failure succeeded")
	}
	if err2 := s.Close(); err2 == nil {
		t.Fatal("Close after a failure succeeded")
	}
}

func TestStreamClose(t *testing.T) {
	r := newTestRedactor(t, Config{})
	var out bytes.Buffer
	s := r.NewStream(&out)
	if _, err := s.Write([]byte("token: " + fake("ghp", 1) + "\x1b[3")); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("wrote %q before Close; a secret may still be growing", out.String())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "token: [REDACTED:github-token]\x1b[3"; out.String() != want {
		t.Fatalf("got %q, want %q (an unfinished sequence is passed through)", out.String(), want)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

// TestStreamTextView checks how escape sequences read, through what gets
// redacted.
func TestStreamTextView(t *testing.T) {
	r := newTestRedactor(t, Config{})
	tok := fake("ghp", 3)
	pw := fake("password", 3)
	urlPW := fake("url-password", 3)
	keyID := fake("aws-access-key-id", 3)
	tests := []struct{ name, in, want string }{
		{"sgr inside token", "a " + tok[:5] + "\x1b[1;31m" + tok[5:20] + "\x1b[0m" + tok[20:] + " b",
			"a [REDACTED:github-token] b"},
		{"sgr around token kept", "\x1b[32m" + tok + "\x1b[39m", "\x1b[32m[REDACTED:github-token]\x1b[39m"},
		{"cursor forward is a space", "password:\x1b[1C" + pw + "\x1b[K", "password:\x1b[1C[REDACTED:password]\x1b[K"},
		{"osc title", "\x1b]0;DB_PASSWORD=" + pw + "\x07$ ", "\x1b]0;DB_PASSWORD=[REDACTED:password]\x07$ "},
		{"osc 8 link with st", "\x1b]8;;https://u:" + urlPW + "@h/\x1b\\link\x1b]8;;\x1b\\", "\x1b]8;;https://u:[REDACTED:url-password]@h/\x1b\\link\x1b]8;;\x1b\\"},
		{"cursor move ends a token", tok + "\x1b[2;1Hxyz", "[REDACTED:github-token]\x1b[2;1Hxyz"},
		{"styling joins text", keyID + "\x1b[1mXYZ", keyID + "\x1b[1mXYZ"}, // 19 characters after AKIA: no key id
		{"mode switch ends a token", tok + "\x1b[?2026lxyz", "[REDACTED:github-token]\x1b[?2026lxyz"},
		{"charset designation inside", tok[:10] + "\x1b(B" + tok[10:], "[REDACTED:github-token]"},
		{"dcs payload is text", "\x1bPtoken=" + tok + "\x1b\\", "\x1bPtoken=[REDACTED:github-token]\x1b\\"},
		{"cancelled sequence", "\x1b[12\x18" + tok, "\x1b[12\x18[REDACTED:github-token]"},
		{"restore cursor ends a token", tok + "\x1b8xyz", "[REDACTED:github-token]\x1b8xyz"},
		{"escape restarts a sequence", "\x1b\x1b[1m" + tok, "\x1b\x1b[1m[REDACTED:github-token]"},
		{"string ended by a sequence", "\x1b]0;title\x1b[1m" + tok, "\x1b]0;title\x1b[1m[REDACTED:github-token]"},
		{"string cancelled", "\x1b]0;title\x18" + tok, "\x1b]0;title\x18[REDACTED:github-token]"},
		{"string payload split by a control", "\x1b]0;DB_PASSWORD=" + pw + "\x1b\\", "\x1b]0;DB_PASSWORD=[REDACTED:password]\x1b\\"},
		{"overlong sequence abandoned", "\x1b[" + strings.Repeat("1;", 80) + "m " + tok, "\x1b[" + strings.Repeat("1;", 80) + "m [REDACTED:github-token]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := streamAll(t, r, []byte(tt.in), whole)
			if string(out) != tt.want {
				t.Errorf("got  %q\nwant %q", out, tt.want)
			}
			split, _ := streamAll(t, r, []byte(tt.in), func(int) int { return 1 })
			if !bytes.Equal(split, out) {
				t.Errorf("byte at a time: %q", split)
			}
		})
	}
}
