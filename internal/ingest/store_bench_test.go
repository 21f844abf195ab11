package ingest

import (
	"strings"
	"testing"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
)

// maxRecord is the largest output record a wrapper sends: the recorder
// coalesces PTY reads into records of at most 64 KiB.
const maxRecord = 64 << 10

// line is what the benchmark's sessions print, over and over.
const line = "output line of a session\r\n"

// BenchmarkStoreCommit appends output batches to one session in a real
// store, as Serve does for each wrapper message: every iteration is one
// acknowledged batch, made durable by fsyncing the session's output and
// record files. MB/s is the output stored; commits/s the batches.
func BenchmarkStoreCommit(b *testing.B) {
	for _, bm := range []struct {
		name string
		size int
	}{
		{"4 KiB", 4 << 10},   // a keystroke's echo or a short burst
		{"64 KiB", 64 << 10}, // one full record
		{"1 MiB", 1 << 20},   // the wrapper's MaxBatch: sixteen full records
	} {
		b.Run(bm.name, func(b *testing.B) {
			_, ss := newSession(b)
			data := strings.Repeat(line, bm.size/len(line)+1)[:bm.size]
			var seq, off uint64
			b.SetBytes(int64(bm.size))
			for b.Loop() {
				batch := make([]*aitrackv1.Record, 0, (bm.size+maxRecord-1)/maxRecord)
				for rest := data; rest != ""; {
					chunk := rest[:min(len(rest), maxRecord)]
					seq++
					batch = append(batch, out(seq, off, chunk))
					off += uint64(len(chunk))
					rest = rest[len(chunk):]
				}
				if _, err := ss.Append(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
