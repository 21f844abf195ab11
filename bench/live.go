package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
)

// Generator settings: about 11 KB/s on average, like a Claude Code session
// (20 MB in 30 minutes), as 6 KB/s of frames plus a 50 KB burst at 1 MB/s
// every 10 seconds, like a redraw after a resize.
const (
	genRate       = 6000
	genBurst      = 50000
	genBurstEvery = 10 * time.Second
	genBurstRate  = 1000000
)

func (h *harness) generatorArgv(d time.Duration) []string {
	return []string{h.genBin, "-duration", d.String(), "-rate", fmt.Sprint(genRate), "-burst", fmt.Sprint(genBurst),
		"-burst-every", genBurstEvery.String(), "-burst-rate", fmt.Sprint(genBurstRate)}
}

// Live is aitrackd with N sessions printing at once.
type Live struct {
	Sessions int `json:"sessions"`
	// IdleRSSMB is the same daemon's RSS before the sessions started.
	IdleRSSMB Spread `json:"idle_rss_mb"`
	// RSSMB is the median of RSS samples over the window;
	// RSSPerSessionMB is (RSSMB - IdleRSSMB) / Sessions.
	RSSMB           Spread `json:"rss_mb"`
	RSSPerSessionMB Spread `json:"rss_per_session_mb"`
	// CPUPercent is the daemon's CPU time over the window, in percent of
	// one core.
	CPUPercent Spread `json:"cpu_percent"`
	// RequestsPerSessionPerSec counts requests to MLflow in the window.
	RequestsPerSessionPerSec Spread `json:"mlflow_requests_per_session_per_s"`
	// FailuresPerSec counts MLflow answers in the window that were errors
	// (or no answer); InFlightAtEnd the requests still unanswered when
	// the window closed. A choked MLflow shows here, not as more requests.
	FailuresPerSec Spread `json:"mlflow_failures_per_s"`
	InFlightAtEnd  Spread `json:"mlflow_in_flight_at_end"`
	// Undelivered counts sessions, over all repetitions, whose run was not
	// FINISHED in MLflow once the daemon had gone idle after they ended.
	Undelivered int `json:"undelivered_sessions"`
	// OutputKBpsPerSession is what each session printed, as the terminal
	// received it.
	OutputKBpsPerSession Spread `json:"output_kb_per_s_per_session"`
	// Endpoints is requests per second by endpoint in the last repetition.
	Endpoints map[string]float64 `json:"endpoints_per_s"`
	Error     string             `json:"error,omitempty"`
}

// Daemon holds the daemon's own figures.
type Daemon struct {
	// IdleRSSMB pools every fresh daemon's idle RSS.
	IdleRSSMB Spread `json:"idle_rss_mb"`
	Live      []Live `json:"live"`
	E2E       *E2E   `json:"end_to_end,omitempty"`
}

type liveRep struct {
	idleRSS, rss, cpuPct, reqRate, kbps, failRate, inflight float64
	undelivered                                             int
	endpoints                                               map[string]float64
}

func (h *harness) measureLive(ctx context.Context) {
	if h.mlflow == nil {
		return
	}
	var idle []float64
	for _, n := range h.cfg.LiveLevels {
		l := Live{Sessions: n}
		var reps []liveRep
		for rep := range h.cfg.LiveReps {
			if ctx.Err() != nil {
				return
			}
			h.logf("live: %d sessions, repetition %d/%d", n, rep+1, h.cfg.LiveReps)
			r, err := h.liveRep(ctx, n)
			l.Undelivered += r.undelivered
			if err != nil {
				l.Error = err.Error()
				continue
			}
			reps = append(reps, r)
			l.Endpoints = r.endpoints
		}
		col := func(f func(liveRep) float64) Spread {
			var v []float64
			for _, r := range reps {
				v = append(v, f(r))
			}
			return spreadOf(v)
		}
		l.IdleRSSMB = col(func(r liveRep) float64 { return r.idleRSS })
		l.RSSMB = col(func(r liveRep) float64 { return r.rss })
		l.RSSPerSessionMB = col(func(r liveRep) float64 { return (r.rss - r.idleRSS) / float64(n) })
		l.CPUPercent = col(func(r liveRep) float64 { return r.cpuPct })
		l.RequestsPerSessionPerSec = col(func(r liveRep) float64 { return r.reqRate })
		l.OutputKBpsPerSession = col(func(r liveRep) float64 { return r.kbps })
		l.FailuresPerSec = col(func(r liveRep) float64 { return r.failRate })
		l.InFlightAtEnd = col(func(r liveRep) float64 { return r.inflight })
		idle = append(idle, l.IdleRSSMB.Reps...)
		h.report.Daemon.Live = append(h.report.Daemon.Live, l)
	}
	h.report.Daemon.IdleRSSMB = spreadOf(idle)
}

