package bench

import (
	"math"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name          string
		value, limit  float64
		atMost        bool
		result        string
		shortfallPart string
	}{
		{"at most, under", 0.9, 1, true, Pass, ""},
		{"at most, equal", 1, 1, true, Pass, ""},
		{"at most, over", 1.42, 1, true, Miss, "(42%)"},
		{"at least, above", 60, 50, false, Pass, ""},
		{"at least, below", 25, 50, false, Miss, "short by 25.0 (50%)"},
		{"zero limit, over", 3, 0, true, Miss, "over by 3.00"},
		{"nothing measured", math.NaN(), 1, true, Miss, "not measured"},
		{"infinite ratio", math.Inf(1), 1, true, Miss, "not measured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := check("f", "m", "b", tt.value, tt.limit, tt.atMost)
			if b.Result != tt.result {
				t.Errorf("result = %s, want %s", b.Result, tt.result)
			}
			if !strings.Contains(b.Shortfall, tt.shortfallPart) || (tt.shortfallPart == "") != (b.Shortfall == "") {
				t.Errorf("shortfall = %q, want it to say %q", b.Shortfall, tt.shortfallPart)
			}
		})
	}
}

func sp(v ...float64) Spread { return spreadOf(v) }

func TestEvaluateBudgets(t *testing.T) {
	full := func() *Report {
		return &Report{
			Keystroke: []Keystroke{
				{Candidate: keyScript, Label: "script", P50: sp(100), P99: sp(300)},
				{Candidate: keyWrap, Label: "wrap", P50: sp(90), P99: sp(600)},
				{Candidate: keyWrapStalled, Label: "stalled", P50: sp(100), P99: sp(300)},
				{Candidate: keyWrapNoDaemon, Label: "none", Error: "boom"},
			},
			Bulk: []Bulk{
				{Candidate: keyScript, MBps: sp(40), Identical: true},
				{Candidate: keyWrap, MBps: sp(50), Identical: true, WantBytes: 10},
				{Candidate: keyWrapNoDaemon, MBps: sp(30), Identical: false, WantBytes: 10},
			},
			Startup: []Startup{
				{Candidate: keyScript, Ms: sp(10)},
				{Candidate: keyWrap, Ms: sp(15)},
				{Candidate: keyWrapNoDaemon, Ms: sp(16)},
			},
			Parse: ParseFigures{Results: []Parse{{Name: "fast", MBps: sp(80)}, {Name: "slow", MBps: sp(20)}}},
			Daemon: Daemon{
				IdleRSSMB: sp(21),
				Live:      []Live{{Sessions: 10, RSSPerSessionMB: sp(0.5), RequestsPerSessionPerSec: sp(1.5)}},
				E2E:       &E2E{Sessions: 20, Finished: 20, P50Ms: 900, P99Ms: 3000},
			},
		}
	}
	results := func(r *Report) map[string]string {
		m := map[string]string{}
		for _, b := range evaluateBudgets(r) {
			if _, dup := m[b.Figure]; dup {
				t.Errorf("figure %q checked twice", b.Figure)
			}
			m[b.Figure] = b.Result
		}
		return m
	}

	t.Run("every figure against its budget", func(t *testing.T) {
		got := results(full())
		want := map[string]string{
			"Keystroke round trip p50, wrap":                           Pass,
			"Keystroke round trip p99, wrap":                           Miss,
			"Keystroke round trip p50, stalled":                        Pass,
			"Keystroke round trip p99, stalled":                        Pass,
			"Keystroke round trip p50, none":                           Miss, // failed to measure
			"Bulk throughput, wrap":                                    Pass,
			"Bulk throughput, none":                                    Miss,
			"Bytes lost, wrap":                                         Pass,
			"Bytes lost, none":                                         Miss, // content differs
			"Startup + teardown, wrap":                                 Pass,
			"Startup + teardown, none":                                 Miss,
			"Parse throughput, fast":                                   Pass,
			"Parse throughput, slow":                                   Miss,
			"Idle aitrackd RSS":                                        Miss,
			"aitrackd RSS per live session, 10 sessions":               Pass,
			"MLflow requests per live session per second, 10 sessions": Miss,
			"Session end → run FINISHED":                               Pass,
		}
		for figure, result := range want {
			if got[figure] != result {
				t.Errorf("%s: %s, want %s", figure, got[figure], result)
			}
		}
	})

	t.Run("without script the peer ratios are skipped, not passed", func(t *testing.T) {
		r := full()
		r.Keystroke, r.Bulk, r.Startup = r.Keystroke[1:], r.Bulk[1:], r.Startup[1:]
		got := results(r)
		for _, figure := range []string{"Keystroke round trip p50, wrap", "Bulk throughput, wrap", "Startup + teardown, wrap"} {
			if got[figure] != Skip {
				t.Errorf("%s: %s, want SKIP", figure, got[figure])
			}
		}
		if got["Bytes lost, wrap"] != Pass {
			t.Errorf("byte loss needs no peer: %s", got["Bytes lost, wrap"])
		}
	})

	t.Run("without MLflow the daemon figures are skipped", func(t *testing.T) {
		r := full()
		r.Daemon = Daemon{}
		got := results(r)
		for _, figure := range []string{"Idle aitrackd RSS", "Session end → run FINISHED", "aitrackd under live sessions"} {
			if got[figure] != Skip {
				t.Errorf("%s: %s, want SKIP", figure, got[figure])
			}
		}
	})

	t.Run("a parse benchmark that reported nothing misses", func(t *testing.T) {
		r := full()
		r.Parse = ParseFigures{Error: "no BenchmarkParse"}
		if got := results(r)["Parse throughput"]; got != Miss {
			t.Errorf("Parse throughput: %s, want MISS", got)
		}
	})
}
