package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Report is everything one run measured.
type Report struct {
	Invocation      string   `json:"invocation"`
	Quick           bool     `json:"quick"`
	DurationSeconds float64  `json:"duration_s"`
	Settings        Settings `json:"settings"`
	Machine         Machine  `json:"machine"`
	Tools           []Tool   `json:"tools"`
	// Budgets is the verdict: every budgeted figure, PASS, MISS or SKIP.
	Budgets   []Budget     `json:"budgets"`
	Keystroke []Keystroke  `json:"keystroke"`
	Bulk      []Bulk       `json:"bulk"`
	Startup   []Startup    `json:"startup"`
	Parse     ParseFigures `json:"parse"`
	Store     StoreFigures `json:"store"`
	Daemon    Daemon       `json:"daemon"`
	Commands  []Command    `json:"commands"`
	Notes     []string     `json:"notes,omitempty"`
}

// Settings are the sizes and counts the run used.
type Settings struct {
	Reps             int    `json:"reps"`
	KeystrokeSamples int    `json:"keystroke_samples"`
	KeystrokeWarmup  int    `json:"keystroke_warmup"`
	BulkBytes        int64  `json:"bulk_file_bytes"`
	BulkReps         int    `json:"bulk_reps"`
	StartupRuns      int    `json:"startup_runs"`
	StartupReps      int    `json:"startup_reps"`
	ParseBenchtime   string `json:"parse_benchtime"`
	ParseCount       int    `json:"parse_count"`
	StoreBenchtime   string `json:"store_benchtime"`
	StoreCount       int    `json:"store_count"`
	LiveLevels       []int  `json:"live_levels"`
	LiveReps         int    `json:"live_reps"`
	LiveRamp         string `json:"live_ramp"`
	LiveWindow       string `json:"live_window"`
	IdleSettle       string `json:"idle_settle"`
	E2ESessions      int    `json:"e2e_sessions"`
	E2EDuration      string `json:"e2e_session_duration"`
	Generator        string `json:"generator"`
}