// liveRep runs n generator sessions under a fresh daemon and samples it
// over the window.
func (h *harness) liveRep(ctx context.Context, n int) (r liveRep, err error) {
	d, err := h.startDaemon(ctx)
	if err != nil {
		return r, err
	}
	defer func() {
		if stopErr := d.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	if err := sleepCtx(ctx, h.cfg.IdleSettle); err != nil {
		return r, err
	}
	idle, err := d.rss()
	if err != nil {
		return r, err
	}
	r.idleRSS = mb(idle)

	// The sessions last past the window, so that none ends inside it.
	duration := h.cfg.LiveRamp + h.cfg.LiveWindow + 2*time.Second
	env := append(h.env[:len(h.env):len(h.env)], d.env()...)
	batch := fmt.Sprint(time.Now().UnixNano())
	argv := append([]string{h.wrapBin, "--provider", "bench-load", "--tag", "bench_live=" + batch, "--"}, h.generatorArgv(duration)...)
	var received atomic.Int64
	var wg sync.WaitGroup
	terms := make([]*terminal, 0, n)
	defer func() {
		for _, t := range terms {
			t.kill()
		}
		wg.Wait()
	}()
	// Staggered starts: sessions do not begin in the same millisecond.
	stagger := min(time.Second/time.Duration(n), 50*time.Millisecond)
	for range n {
		t, err := startOnTerminal(argv, env, h.work)
		if err != nil {
			return r, err
		}
		terms = append(terms, t)
		wg.Go(func() {
			defer t.close()
			t.drainCounting(&received)
		})
		if err := sleepCtx(ctx, stagger); err != nil {
			return r, err
		}
	}
	if err := sleepCtx(ctx, h.cfg.LiveRamp); err != nil {
		return r, err
	}

	cpu0, err := d.cpu()
	if err != nil {
		return r, err
	}
	snap0, bytes0, t0 := h.proxy.snapshot(), received.Load(), time.Now()
	var rss []float64
	for time.Since(t0) < h.cfg.LiveWindow {
		v, err := d.rss()
		if err != nil {
			return r, err
		}
		rss = append(rss, mb(v))
		if err := sleepCtx(ctx, min(500*time.Millisecond, h.cfg.LiveWindow/4)); err != nil {
			return r, err
		}
	}
	cpu1, err := d.cpu()
	if err != nil {
		return r, err
	}
	snap1, bytes1, window := h.proxy.snapshot(), received.Load(), time.Since(t0).Seconds()

	r.rss = percentilesOf(rss, 50)[0]
	r.cpuPct = (cpu1 - cpu0).Seconds() / window * 100
	delta := countsDelta(snap0.requests, snap1.requests)
	r.reqRate = float64(sumCounts(delta)) / float64(n) / window
	r.failRate = float64(sumCounts(countsDelta(snap0.failures, snap1.failures))) / window
	r.inflight = float64(snap1.inflight)
	r.kbps = float64(bytes1-bytes0) / 1e3 / float64(n) / window
	r.endpoints = map[string]float64{}
	for _, k := range slices.Sorted(maps.Keys(delta)) {
		r.endpoints[k] = float64(delta[k]) / window
	}

	// Let the sessions end on their own and be delivered, so that a
	// wrapper failing shows here rather than passing unnoticed.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(duration + time.Minute):
		return r, fmt.Errorf("%d live sessions did not end within %s", n, duration+time.Minute)
	}
	var failed []string
	for _, t := range terms {
		if code := t.cmd.ProcessState.ExitCode(); code != 0 {
			failed = append(failed, fmt.Sprint(code))
		}
	}
	terms = nil
	if len(failed) > 0 {
		return r, fmt.Errorf("%d of %d live sessions exited with a failure status (%v)", len(failed), n, failed)
	}
	h.quiet(ctx, d, 90*time.Second)
	finished, err := h.finishedRuns(ctx, "bench_live", batch)
	if err != nil {
		return r, err
	}
	r.undelivered = n - finished
	return r, nil
}

// finishedRuns counts the FINISHED runs tagged key=value.
func (h *harness) finishedRuns(ctx context.Context, key, value string) (int, error) {
	expID, err := h.experimentID(ctx)
	if err != nil {
		return 0, err
	}
	runs, err := h.client.SearchRuns(ctx, mlflowclient.SearchRuns{
		ExperimentIDs: []string{expID},
		Filter:        fmt.Sprintf("tags.%s = '%s'", key, value),
	})
	if err != nil {
		return 0, fmt.Errorf("count delivered sessions: %w", err)
	}
	n := 0
	for _, run := range runs {
		if run.Info.Status == mlflowclient.StatusFinished {
			n++
		}
	}
	return n, nil
}

