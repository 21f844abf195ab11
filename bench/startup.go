package bench

import (
	"context"
	"fmt"
	"time"
)

// Startup is the wall time of `CMD -- true`: from starting the candidate to
// the terminal closing and the candidate reaped.
type Startup struct {
	Candidate string `json:"candidate"`
	Label     string `json:"label"`
	// Runs runs are timed per repetition; Ms is their median per
	// repetition, in milliseconds.
	Runs  int    `json:"runs"`
	Ms    Spread `json:"ms"`
	Error string `json:"error,omitempty"`
}

func (h *harness) measureStartup(ctx context.Context) {
	peers := h.peersFor(keyDirect, keyScript, keyAsciinema, keyWrap, keyWrapNoDaemon)
	medians := make([][]float64, len(peers))
	errs := make([]string, len(peers))
	for rep := range h.cfg.StartupReps {
		for i, p := range peers {
			if ctx.Err() != nil {
				return
			}
			h.logf("startup: %s, repetition %d/%d", p.Key, rep+1, h.cfg.StartupReps)
			var runs []float64
			for range h.cfg.StartupRuns {
				ms, err := h.startupRun(p)
				if err != nil {
					errs[i] = err.Error()
					break
				}
				runs = append(runs, ms)
			}
			if len(runs) == h.cfg.StartupRuns {
				medians[i] = append(medians[i], percentilesOf(runs, 50)[0])
			}
			// A connected wrapper leaves sessions to deliver; the next
			// candidate must not pay for them.
			if p.daemon != nil {
				h.quiet(ctx, p.daemon, time.Minute)
			}
		}
	}
	for i, p := range peers {
		h.report.Startup = append(h.report.Startup, Startup{
			Candidate: p.Key, Label: p.Label, Runs: h.cfg.StartupRuns, Ms: spreadOf(medians[i]), Error: errs[i],
		})
	}
}

func (h *harness) startupRun(p peer) (float64, error) {
	argv, cleanup := p.command([]string{"true"})
	defer cleanup()
	t, err := startOnTerminal(argv, p.env, h.work)
	if err != nil {
		return 0, err
	}
	watchdog := time.AfterFunc(time.Minute, t.kill)
	defer watchdog.Stop()
	defer t.close()
	t.drain()
	<-t.done
	elapsed := time.Since(t.started)
	if code := t.cmd.ProcessState.ExitCode(); code != 0 {
		return 0, fmt.Errorf("%s exited with status %d", p.Key, code)
	}
	return float64(elapsed.Microseconds()) / 1e3, nil
}
