package bench

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"time"
)

// keystrokeChild echoes every byte at once. The harness waits for its "R"
// before typing: it says stty has run, so no byte is echoed by a line
// discipline still in cooked mode.
var keystrokeChild = []string{"sh", "-c", "stty raw -echo; printf R; exec cat"}

// Keystroke is the round trip of one typed byte through a candidate.
type Keystroke struct {
	Candidate string `json:"candidate"`
	Label     string `json:"label"`
	// Samples round trips were timed per repetition.
	Samples int `json:"samples"`
	// P50, P90 and P99 are per-repetition percentiles in microseconds.
	P50   Spread `json:"p50_us"`
	P90   Spread `json:"p90_us"`
	P99   Spread `json:"p99_us"`
	Error string `json:"error,omitempty"`
}

func (h *harness) measureKeystrokes(ctx context.Context) {
	peers := h.peersFor(keyDirect, keyScript, keyAsciinema, keyWrap, keyWrapStalled, keyWrapNoDaemon)
	results := make([]Keystroke, len(peers))
	var p50, p90, p99 = make([][]float64, len(peers)), make([][]float64, len(peers)), make([][]float64, len(peers))
	// Repetitions go round the candidates, so that a slow patch of the
	// machine is shared between them rather than landing on one.
	for rep := range h.cfg.Reps {
		for i, p := range peers {
			if ctx.Err() != nil {
				return
			}
			h.logf("keystroke: %s, repetition %d/%d", p.Key, rep+1, h.cfg.Reps)
			rtts, err := h.keystrokeRep(ctx, p)
			if err != nil {
				results[i].Error = err.Error()
				continue
			}
			ps := percentilesOf(rtts, 50, 90, 99)
			p50[i], p90[i], p99[i] = append(p50[i], ps[0]), append(p90[i], ps[1]), append(p99[i], ps[2])
			if p.daemon != nil {
				h.quiet(ctx, p.daemon, time.Minute)
			}
		}
	}
	for i, p := range peers {
		results[i].Candidate, results[i].Label, results[i].Samples = p.Key, p.Label, h.cfg.KeystrokeSamples
		results[i].P50, results[i].P90, results[i].P99 = spreadOf(p50[i]), spreadOf(p90[i]), spreadOf(p99[i])
	}
	h.report.Keystroke = results
}

// keystrokeRep types warm-up plus sample bytes, one at a time, and returns
// the sampled round trips in microseconds.
func (h *harness) keystrokeRep(ctx context.Context, p peer) ([]float64, error) {
	argv, cleanup := p.command(keystrokeChild)
	defer cleanup()
	sessions := 0
	if p.daemon != nil {
		sessions = p.daemon.sessions()
	}
	t, err := startOnTerminal(argv, p.env, h.work)
	if err != nil {
		return nil, err
	}
	// A blocked read ends when the watchdog kills the candidate.
	watchdog := time.AfterFunc(2*time.Minute, t.kill)
	stalled := false
	defer func() {
		watchdog.Stop()
		if stalled {
			p.daemon.resume()
		}
		t.hangUp(2 * time.Second)
	}()

	if err := waitForMarker(t, 'R'); err != nil {
		return nil, fmt.Errorf("%s: waiting for the child to be ready: %w", p.Key, err)
	}
	if p.daemon != nil {
		if err := p.daemon.waitSessions(ctx, sessions, 10*time.Second); err != nil {
			return nil, err
		}
		if p.stalled {
			if err := p.daemon.stall(); err != nil {
				return nil, fmt.Errorf("stall aitrackd: %w", err)
			}
			stalled = true
		}
	}
	rtts, err := roundTrips(t, h.cfg.KeystrokeWarmup, h.cfg.KeystrokeSamples)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Key, err)
	}
	return rtts, nil
}

// waitForMarker reads until marker arrives; what comes before it is the
// candidate's own start-up output.
func waitForMarker(t *terminal, marker byte) error {
	buf := make([]byte, 4096)
	for {
		n, err := t.read(buf)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(buf[:n], marker); i >= 0 {
			if rest := buf[i+1 : n]; len(rest) > 0 {
				return fmt.Errorf("unexpected output after the ready marker: %q", rest)
			}
			return nil
		}
	}
}

// roundTrips writes one byte at a time and times until it comes back. The
// thread is locked so that every sample is a write and a blocking read on
// the same OS thread, with no scheduler hand-off in between.
func roundTrips(t *terminal, warmup, samples int) ([]float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	out := make([]float64, 0, samples)
	var buf [64]byte
	for i := range warmup + samples {
		b := []byte{'a' + byte(i%26)}
		start := time.Now()
		if err := t.write(b); err != nil {
			return nil, err
		}
		n, err := t.read(buf[:])
		elapsed := time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("round trip %d: %w", i, err)
		}
		if n != 1 || buf[0] != b[0] {
			return nil, fmt.Errorf("round trip %d: typed %q, the terminal showed %q", i, b, buf[:n])
		}
		if i >= warmup {
			out = append(out, float64(elapsed.Nanoseconds())/1e3)
		}
	}
	return out, nil
}