// experimentID looks up (or creates, ahead of the daemons) the harness's
// MLflow experiment, straight from MLflow.
func (h *harness) experimentID(ctx context.Context) (string, error) {
	if h.expID != "" {
		return h.expID, nil
	}
	id, err := h.client.GetOrCreateExperiment(ctx, experiment)
	if err != nil {
		return "", fmt.Errorf("MLflow experiment %s: %w", experiment, err)
	}
	h.expID = id
	return id, nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// E2E is the delay from a session's end (its wrapper exiting) to MLflow
// confirming the run's terminal status, artifacts uploaded before it.
type E2E struct {
	Sessions int `json:"sessions"`
	// Finished sessions were confirmed within the limit and verified in
	// MLflow (status FINISHED, transcript.raw as long as the output).
	Finished int     `json:"finished"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MinMs    float64 `json:"min_ms"`
	MaxMs    float64 `json:"max_ms"`
	// Problems lists sessions that did not finish or did not verify.
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// e2eLimit is how long a session's delivery is waited for; a session not
// delivered by then counts with this delay.
const e2eLimit = time.Minute

func (h *harness) measureEndToEnd(ctx context.Context) {
	if h.mlflow == nil || ctx.Err() != nil {
		return
	}
	e := &E2E{Sessions: h.cfg.E2ESessions}
	h.report.Daemon.E2E = e
	d, err := h.startDaemon(ctx)
	if err != nil {
		e.Error = err.Error()
		return
	}
	defer d.stop()
	expID, err := h.experimentID(ctx)
	if err != nil {
		e.Error = err.Error()
		return
	}
	env := append(h.env[:len(h.env):len(h.env)], d.env()...)
	nonce := time.Now().UnixNano()
	var delays []float64
	for i := range h.cfg.E2ESessions {
		if ctx.Err() != nil {
			return
		}
		h.logf("end to end: session %d/%d", i+1, h.cfg.E2ESessions)
		tag := fmt.Sprintf("%d-%d", nonce, i)
		ms, err := h.e2eSession(ctx, d, env, expID, tag)
		if err != nil {
			e.Problems = append(e.Problems, fmt.Sprintf("session %d: %v", i+1, err))
		} else {
			e.Finished++
		}
		delays = append(delays, ms)
	}
	if len(delays) == 0 {
		return
	}
	ps := percentilesOf(delays, 50, 90, 99, 0, 100)
	e.P50Ms, e.P90Ms, e.P99Ms, e.MinMs, e.MaxMs = ps[0], ps[1], ps[2], ps[3], ps[4]
}

// e2eSession runs one session and returns its delay in milliseconds; on
// error the delay is what was waited.
func (h *harness) e2eSession(ctx context.Context, d *daemonProc, env []string, expID, tag string) (float64, error) {
	argv := append([]string{h.wrapBin, "--provider", "bench-e2e", "--tag", "bench_session=" + tag, "--"}, h.generatorArgv(h.cfg.E2EDuration)...)
	t, err := startOnTerminal(argv, env, h.work)
	if err != nil {
		return float64(e2eLimit.Milliseconds()), err
	}
	watchdog := time.AfterFunc(time.Minute+h.cfg.E2EDuration, t.kill)
	defer watchdog.Stop()
	received := t.drain()
	t.close()
	end := time.Now()
	if code := t.cmd.ProcessState.ExitCode(); code != 0 {
		return float64(e2eLimit.Milliseconds()), fmt.Errorf("the wrapper exited with status %d", code)
	}
	waited := func() float64 { return float64(time.Since(end).Milliseconds()) }

	ctx, cancel := context.WithTimeout(ctx, e2eLimit)
	defer cancel()
	runID := ""
	for {
		if runID == "" {
			if run, err := h.client.FindRunByTag(ctx, expID, "bench_session", tag); err == nil && run != nil {
				runID = run.Info.RunID
			}
		}
		if runID != "" {
			if at, ok := h.proxy.finishedAt(runID); ok {
				return float64(at.Sub(end).Microseconds()) / 1e3, h.verifyRun(ctx, runID, received)
			}
		}
		select {
		case <-ctx.Done():
			return waited(), fmt.Errorf("run not finished within %s of the session's end", e2eLimit)
		case <-time.After(pollInterval(runID)):
		}
	}
}

// pollInterval: MLflow is asked rarely (it is busy delivering); the proxy's
// record, in memory, often, for a precise time.
func pollInterval(runID string) time.Duration {
	if runID == "" {
		return 100 * time.Millisecond
	}
	return 2 * time.Millisecond
}

// verifyRun checks in MLflow what the proxy saw: the run FINISHED, with the
// three artifacts and the whole output in transcript.raw.
func (h *harness) verifyRun(ctx context.Context, runID string, outputBytes int64) error {
	run, err := h.client.GetRun(ctx, runID)
	if err != nil {
		return fmt.Errorf("get run %s: %w", runID, err)
	}
	if run.Info.Status != "FINISHED" {
		return fmt.Errorf("run %s is %s, not FINISHED", runID, run.Info.Status)
	}
	files, err := h.client.ListArtifacts(ctx, runID, "")
	if err != nil {
		return fmt.Errorf("list artifacts of run %s: %w", runID, err)
	}
	sizes := map[string]int64{}
	for _, f := range files {
		sizes[f.Path] = f.FileSize
	}
	var errs []error
	for _, name := range []string{"transcript.raw", "transcript.txt", "events.jsonl"} {
		if _, ok := sizes[name]; !ok {
			errs = append(errs, fmt.Errorf("run %s has no %s", runID, name))
		}
	}
	if got, ok := sizes["transcript.raw"]; ok && got != outputBytes {
		errs = append(errs, fmt.Errorf("run %s: transcript.raw has %d bytes, the terminal received %d", runID, got, outputBytes))
	}
	return errors.Join(errs...)
}
