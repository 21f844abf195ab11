package bench

import (
	"context"
	"fmt"
	"strings"
)

// StoreCommit is the session store committing batches of one size: what
// aitrackd's durable outbox costs per acknowledged wrapper batch.
type StoreCommit struct {
	Batch string `json:"batch"`
	// MBps and CommitsPerSec have one value per `go test -count` run.
	MBps          Spread `json:"mb_per_s"`
	CommitsPerSec Spread `json:"commits_per_s"`
}

// StoreFigures are the results of the ingest package's BenchmarkStoreCommit.
type StoreFigures struct {
	Command string        `json:"command"`
	Results []StoreCommit `json:"results"`
	Error   string        `json:"error,omitempty"`
}

func (h *harness) measureStore(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	fig := &h.report.Store
	lines, command, err := h.goBench(ctx, "./internal/ingest/", "^BenchmarkStoreCommit$", h.cfg.StoreBenchtime, h.cfg.StoreCount)
	fig.Command = command
	if err != nil {
		fig.Error = err.Error()
		return
	}
	fig.Results, err = storeCommits(lines)
	if err != nil {
		fig.Error = err.Error()
	} else if len(fig.Results) == 0 {
		fig.Error = "BenchmarkStoreCommit reported nothing: does internal/ingest still have it?"
	}
}

// storeCommits reads BenchmarkStoreCommit's results, named
// "StoreCommit/<batch size>", one line per -count run.
func storeCommits(lines []benchLine) ([]StoreCommit, error) {
	var commits []StoreCommit
	for _, runs := range byName(lines) {
		batch, ok := strings.CutPrefix(runs[0].Name, "StoreCommit/")
		if !ok {
			continue
		}
		var mbps, perSec []float64
		for _, l := range runs {
			cps, hasCPS := l.Metrics["commits/s"]
			if !l.HasMBps || !hasCPS {
				return nil, fmt.Errorf("BenchmarkStoreCommit result %q lacks its MB/s or commits/s", l.Name)
			}
			mbps, perSec = append(mbps, l.MBps), append(perSec, cps)
		}
		commits = append(commits, StoreCommit{Batch: batch, MBps: spreadOf(mbps), CommitsPerSec: spreadOf(perSec)})
	}
	return commits, nil
}

// writeStore writes BENCHMARKS.md's store section.
func writeStore(p func(format string, args ...any), f StoreFigures) {
	p("")
	p("## Store commit throughput")
	p("")
	p("`%s` (each -count run is one repetition), in the system's temporary directory. Each commit is one acknowledged wrapper batch: its output appended to the session's output.raw and records.jsonl, both fsynced before the wrapper is acknowledged. The session store is aitrackd's durable outbox.%s", f.Command, errNote(f.Error))
	p("")
	p("| Batch | MB/s | commits/s |")
	p("|---|---|---|")
	for _, c := range f.Results {
		p("| %s | %s | %s |", c.Batch, fmtSpread(c.MBps), fmtSpread(c.CommitsPerSec))
	}
}
