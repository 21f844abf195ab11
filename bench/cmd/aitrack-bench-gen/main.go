// Command aitrack-bench-gen prints like an AI coding CLI, for aitrack's
// benchmark harness: spinner frames and coloured lines at a steady rate,
// with periodic bursts like a full redraw. It exits 0 after -duration.
//
// It is load, not a simulation: the bytes only need the shape of a real
// session (escape sequences, carriage returns, long lines), not its meaning.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long to print")
	rate := flag.Int("rate", 6000, "steady output, bytes per second")
	burst := flag.Int("burst", 50000, "bytes per burst (0: none)")
	burstEvery := flag.Duration("burst-every", 10*time.Second, "time between bursts")
	burstRate := flag.Int("burst-rate", 1000000, "burst output, bytes per second")
	frame := flag.Duration("frame", 32*time.Millisecond, "time between frames (Ink draws at about 30 fps)")
	flag.Parse()
	if *rate <= 0 || *burstRate <= 0 || *frame <= 0 || *burstEvery <= 0 {
		fmt.Fprintln(os.Stderr, "aitrack-bench-gen: -rate, -burst-rate, -frame and -burst-every must be positive")
		os.Exit(2)
	}
	g := &generator{out: bufio.NewWriterSize(os.Stdout, 64<<10), rng: rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))}
	start := time.Now()
	// A random first burst, so that concurrent sessions do not burst together.
	nextBurst := start.Add(time.Duration(g.rng.Int64N(int64(*burstEvery))))
	perFrame := max(*rate*int(*frame)/int(time.Second), 1)
	tick := time.NewTicker(*frame)
	defer tick.Stop()
	for now := range tick.C {
		if now.Sub(start) >= *duration {
			break
		}
		g.frame(perFrame)
		if *burst > 0 && !now.Before(nextBurst) {
			g.burst(*burst, *burstRate)
			nextBurst = nextBurst.Add(*burstEvery)
		}
		if err := g.out.Flush(); err != nil {
			os.Exit(1)
		}
	}
	g.line("done.")
	g.out.Flush()
}

type generator struct {
	out    *bufio.Writer
	rng    *rand.Rand
	frames int
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

var words = []string{"the", "function", "returns", "an", "error", "when", "config", "file", "is", "missing",
	"git", "status", "run", "tests", "package", "handler", "request", "context", "deadline", "retry"}

// frame writes about n bytes: a spinner redraw, and a new line of text
// whenever the budget allows one.
func (g *generator) frame(n int) {
	g.frames++
	spin := fmt.Sprintf("\r\x1b[2K\x1b[38;5;208m%s\x1b[0m Working… (%ds · esc to interrupt)", spinner[g.frames%len(spinner)], g.frames/30)
	g.out.WriteString(spin)
	for left := n - len(spin); left > 0; {
		left -= g.line(g.sentence(min(left, 160)))
	}
}

// burst writes n bytes of lines at about rate bytes per second.
func (g *generator) burst(n, rate int) {
	const chunk = 16 << 10
	for sent := 0; sent < n; {
		start := time.Now()
		size := 0
		for size < min(chunk, n-sent) {
			size += g.line(g.sentence(120))
		}
		g.out.Flush()
		sent += size
		time.Sleep(time.Duration(size)*time.Second/time.Duration(rate) - time.Since(start))
	}
}

// line clears the spinner's line, prints s as a finished line, and
// returns the bytes written.
func (g *generator) line(s string) int {
	n, _ := fmt.Fprintf(g.out, "\r\x1b[2K\x1b[1m●\x1b[22m %s\n", s)
	return n
}

func (g *generator) sentence(limit int) string {
	b := make([]byte, 0, limit)
	for len(b) < limit-12 {
		w := words[g.rng.IntN(len(words))]
		if g.rng.IntN(8) == 0 {
			b = fmt.Appendf(b, "\x1b[36m%s\x1b[39m ", w)
			continue
		}
		b = append(b, w...)
		b = append(b, ' ')
	}
	return string(b)
}
