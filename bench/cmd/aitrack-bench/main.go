// Command aitrack-bench measures aitrack against script, asciinema and the
// bare terminal, and aitrackd against a real MLflow, and writes
// BENCHMARKS.md and BENCHMARKS.json. Run it from the repository root:
//
//	go run ./bench/cmd/aitrack-bench -out BENCHMARKS.md -json BENCHMARKS.json [-quick]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aitrack/aitrack/bench"
)

func main() {
	quick := flag.Bool("quick", false, "smoke test: tiny inputs, one repetition")
	out := flag.String("out", "BENCHMARKS.md", "Markdown report")
	jsonOut := flag.String("json", "BENCHMARKS.json", "JSON report")
	bin := flag.String("bin", "", "directory with prebuilt aitrackd and aitrack-wrap (default: build them)")
	work := flag.String("work", "", "scratch directory, kept afterwards (default: a temporary one, removed)")
	reps := flag.Int("reps", 0, "repetitions per figure (default 5; 1 with -quick)")
	bulkMB := flag.Int("bulk-mb", 0, "bulk file size in MiB (default 200)")
	only := flag.String("only", "", "comma-separated figures to measure (keystroke, bulk, startup, parse, store, live, e2e; default all)")
	install := flag.Bool("install", true, "when root, apt-get install bsdutils and asciinema if script or asciinema is missing")
	flag.Parse()

	cfg := bench.DefaultConfig(*quick)
	if *reps > 0 {
		cfg.Reps, cfg.BulkReps, cfg.LiveReps = *reps, min(*reps, cfg.BulkReps), min(*reps, cfg.LiveReps)
	}
	if *bulkMB > 0 {
		cfg.BulkBytes = int64(*bulkMB) << 20
	}
	cfg.Bin, cfg.Work, cfg.InstallTools = *bin, *work, *install && cfg.InstallTools
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
		for _, f := range cfg.Only {
			if !slices.Contains(bench.Figures, f) {
				fmt.Fprintf(os.Stderr, "aitrack-bench: -only: unknown figure %q; the figures are %s\n", f, strings.Join(bench.Figures, ", "))
				os.Exit(2)
			}
		}
	}
	cfg.Log = os.Stderr
	cfg.Invocation = invocation()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	report, err := bench.Run(ctx, cfg)
	if report == nil {
		fmt.Fprintln(os.Stderr, "aitrack-bench:", err)
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrack-bench: interrupted; writing what was measured:", err)
	}
	if err := write(*out, report.WriteMarkdown); err != nil {
		fmt.Fprintln(os.Stderr, "aitrack-bench:", err)
		os.Exit(1)
	}
	if err := write(*jsonOut, report.WriteJSON); err != nil {
		fmt.Fprintln(os.Stderr, "aitrack-bench:", err)
		os.Exit(1)
	}
	misses := 0
	for _, b := range report.Budgets {
		if b.Result == bench.Miss {
			misses++
		}
	}
	fmt.Fprintf(os.Stderr, "aitrack-bench: wrote %s and %s in %s; %d of %d budgets missed\n",
		*out, *jsonOut, time.Since(start).Round(time.Second), misses, len(report.Budgets))
}

func write(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// invocation is the command as a reader would type it again.
func invocation() string {
	return strings.Join(append([]string{"go run ./bench/cmd/aitrack-bench"}, os.Args[1:]...), " ")
}
