package redact

import (
	"bytes"
	"maps"
	"regexp"
	"strings"
	"testing"
)

// planted is a secret between the context that makes it one; value is what
// must not reach the output.
type planted struct{ before, value, after string }

func plantable(seed uint64) []planted {
	return []planted{
		{"AWS_ACCESS_KEY_ID=", fake("aws-access-key-id", seed), ""},
		{"aws_secret_access_key = ", fake("aws-secret", seed), ""},
		{"", fake("ghp", seed), ""},
		{"", fake("github-pat", seed), ""},
		{"", fake("glpat", seed), ""},
		{"", fake("anthropic", seed), ""},
		{"", fake("openai-proj", seed), ""},
		{"", fake("google", seed), ""},
		{"", fake("slack-bot", seed), ""},
		{"", fake("stripe-live", seed), ""},
		{"", fake("jwt", seed), ""},
		{"", fake("pem-openssh", seed), ""},
		{"Authorization: Bearer ", fake("bearer", seed), ""},
		{"Authorization: Basic ", fake("basic", seed), ""},
		{"postgres://app:", fake("url-password", seed), "@db/app"},
		{"DB_PASSWORD=", fake("password", seed), ""},
		{`"client_secret": "`, fake("secret", seed), `"`},
	}
}

// plant puts a secret into arbitrary bytes at a place a terminal would show
// it: after CAN (which cancels any escape sequence in progress) and a line
// break, and before a line break.
func plant(data []byte, at int, p planted) []byte {
	at = min(at, len(data))
	var b bytes.Buffer
	b.Write(data[:at])
	b.WriteString("\x18\n" + p.before + p.value + p.after + "\n")
	b.Write(data[at:])
	return b.Bytes()
}

func fuzzSeeds(f *testing.F) {
	fx := render(f, readTemplate(f, "kinds.txt"), 1)
	f.Add([]byte(fx.input), uint(100), uint8(0), uint64(1))
	f.Add([]byte(fx.input), uint(50000), uint8(0x80|3), uint64(6))
	f.Add(decorate(fx.input, 1), uint(1000), uint8(5), uint64(2))
	f.Add([]byte("\x1b]8;;https://u:p@h\x1b\\x\x1b[?2026h\x1bP1;2|x\x1b\\\x1b(B\x1b7\x1b8"), uint(3), uint8(11), uint64(3))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIB\n"), uint(9), uint8(2), uint64(4))
	f.Add([]byte("token=\"a\\\"b\" password: \\\"x\\\" key=eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"), uint(0), uint8(14), uint64(5))
}

// FuzzStream: on any bytes split anywhere, a Stream never panics, writes
// what one Write would, and never lets a planted secret through. With the
// top bit of which set, the data is repeated past several flushes, so that
// the Stream decides text while more is to come.
func FuzzStream(f *testing.F) {
	fuzzSeeds(f)
	r := newTestRedactor(f, Config{})
	f.Fuzz(func(t *testing.T, data []byte, at uint, which uint8, splitSeed uint64) {
		secrets := plantable(splitSeed % 3)
		p := secrets[int(which&0x7f)%len(secrets)]
		if which&0x80 != 0 && len(data) > 0 {
			data = bytes.Repeat(data, 5*decideBatch/len(data)+1)
		}
		in := plant(data, int(at%uint(len(data)+1)), p)

		want, wantCounts := streamAll(t, r, in, whole)
		got, counts := streamAll(t, r, in, randomSplits(splitSeed, 64))
		if !bytes.Equal(got, want) {
			t.Fatalf("split output differs:\n got %q\nwant %q", got, want)
		}
		if !maps.Equal(counts, wantCounts) {
			t.Fatalf("split counts %v, want %v", counts, wantCounts)
		}
		if n, m := bytes.Count(want, []byte(p.value)), bytes.Count(data, []byte(p.value)); n > m {
			t.Fatalf("planted %q leaked:\n%q", p.value, want)
		}
	})
}

var wellFormedMarker = regexp.MustCompile(`\[REDACTED:[a-z0-9-]+\]`)

// FuzzString: String never panics, agrees with a Stream on text without
// escape sequences, and leaves markers alone when run on its own output.
// (It need not be idempotent: whether "Bearer x=" runs on depends on the
// bytes after it, which the first pass may have redacted.)
func FuzzString(f *testing.F) {
	fuzzSeeds(f)
	r := newTestRedactor(f, Config{})
	f.Fuzz(func(t *testing.T, data []byte, _ uint, _ uint8, _ uint64) {
		s := string(data)
		once, _ := r.String(s)
		twice, _ := r.String(once)
		if !strings.Contains(s, markerPrefix) && strings.Count(twice, markerPrefix) != len(wellFormedMarker.FindAllString(twice, -1)) {
			t.Fatalf("second pass broke a marker:\n once %q\ntwice %q", once, twice)
		}
		if strings.IndexByte(s, esc) < 0 {
			if streamed, _ := streamAll(t, r, data, whole); string(streamed) != once {
				t.Fatalf("Stream %q, String %q", streamed, once)
			}
		}
	})
}