func settingsOf(c Config) Settings {
	return Settings{
		Reps: c.Reps, KeystrokeSamples: c.KeystrokeSamples, KeystrokeWarmup: c.KeystrokeWarmup,
		BulkBytes: c.BulkBytes, BulkReps: c.BulkReps, StartupRuns: c.StartupRuns, StartupReps: c.StartupReps,
		ParseBenchtime: c.ParseBenchtime, ParseCount: c.ParseCount, StoreBenchtime: c.StoreBenchtime, StoreCount: c.StoreCount,
		LiveLevels: c.LiveLevels, LiveReps: c.LiveReps, LiveRamp: c.LiveRamp.String(), LiveWindow: c.LiveWindow.String(),
		IdleSettle: c.IdleSettle.String(), E2ESessions: c.E2ESessions, E2EDuration: c.E2EDuration.String(),
		Generator: fmt.Sprintf("%d B/s of 32 ms frames plus a %d-byte burst at %d B/s every %s (random phase)",
			genRate, genBurst, genBurstRate, genBurstEvery),
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	return nil
}

// WriteMarkdown writes BENCHMARKS.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	m := r.Machine

	p("# aitrack benchmarks")
	p("")
	p("Measured by `%s` on %s in %.1f minutes; the JSON twin of this file has every repetition's value.", r.Invocation, m.Date, r.DurationSeconds/60)
	if r.Quick {
		p("")
		p("**Quick mode**: tiny inputs and one repetition, a smoke test. These figures say nothing about speed.")
	}
	p("")
	p("Figures are the median over repetitions, with the range (min–max) in parentheses when there were several. ")
	p("Ratios compare the median of aitrack with the median of its peer measured in the same run.")

	p("")
	p("## Machine")
	p("")
	p("| | |")
	p("|---|---|")
	p("| CPU | %s, %d cores |", m.CPUModel, m.Cores)
	p("| Memory | %d MB |", m.MemoryMB)
	p("| OS, kernel | %s, Linux %s |", m.OS, m.Kernel)
	p("| Go | %s |", m.GoVersion)
	p("| aitrack commit | %s (the working tree as built) |", orDash(m.Commit))
	p("| Load average (1, 5, 15 min) | %s at the start, %s at the end |", m.LoadStart, m.LoadEnd)
	p("| 1-minute load during the run | %s, sampled every %s |", fmtSpread(m.LoadDuring), loadSampleEvery)
	for _, t := range r.Tools {
		p("| %s | %s (%s) |", t.Name, t.Version, t.Path)
	}

	passes, misses, skips := 0, 0, 0
	for _, x := range r.Budgets {
		switch x.Result {
		case Pass:
			passes++
		case Miss:
			misses++
		default:
			skips++
		}
	}
	p("")
	p("## Budgets")
	p("")
	p("%d of %d budgeted figures pass, %d miss, %d were not compared. Budgets are the product's promises and are never loosened to pass.", passes, len(r.Budgets), misses, skips)
	p("")
	p("| Figure | Measured | Budget | Result |")
	p("|---|---|---|---|")
	for _, x := range r.Budgets {
		result := x.Result
		if x.Result == Miss {
			result = "**MISS**: " + x.Shortfall
		}
		p("| %s | %s | %s | %s |", x.Figure, cell(x.Measured), x.Budget, result)
	}

	p("")
	p("## Keystroke round trip")
	p("")
	p("The harness is the terminal: it holds a pty master, writes one byte and times until the child's echo comes back. The child is `%s` (the `R` tells the harness that stty has run). %d round trips per repetition after %d untimed ones, %d repetitions going round the candidates. The wrapper's daemon is stopped with SIGSTOP only after the wrapper has connected.", shellJoin(keystrokeChild), r.Settings.KeystrokeSamples, r.Settings.KeystrokeWarmup, r.Settings.Reps)
	p("")
	p("| Candidate | p50 µs | p90 µs | p99 µs | p50, p99 vs script |")
	p("|---|---|---|---|---|")
	script, hasScript := r.keystroke(keyScript)
	for _, k := range r.Keystroke {
		vs := "–"
		if hasScript && k.P50.Valid() && script.P50.Valid() {
			vs = fmt.Sprintf("%.2f×, %.2f×", k.P50.Median/script.P50.Median, k.P99.Median/script.P99.Median)
		}
		p("| %s | %s | %s | %s | %s |", k.Label+errNote(k.Error), fmtSpread(k.P50), fmtSpread(k.P90), fmtSpread(k.P99), vs)
	}

	p("")
	p("## Bulk output")
	p("")
	p("`cat` of a %s base64 file (76-column lines) through each candidate, read to the end through the outer terminal; %d repetitions. Throughput runs from the first to the last expected byte. The terminal must receive the file with every newline as CR LF (the innermost terminal's ONLCR): %d bytes, checked by count and CRC-32C. script writes its typescript to /dev/null, as the budget asks; \"script -q, typescript to a file\" stores it, as aitrack-wrap stores every byte (in its daemon; in its spool file when no daemon listens, or when more than 4 MiB waits for the daemon, as in this burst), for what storing costs here.", fmtBytes(r.Settings.BulkBytes), r.Settings.BulkReps, wantBytes(r))
	p("")
	p("| Candidate | MB/s | vs script | bytes lost | identical | extra bytes | exit after last byte, ms |")
	p("|---|---|---|---|---|---|---|")
	sb, hasScriptBulk := r.bulk(keyScript)
	for _, x := range r.Bulk {
		vs := "–"
		if hasScriptBulk && x.MBps.Valid() && sb.MBps.Valid() {
			vs = fmt.Sprintf("%.2f×", x.MBps.Median/sb.MBps.Median)
		}
		p("| %s | %s | %s | %d | %s | %d | %s |", x.Label+errNote(x.Error), fmtSpread(x.MBps), vs, x.Lost, yesNo(x.Identical && x.MBps.Valid()), x.Extra, fmtSpread(x.ExitAfterLastMs))
	}
	p("")
	p("### CPU per MB relayed")
	p("")
	p("From the same runs: the candidate process's own CPU time (user + system, read from /proc/<pid>/stat after it exited and before it was reaped), the CPU of the candidate with every process it reaped (cat, helper processes; from wait4), and for a connected wrapper aitrackd's CPU until it went idle (storing, parsing, delivering the session).")
	p("")
	p("| Candidate | own CPU, ms/MB | with its children, ms/MB | aitrackd, ms/MB |")
	p("|---|---|---|---|")
	for _, x := range r.Bulk {
		daemon := "–"
		if x.DaemonCPU != nil {
			daemon = fmtSpread(*x.DaemonCPU)
		}
		p("| %s | %s | %s | %s |", x.Label, fmtSpread(x.RelayCPU), fmtSpread(x.TreeCPU), daemon)
	}

	p("")
	p("## Startup + teardown")
	p("")
	p("Wall time of `CMD -- true` from starting the candidate until the terminal closed and the candidate was reaped: the median of %d runs per repetition, %d repetitions. A connected wrapper opens and ends a session with the daemon and waits for its acknowledgement; the daemon is left to go idle after each candidate's runs, so that the next candidate does not pay for their delivery.", r.Settings.StartupRuns, r.Settings.StartupReps)
	p("")
	p("| Candidate | ms | vs script |")
	p("|---|---|---|")
	ss, hasScriptStart := r.startup(keyScript)
	for _, x := range r.Startup {
		vs := "–"
		if hasScriptStart && x.Ms.Valid() && ss.Ms.Valid() {
			vs = fmt.Sprintf("%.2f×", x.Ms.Median/ss.Ms.Median)
		}
		p("| %s | %s | %s |", x.Label+errNote(x.Error), fmtSpread(x.Ms), vs)
	}

	p("")
	p("## Parse throughput")
	p("")
	p("`%s` (one core; each -count run is one repetition).%s", r.Parse.Command, errNote(r.Parse.Error))
	p("")
	p("| Benchmark | MB/s |")
	p("|---|---|")
	for _, x := range r.Parse.Results {
		p("| %s | %s |", x.Name, fmtSpread(x.MBps))
	}
	writeParseMemory(p, r.Parse)
	writeStore(p, r.Store)

	p("")
	p("## aitrackd under live sessions")
	p("")
	if len(r.Daemon.Live) == 0 {
		p("Not measured (no MLflow).")
	} else {
		p("A fresh aitrackd per level and repetition, talking to a real MLflow through a counting reverse proxy. Its idle RSS is read after %s; then N `aitrack-wrap -- aitrack-bench-gen` sessions start (the generator prints %s), and after %s the daemon is sampled for %s: RSS (median of samples), CPU time, and every HTTP request to MLflow. %d repetitions per level.", r.Settings.IdleSettle, r.Settings.Generator, r.Settings.LiveRamp, r.Settings.LiveWindow, r.Settings.LiveReps)
		p("")
		p("Idle RSS over all fresh daemons: %s MB.", fmtSpread(r.Daemon.IdleRSSMB))
		p("")
		p("| Live sessions | output per session, KB/s | RSS, MB | RSS per session, MB | CPU, %% of a core | MLflow requests per session per s | MLflow errors per s | requests unanswered at the end | sessions not delivered |")
		p("|---|---|---|---|---|---|---|---|---|")
		for _, l := range r.Daemon.Live {
			p("| %d%s | %s | %s | %s | %s | %s | %s | %s | %d of %d |", l.Sessions, errNote(l.Error), fmtSpread(l.OutputKBpsPerSession), fmtSpread(l.RSSMB), fmtSpread(l.RSSPerSessionMB), fmtSpread(l.CPUPercent), fmtSpread(l.RequestsPerSessionPerSec), fmtSpread(l.FailuresPerSec), fmtSpread(l.InFlightAtEnd), l.Undelivered, l.Sessions*r.Settings.LiveReps)
		}
		p("")
		p("\"Not delivered\": the session's run was not FINISHED in MLflow once the daemon had gone idle (or after 90 s) after the sessions ended. Requests per session count requests started in the window: when MLflow is choked they stall instead of adding up, so read them with the errors and the unanswered requests.")
		for i := 1; i < len(r.Daemon.Live); i++ {
			a, b := r.Daemon.Live[i-1], r.Daemon.Live[i]
			if a.RSSMB.Valid() && b.RSSMB.Valid() {
				p("RSS from %d to %d sessions: %s MB per added session.", a.Sessions, b.Sessions, fmtNum((b.RSSMB.Median-a.RSSMB.Median)/float64(b.Sessions-a.Sessions)))
			}
		}
		last := r.Daemon.Live[len(r.Daemon.Live)-1]
		if len(last.Endpoints) > 0 {
			p("")
			p("Requests per second by endpoint with %d sessions (last repetition):", last.Sessions)
			p("")
			p("| Endpoint | per s |")
			p("|---|---|")
			for _, k := range slices.Sorted(maps.Keys(last.Endpoints)) {
				p("| `%s` | %s |", k, fmtNum(last.Endpoints[k]))
			}
		}
	}

	p("")
	p("## Session end → run FINISHED")
	p("")
	if e := r.Daemon.E2E; e == nil {
		p("Not measured (no MLflow).")
	} else {
		p("%d sessions one after the other, each `aitrack-wrap -- aitrack-bench-gen` printing for %s. The delay runs from the wrapper's exit (the user has the prompt back) to MLflow answering the daemon's request that sets the run's terminal status, which the daemon sends after uploading the artifacts; the harness then checks in MLflow that the run is FINISHED with transcript.raw, transcript.txt and events.jsonl, transcript.raw as long as what the terminal received.%s", e.Sessions, r.Settings.E2EDuration, errNote(e.Error))
		p("")
		p("| Sessions delivered and verified | p50 ms | p90 ms | p99 ms | min ms | max ms |")
		p("|---|---|---|---|---|---|")
		p("| %d of %d | %s | %s | %s | %s | %s |", e.Finished, e.Sessions, fmtNum(e.P50Ms), fmtNum(e.P90Ms), fmtNum(e.P99Ms), fmtNum(e.MinMs), fmtNum(e.MaxMs))
		for _, prob := range e.Problems {
			p("- %s", prob)
		}
	}

	p("")
	p("## Commands")
	p("")
	p("Every candidate runs as the session leader of a fresh 120x40 pseudo-terminal (the harness holds the master), with TERM=xterm-256color, SHELL=/bin/sh, LANG=C.UTF-8 and no aitrack or MLflow settings from the caller.")
	p("")
	p("| Figure | Candidate | Command |")
	p("|---|---|---|")
	for _, c := range r.Commands {
		p("| %s | %s | `%s` |", c.Figure, c.Candidate, strings.ReplaceAll(c.Command, "|", `\|`))
	}
	p("")
	p("Parse: `%s`. Daemons: `aitrackd --mlflow-ui=false --tracking-uri <proxy> --experiment %s --log-level warn` with their own AITRACK_SOCKET and AITRACK_STATE_DIR.", r.Parse.Command, experiment)

	p("")
	p("## Method notes")
	p("")
	p("- The keystroke child differs from a bare `sh -c 'stty raw -echo; cat'` only by `printf R` (the harness types nothing before it, so no byte meets a terminal still in cooked mode) and `exec` (no shell left waiting).")
	p("- The stalled daemon is measured for keystrokes only: it is about the terminal never waiting for the daemon. Bulk output and startup with a stalled daemon would time the wrapper's bounded wait for acknowledgements at exit.")
	p("- The end-to-end delay is taken from the proxy's clock when MLflow answers the terminal runs/update: no polling error.")
	p("- RSS is VmRSS from /proc/<pid>/status; CPU is user + system time from /proc/<pid>/stat (10 ms ticks).")
	p("- Nothing here is asserted by a test: `go test ./bench/` runs the harness in quick mode and checks only that every figure was measured and every byte delivered.")

	if len(r.Notes) > 0 {
		p("")
		p("## Notes")
		p("")
		for _, n := range r.Notes {
			p("- %s", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtSpread(s Spread) string {
	if !s.Valid() {
		return "–"
	}
	if len(s.Reps) == 1 || s.Min == s.Max {
		return fmtNum(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

func fmtBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func wantBytes(r *Report) int64 {
	if len(r.Bulk) > 0 {
		return r.Bulk[0].WantBytes
	}
	return 0
}

func errNote(err string) string {
	if err == "" {
		return ""
	}
	return " (failed: " + cell(err) + ")"
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
