package redact

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// claudeStyle dresses a clean transcript as Claude Code's renderer prints
// it: coloured spans, runs of spaces as cursor-forward, erase-line before
// each line, and a synchronized-output spinner redraw every few lines.
func claudeStyle(text string, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	colours := []string{"\x1b[38;2;215;119;87m", "\x1b[38;2;153;153;153m", "\x1b[1m", "\x1b[2m", "\x1b[38;5;246m"}
	var b bytes.Buffer
	for i, line := range strings.Split(text, "\n") {
		b.WriteString("\x1b[2K")
		words := strings.Split(line, " ")
		for j, w := range words {
			if j > 0 {
				if w == "" && rng.IntN(2) == 0 {
					b.WriteString("\x1b[2C")
				} else {
					b.WriteByte(' ')
				}
			}
			if rng.IntN(4) == 0 {
				b.WriteString(colours[rng.IntN(len(colours))] + w + "\x1b[39m\x1b[22m")
			} else {
				b.WriteString(w)
			}
		}
		b.WriteString("\r\n")
		if i%12 == 11 {
			b.WriteString("\x1b[?2026h\x1b[2K\x1b[1A\x1b[2K\x1b[G\x1b[38;2;215;119;87m✻\x1b[39m Thinking… \x1b[2m(12s · ↑ 1.2k tokens · esc to interrupt)\x1b[22m\r\n\x1b[?2026l")
		}
	}
	return b.Bytes()
}

// benchTranscript is about size bytes of transcripts, each rendered with
// its own secrets.
func benchTranscript(b *testing.B, size int) string {
	template := readTemplate(b, "transcript.txt")
	var sb strings.Builder
	for seed := uint64(1); sb.Len() < size; seed++ {
		sb.WriteString(render(b, template, seed).input)
	}
	return sb.String()
}

func BenchmarkString(b *testing.B) {
	r := newTestRedactor(b, Config{})
	text := benchTranscript(b, 10<<20)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		r.String(text)
	}
}

func BenchmarkStream(b *testing.B) {
	r := newTestRedactor(b, Config{})
	secrets := claudeStyle(benchTranscript(b, 10<<20), 1)[:10<<20]
	// base64(1)'s output: text with no secret and no escape, like a
	// large file printed to the terminal.
	rng := rand.New(rand.NewPCG(1, 2))
	var plain []byte
	for line := make([]byte, 57); len(plain) < 10<<20; {
		for i := range line {
			line[i] = byte(rng.Uint32())
		}
		plain = append(base64.StdEncoding.AppendEncode(plain, line), '\r', '\n')
	}
	for _, in := range []struct {
		name string
		raw  []byte
	}{
		{"claude-style with secrets", secrets},
		{"plain base64", plain},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.raw)))
			for b.Loop() {
				s := r.NewStream(io.Discard)
				for p := in.raw; len(p) > 0; p = p[min(len(p), 4096):] {
					if _, err := s.Write(p[:min(len(p), 4096)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
