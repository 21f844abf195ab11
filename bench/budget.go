package bench

import (
	"fmt"
	"math"
)

// Results of a budget check.
const (
	Pass = "PASS"
	Miss = "MISS"
	// Skip means the figure could not be compared: its peer is not
	// installed, or MLflow is not.
	Skip = "SKIP"
)

// Budget is one figure checked against its budget.
type Budget struct {
	Figure   string `json:"figure"`
	Measured string `json:"measured"`
	Budget   string `json:"budget"`
	// Value and Limit are what was compared (ratios for figures measured
	// against a peer); AtMost says which way.
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	AtMost bool    `json:"at_most"`
	Result string  `json:"result"`
	// Shortfall says by how much a MISS missed.
	Shortfall string `json:"shortfall,omitempty"`
}

// check compares value with limit; a value that is not a finite number
// (nothing measured) misses.
func check(figure, measured, budget string, value, limit float64, atMost bool) Budget {
	b := Budget{Figure: figure, Measured: measured, Budget: budget, Value: value, Limit: limit, AtMost: atMost, Result: Pass}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		b.Value, b.Result, b.Shortfall = 0, Miss, "not measured"
		return b
	}
	switch {
	case atMost && value > limit:
		b.Result = Miss
		b.Shortfall = fmt.Sprintf("over by %s", excess(value-limit, limit))
	case !atMost && value < limit:
		b.Result = Miss
		b.Shortfall = fmt.Sprintf("short by %s", excess(limit-value, limit))
	}
	return b
}

func excess(diff, limit float64) string {
	if limit == 0 {
		return fmtNum(diff)
	}
	return fmt.Sprintf("%s (%.0f%%)", fmtNum(diff), diff/limit*100)
}

func skip(figure, budget, why string) Budget {
	return Budget{Figure: figure, Budget: budget, Measured: why, Result: Skip}
}

func notMeasured(figure, budget, why string) Budget {
	return Budget{Figure: figure, Budget: budget, Measured: why, Result: Miss, Shortfall: "not measured"}
}

// Budgets, as the product promises them. They are not to be loosened to
// make a run pass: a miss is reported with its size.
const (
	budgetStartupRatio = 1.5
	budgetParseMBps    = 50
	// budgetParseMemoryRatio: a session ten times longer may not need more
	// memory than noise (GC timing) adds.
	budgetParseMemoryRatio = 1.25
	budgetIdleRSSMB        = 20
	budgetRSSPerSessionMB  = 1
	budgetRequestsPerSess  = 1
	budgetEndToEndP50Ms    = 2000
	budgetPeerRatio        = 1.0
	budgetLostBytes        = 0
	noScript               = "script not measured"
	noMLflow               = "MLflow not available"
)

