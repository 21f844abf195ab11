package parse

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkParse measures throughput on the recorded bash session (b.SetBytes
// makes `go test -bench` report MB/s), and on a stream of long output lines.
func BenchmarkParse(b *testing.B) {
	// The real CLIs' recorded sessions, replayed as recorded (their output
	// records, resizes and times) by a new parser, as aitrackd parses one.
	for _, s := range loadCorpus(b) {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(s.raw)))
			b.ReportAllocs()
			var clean bytes.Buffer
			for b.Loop() {
				clean.Reset()
				s.replay(&clean)
			}
		})
	}
	fixture := readFixture(b, "bash_session")
	inputs := []struct {
		name string
		data []byte
	}{
		{"bash session", fixture},
		{"long lines", bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz "), 1<<15)},
	}
	for _, in := range inputs {
		b.Run(in.name+", new parser each", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				p := New(Options{Clean: io.Discard, Start: t0})
				p.Write(in.data, t0)
				p.Close()
			}
		})
		b.Run(in.name+", streamed", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			p := New(Options{Clean: io.Discard, Start: t0})
			for b.Loop() {
				p.Write(in.data, t0)
			}
			p.Close()
		})
	}
}
