package parse

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

var longSessionMB = flag.String("long-session-mb", "4",
	"sizes in MB of BenchmarkParseLongSession's synthetic sessions, comma-separated (the bench harness uses 50,500)")

// BenchmarkParseLongSession streams a synthetic session of the given sizes
// through one parser, in 32 KiB writes at realistic stream times, and
// reports the peak heap, sampled every MiB: the parser's memory must stay
// flat in the session's length (the same peak for 50 MB and 500 MB).
//
//	go test -run '^$' -bench BenchmarkParseLongSession -benchtime 1x ./internal/parse/ -args -long-session-mb 50,500
//
// peak-heap-MB is the heap's objects, live and not yet collected
// (/memory/classes/heap/objects:bytes); peak-live-MB is what the garbage
// collector last found live (/gc/heap/live:bytes).
func BenchmarkParseLongSession(b *testing.B) {
	for _, f := range strings.Split(*longSessionMB, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || mb <= 0 {
			b.Fatalf("-long-session-mb %q: want sizes in MB, like 50,500", *longSessionMB)
		}
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			size := int64(mb) << 20
			b.SetBytes(size)
			var peak heapPeak
			for b.Loop() {
				runtime.GC() // start from what is live, not from the last run's garbage
				p := New(Options{Clean: io.Discard, Start: t0, Cols: 120, Rows: 40})
				var gen sessionGen
				at, sampled := t0, int64(0)
				for fed := int64(0); fed < size; {
					chunk, step := gen.next()
					p.Write(chunk, at)
					at = at.Add(step)
					if fed += int64(len(chunk)); fed-sampled >= 1<<20 {
						peak.sample()
						sampled = fed
					}
				}
				p.Close()
				peak.sample()
			}
			b.ReportMetric(float64(peak.heap)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(peak.live)/(1<<20), "peak-live-MB")
		})
	}
}

// heapPeak keeps the highest heap readings.
type heapPeak struct {
	samples    [2]metrics.Sample
	heap, live uint64
}

func (h *heapPeak) sample() {
	h.samples[0].Name, h.samples[1].Name = "/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"
	metrics.Read(h.samples[:])
	h.heap = max(h.heap, h.samples[0].Value.Uint64())
	h.live = max(h.live, h.samples[1].Value.Uint64())
}

// sessionGen writes a synthetic terminal session, endlessly, from scenes of
// what shells and CLIs print: prompts and commands with their output
// (colours, git, errors), a progress bar redrawn in place, a TUI redrawing
// its lines, very long lines, wide characters, a full clear and
// full-screen programs on the alternate screen. Its numbers change from one
// scene to the next, so no two stretches are the same text.
type sessionGen struct {
	n    int    // scenes written
	buf  []byte // the scene being written
	off  int    // how much of buf next has returned
	step time.Duration
}

// sessionChunk is the most next returns at once, like a PTY read.
const sessionChunk = 32 << 10

// next returns the next piece of the session and the stream time until the
// piece after it.
func (g *sessionGen) next() ([]byte, time.Duration) {
	if g.off == len(g.buf) {
		g.buf, g.off = g.buf[:0], 0
		scene := sessionScenes[g.n%len(sessionScenes)]
		g.n++
		g.step = scene.step
		scene.write(g)
	}
	end := min(g.off+sessionChunk, len(g.buf))
	chunk := g.buf[g.off:end]
	g.off = end
	return chunk, g.step
}

func (g *sessionGen) printf(format string, args ...any) { g.buf = fmt.Appendf(g.buf, format, args...) }