func evaluateBudgets(r *Report) []Budget {
	var out []Budget
	scriptKs, haveScriptKs := r.keystroke(keyScript)
	for _, key := range []string{keyWrap, keyWrapStalled, keyWrapNoDaemon} {
		k, ok := r.keystroke(key)
		for _, pc := range []struct {
			name string
			get  func(Keystroke) Spread
		}{
			{"p50", func(k Keystroke) Spread { return k.P50 }},
			{"p99", func(k Keystroke) Spread { return k.P99 }},
		} {
			figure := fmt.Sprintf("Keystroke round trip %s, %s", pc.name, labelOf(r, key))
			budget := fmt.Sprintf("≤ script's %s (ratio ≤ %.2f)", pc.name, budgetPeerRatio)
			switch {
			case !haveScriptKs || !pc.get(scriptKs).Valid():
				out = append(out, skip(figure, budget, noScript))
			case !ok || !pc.get(k).Valid():
				out = append(out, notMeasured(figure, budget, errorOr(k.Error)))
			default:
				w, s := pc.get(k).Median, pc.get(scriptKs).Median
				out = append(out, check(figure, fmt.Sprintf("%s µs vs %s µs: %.2f×", fmtNum(w), fmtNum(s), w/s), budget, w/s, budgetPeerRatio, true))
			}
		}
	}

	scriptBulk, haveScriptBulk := r.bulk(keyScript)
	for _, key := range []string{keyWrap, keyWrapNoDaemon} {
		b, ok := r.bulk(key)
		figure := "Bulk throughput, " + labelOf(r, key)
		budget := fmt.Sprintf("≥ script's (ratio ≥ %.2f)", budgetPeerRatio)
		switch {
		case !haveScriptBulk || !scriptBulk.MBps.Valid():
			out = append(out, skip(figure, budget, noScript))
		case !ok || !b.MBps.Valid():
			out = append(out, notMeasured(figure, budget, errorOr(b.Error)))
		default:
			w, s := b.MBps.Median, scriptBulk.MBps.Median
			out = append(out, check(figure, fmt.Sprintf("%s MB/s vs %s MB/s: %.2f×", fmtNum(w), fmtNum(s), w/s), budget, w/s, budgetPeerRatio, false))
		}
		figure = "Bytes lost, " + labelOf(r, key)
		budget = "0, and the stream identical to the program's"
		switch {
		case !ok || !b.MBps.Valid():
			out = append(out, notMeasured(figure, budget, errorOr(b.Error)))
		default:
			c := check(figure, fmt.Sprintf("%d of %d lost", b.Lost, b.WantBytes), budget, float64(b.Lost), budgetLostBytes, true)
			if c.Result == Pass && !b.Identical {
				c.Result, c.Measured, c.Shortfall = Miss, "no byte lost, but the content differs", "content differs"
			}
			out = append(out, c)
		}
	}

	scriptStart, haveScriptStart := r.startup(keyScript)
	for _, key := range []string{keyWrap, keyWrapNoDaemon} {
		s, ok := r.startup(key)
		figure := "Startup + teardown, " + labelOf(r, key)
		budget := fmt.Sprintf("≤ %.1f× script's", budgetStartupRatio)
		switch {
		case !haveScriptStart || !scriptStart.Ms.Valid():
			out = append(out, skip(figure, budget, noScript))
		case !ok || !s.Ms.Valid():
			out = append(out, notMeasured(figure, budget, errorOr(s.Error)))
		default:
			w, p := s.Ms.Median, scriptStart.Ms.Median
			out = append(out, check(figure, fmt.Sprintf("%s ms vs %s ms: %.2f×", fmtNum(w), fmtNum(p), w/p), budget, w/p, budgetStartupRatio, true))
		}
	}

	parseBudget := fmt.Sprintf("≥ %d MB/s per core", budgetParseMBps)
	if len(r.Parse.Results) == 0 {
		out = append(out, notMeasured("Parse throughput", parseBudget, errorOr(r.Parse.Error)))
	}
	for _, p := range r.Parse.Results {
		out = append(out, check("Parse throughput, "+p.Name, fmt.Sprintf("%s MB/s", fmtNum(p.MBps.Median)), parseBudget, p.MBps.Median, budgetParseMBps, false))
	}

	if m := r.Parse.Memory; len(m) >= 2 {
		short, long := m[0], m[len(m)-1]
		out = append(out, check(fmt.Sprintf("Parser peak live heap, %d MB session vs %d MB", long.SessionMB, short.SessionMB),
			fmt.Sprintf("%s MB vs %s MB: %.2f×", fmtNum(long.PeakLiveMB), fmtNum(short.PeakLiveMB), long.PeakLiveMB/short.PeakLiveMB),
			fmt.Sprintf("flat: ratio ≤ %.2f", budgetParseMemoryRatio), long.PeakLiveMB/short.PeakLiveMB, budgetParseMemoryRatio, true))
	} else {
		out = append(out, notMeasured("Parser peak live heap over session length", fmt.Sprintf("flat: ratio ≤ %.2f", budgetParseMemoryRatio), errorOr(r.Parse.MemoryError)))
	}

	idleBudget := fmt.Sprintf("≤ %d MB", budgetIdleRSSMB)
	if !r.Daemon.IdleRSSMB.Valid() {
		out = append(out, skip("Idle aitrackd RSS", idleBudget, noMLflow))
	} else {
		out = append(out, check("Idle aitrackd RSS", fmt.Sprintf("%s MB", fmtNum(r.Daemon.IdleRSSMB.Median)), idleBudget, r.Daemon.IdleRSSMB.Median, budgetIdleRSSMB, true))
	}
	for _, l := range r.Daemon.Live {
		figure := fmt.Sprintf("aitrackd RSS per live session, %d sessions", l.Sessions)
		budget := fmt.Sprintf("≤ %d MB more per session", budgetRSSPerSessionMB)
		if !l.RSSPerSessionMB.Valid() {
			out = append(out, notMeasured(figure, budget, errorOr(l.Error)))
		} else {
			out = append(out, check(figure, fmt.Sprintf("%s MB", fmtNum(l.RSSPerSessionMB.Median)), budget, l.RSSPerSessionMB.Median, budgetRSSPerSessionMB, true))
		}
		figure = fmt.Sprintf("MLflow requests per live session per second, %d sessions", l.Sessions)
		budget = fmt.Sprintf("≤ %d", budgetRequestsPerSess)
		if !l.RequestsPerSessionPerSec.Valid() {
			out = append(out, notMeasured(figure, budget, errorOr(l.Error)))
		} else {
			out = append(out, check(figure, fmtNum(l.RequestsPerSessionPerSec.Median), budget, l.RequestsPerSessionPerSec.Median, budgetRequestsPerSess, true))
		}
	}
	if len(r.Daemon.Live) == 0 {
		out = append(out, skip("aitrackd under live sessions", "RSS and MLflow requests per session", noMLflow))
	}

	e2eBudget := fmt.Sprintf("p50 ≤ %d s", budgetEndToEndP50Ms/1000)
	switch e := r.Daemon.E2E; {
	case e == nil:
		out = append(out, skip("Session end → run FINISHED", e2eBudget, noMLflow))
	case e.Finished == 0:
		out = append(out, notMeasured("Session end → run FINISHED", e2eBudget, errorOr(e.Error)))
	default:
		measured := fmt.Sprintf("p50 %s ms (p99 %s ms), %d of %d sessions delivered and verified", fmtNum(e.P50Ms), fmtNum(e.P99Ms), e.Finished, e.Sessions)
		out = append(out, check("Session end → run FINISHED", measured, e2eBudget, e.P50Ms, budgetEndToEndP50Ms, true))
	}
	return out
}

func errorOr(err string) string {
	if err == "" {
		return "not measured"
	}
	return "failed: " + err
}

func labelOf(r *Report, key string) string {
	for _, k := range r.Keystroke {
		if k.Candidate == key {
			return k.Label
		}
	}
	return key
}

func (r *Report) keystroke(key string) (Keystroke, bool) {
	for _, k := range r.Keystroke {
		if k.Candidate == key {
			return k, true
		}
	}
	return Keystroke{}, false
}

func (r *Report) bulk(key string) (Bulk, bool) {
	for _, b := range r.Bulk {
		if b.Candidate == key {
			return b, true
		}
	}
	return Bulk{}, false
}

func (r *Report) startup(key string) (Startup, bool) {
	for _, s := range r.Startup {
		if s.Candidate == key {
			return s, true
		}
	}
	return Startup{}, false
}

// fmtNum prints a figure with three significant digits at most.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
