package parse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkParseCorpus parses the real-CLI recordings (every renderer of
// Claude Code, Codex and Gemini CLI) in 4 KiB chunks, as the daemon feeds
// them: the throughput that matters for the parse budget.
func BenchmarkParseCorpus(b *testing.B) {
	files, err := filepath.Glob("testdata/cli/*.raw")
	if err != nil || len(files) == 0 {
		b.Skip("no real-CLI recordings in testdata/cli")
	}
	type fixture struct {
		provider string
		data     []byte
	}
	var fixtures []fixture
	var total int64
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		provider, _, _ := strings.Cut(filepath.Base(f), "-")
		fixtures = append(fixtures, fixture{provider, d})
		total += int64(len(d))
	}
	b.SetBytes(total)
	at := time.Now()
	for b.Loop() {
		for _, fx := range fixtures {
			p := New(Options{Provider: fx.provider, Cols: 120, Rows: 40})
			for k := 0; k < len(fx.data); k += 4096 {
				p.Write(fx.data[k:min(k+4096, len(fx.data))], at)
			}
			p.Close()
		}
	}
}