// sessionScenes are written in turn, each at its stream time per chunk.
var sessionScenes = []struct {
	step  time.Duration
	write func(g *sessionGen)
}{
	{50 * time.Millisecond, promptScene("git log --oneline -n 30", func(g *sessionGen) {
		for i := range 30 {
			g.printf("\x1b[33m%07x\x1b[m fix the parser's handling of case %d (#%d)\r\n", (g.n*7919+i)*104729&0xfffffff, g.n+i, 100+i)
		}
	})},
	{20 * time.Millisecond, promptScene("ls -la", func(g *sessionGen) {
		for i := range 40 {
			g.printf("-rw-r--r--  1 alice staff %8d Jan %2d 12:%02d \x1b[1;34mfile-%d-%d.go\x1b[0m\r\n", g.n*31+i*977, 1+i%28, i%60, g.n, i)
		}
	})},
	{200 * time.Millisecond, promptScene("npm install", func(g *sessionGen) {
		for pct := 0; pct <= 100; pct += 2 {
			g.printf("\r[%-50s] %3d%% fetching package-%d", strings.Repeat("#", pct/2), pct, g.n*100+pct)
		}
		g.printf("\r\nadded %d packages in %ds\r\n", g.n%900, g.n%60)
	})},
	{30 * time.Millisecond, promptScene("go test ./...", func(g *sessionGen) {
		for i := range 25 {
			if i%7 == 3 {
				g.printf("--- FAIL: TestCase%d (0.%02ds)\r\n    case_test.go:%d: error: got %d, want %d\r\n", i, i, 10+i, g.n, i)
			}
			g.printf("ok  \tgithub.com/acme/app/pkg%d\t0.%03ds\r\n", i, (g.n+i)%1000)
		}
	})},
	{80 * time.Millisecond, func(g *sessionGen) { // a TUI's live region, redrawn in place (Ink)
		g.printf("❯ run the tests for session %d\r\n\r\n", g.n)
		for frame := range 20 {
			if frame > 0 {
				g.printf("\x1b[4A")
			}
			for line := range 4 {
				g.printf("\x1b[2K⏺ Bash(go test ./pkg%d) %s step %d of %d\r\n", line, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[frame%10*3:frame%10*3+3], frame, g.n)
			}
		}
	}},
	{500 * time.Millisecond, promptScene("cat build/bundle.min.js", func(g *sessionGen) { // a line of 100-300 KB
		for i := range 1000 + g.n%2000 {
			g.printf("function f%d(a){return a*%d+%d};", i, g.n, i)
		}
		g.printf("\r\n")
	})},
	{40 * time.Millisecond, promptScene("cat i18n.txt", func(g *sessionGen) {
		for i := range 10 {
			g.printf("%d: 日本語のテキスト %d 中文 한국어 👨‍👩‍👧 🇯🇵 café e\u0301 ✅\r\n", i, g.n)
		}
	})},
	{60 * time.Millisecond, func(g *sessionGen) { // clear, then a full-screen program on the alternate screen
		g.printf("\x1b[1;32malice@host\x1b[0m:\x1b[1;34m~/src/app\x1b[0m$ clear\r\n\x1b[H\x1b[2J\x1b[3J")
		g.printf("\x1b[1;32malice@host\x1b[0m:\x1b[1;34m~/src/app\x1b[0m$ less README.md\r\n\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=")
		for top := 0; top < 60; top += 3 { // scrolled three lines a frame
			g.printf("\x1b[H\x1b[2J")
			for row := range 39 {
				g.printf("\x1b[%d;1Hline %d of the README, session %d: $ make install && git push origin main", row+1, top+row, g.n)
			}
			g.printf("\x1b[40;1H\x1b[7mREADME.md lines %d-%d\x1b[27m", top, top+38)
		}
		g.printf("\r\x1b[K\x1b[?1l\x1b>\x1b[?1049l\x1b[23;0;0t")
	}},
}

// promptScene is a command typed at a coloured prompt, then its output.
func promptScene(cmd string, output func(g *sessionGen)) func(g *sessionGen) {
	return func(g *sessionGen) {
		g.printf("\x1b[?2004h\x1b[1;32malice@host\x1b[0m:\x1b[1;34m~/src/app\x1b[0m$ %s\r\n\x1b[?2004l\r", cmd)
		output(g)
	}
}
