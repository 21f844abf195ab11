package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Parse is the daemon's transcript parser on one input, one core.
type Parse struct {
	Name string `json:"name"`
	// MBps is one value per `go test -count` run.
	MBps Spread `json:"mb_per_s"`
}

// ParseFigures are the results of the parse package's BenchmarkParse, and
// of its BenchmarkParseLongSession: the parser's memory over synthetic
// sessions of growing length, flat when it is bounded.
type ParseFigures struct {
	Command string  `json:"command"`
	Results []Parse `json:"results"`
	Error   string  `json:"error,omitempty"`

	MemoryCommand string        `json:"memory_command"`
	Memory        []ParseMemory `json:"memory"`
	MemoryError   string        `json:"memory_error,omitempty"`
}

// ParseMemory is the parser's heap over one synthetic session, one core.
type ParseMemory struct {
	SessionMB int     `json:"session_mb"`
	MBps      float64 `json:"mb_per_s"`
	// PeakHeapMB is the heap's objects, live and not yet collected;
	// PeakLiveMB what the garbage collector last found live.
	PeakHeapMB float64 `json:"peak_heap_mb"`
	PeakLiveMB float64 `json:"peak_live_mb"`
}

// longSessionMB are the sizes of the synthetic sessions: ten times longer
// must not take more memory.
func longSessionMB(quick bool) []int {
	if quick {
		return []int{5, 50}
	}
	return []int{50, 500}
}

func (h *harness) measureParse(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	h.measureParseThroughput(ctx)
	h.measureParseMemory(ctx)
}

func (h *harness) measureParseThroughput(ctx context.Context) {
	fig := &h.report.Parse
	lines, command, err := h.goBench(ctx, parsePkg, "^BenchmarkParse$", h.cfg.ParseBenchtime, h.cfg.ParseCount)
	fig.Command = command
	if err != nil {
		fig.Error = err.Error()
		return
	}
	if len(lines) == 0 {
		fig.Error = "BenchmarkParse reported nothing: does internal/parse still have it?"
		return
	}
	for _, runs := range byName(lines) {
		var mbps []float64
		for _, l := range runs {
			if l.HasMBps {
				mbps = append(mbps, l.MBps)
			}
		}
		if len(mbps) > 0 {
			fig.Results = append(fig.Results, Parse{Name: runs[0].Name, MBps: spreadOf(mbps)})
		}
	}
	if len(fig.Results) == 0 {
		fig.Error = "BenchmarkParse reports no MB/s (it needs b.SetBytes)"
	}
}

// measureParseMemory parses synthetic sessions of growing length, once each.
func (h *harness) measureParseMemory(ctx context.Context) {
	fig := &h.report.Parse
	var sizes []string
	for _, mb := range longSessionMB(h.cfg.Quick) {
		sizes = append(sizes, strconv.Itoa(mb))
	}
	lines, command, err := h.goBench(ctx, parsePkg, "^BenchmarkParseLongSession$", "1x", 1, "-long-session-mb", strings.Join(sizes, ","))
	fig.MemoryCommand = command
	if err != nil {
		fig.MemoryError = err.Error()
		return
	}
	fig.Memory, err = parseMemoryLines(lines)
	if err != nil {
		fig.MemoryError = err.Error()
	} else if len(fig.Memory) != len(sizes) {
		fig.MemoryError = fmt.Sprintf("BenchmarkParseLongSession reported %d sessions, want %d: does internal/parse still have it?", len(fig.Memory), len(sizes))
	}
}

// parseMemoryLines reads BenchmarkParseLongSession's results, named
// "ParseLongSession/<N>MB".
func parseMemoryLines(lines []benchLine) ([]ParseMemory, error) {
	var mem []ParseMemory
	for _, l := range lines {
		size, ok := strings.CutPrefix(l.Name, "ParseLongSession/")
		if !ok {
			continue
		}
		mb, err := strconv.Atoi(strings.TrimSuffix(size, "MB"))
		heap, hasHeap := l.Metrics["peak-heap-MB"]
		live, hasLive := l.Metrics["peak-live-MB"]
		if err != nil || !hasHeap || !hasLive || !l.HasMBps {
			return nil, fmt.Errorf("BenchmarkParseLongSession result %q lacks its size, MB/s, peak-heap-MB or peak-live-MB", l.Name)
		}
		mem = append(mem, ParseMemory{SessionMB: mb, MBps: l.MBps, PeakHeapMB: heap, PeakLiveMB: live})
	}
	return mem, nil
}

// parsePkg holds the parser's benchmarks.
const parsePkg = "./internal/parse/"

// goBench runs `go test -bench` on pkg and returns its result lines and the
// command. args go to the test binary.
func (h *harness) goBench(ctx context.Context, pkg, bench, benchtime string, count int, args ...string) ([]benchLine, string, error) {
	// -cpu 1 runs the benchmark with GOMAXPROCS=1: the figures are per core.
	goArgs := []string{"test", "-run", "^$", "-bench", bench, "-benchtime", benchtime,
		"-count", strconv.Itoa(count), "-cpu", "1", pkg}
	if len(args) > 0 {
		goArgs = append(append(goArgs, "-args"), args...)
	}
	command := "go " + shellJoin(goArgs)
	h.logf("%s", command)
	cmd := exec.CommandContext(ctx, h.goBin, goArgs...)
	cmd.Dir = h.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, command, fmt.Errorf("%v: %s", err, truncateTail(out, 2000))
	}
	lines, err := parseBenchOutput(out)
	return lines, command, err
}

// writeParseMemory writes the memory table of BENCHMARKS.md's parse section.
func writeParseMemory(p func(format string, args ...any), f ParseFigures) {
	p("")
	p("Memory over one long session: `%s` (synthetic sessions of prompts, commands and their output, git, errors, a progress bar and a TUI region redrawn in place, 100-300 KB lines, wide characters, clear, less on the alternate screen; the heap sampled every MiB).%s", f.MemoryCommand, errNote(f.MemoryError))
	p("")
	p("| Session | MB/s | Peak heap | Peak live heap |")
	p("|---|---|---|---|")
	for _, m := range f.Memory {
		p("| %d MB | %s | %s MB | %s MB |", m.SessionMB, fmtNum(m.MBps), fmtNum(m.PeakHeapMB), fmtNum(m.PeakLiveMB))
	}
}

// benchLine is one result line of `go test -bench`.
type benchLine struct {
	// Name is the benchmark's name without the "Benchmark" prefix and the
	// -GOMAXPROCS suffix, with go test's underscores turned back to spaces.
	Name       string
	Iterations int64
	NsPerOp    float64
	MBps       float64
	HasMBps    bool
	// Metrics are the other figures by unit: B/op, allocs/op and those of
	// b.ReportMetric.
	Metrics map[string]float64
}

// byName groups result lines by benchmark, in the order go test first
// reported each: one line per -count run.
func byName(lines []benchLine) [][]benchLine {
	var groups [][]benchLine
	index := map[string]int{}
	for _, l := range lines {
		i, seen := index[l.Name]
		if !seen {
			i = len(groups)
			index[l.Name] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], l)
	}
	return groups
}

var benchLineRE = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+([0-9.e+]+) ns/op((?:\s+[0-9.e+]+ \S+)*)\s*$`)

// parseBenchOutput extracts the result lines of `go test -bench` output,
// ignoring everything else (headers, PASS, ok lines).
func parseBenchOutput(out []byte) ([]benchLine, error) {
	var lines []benchLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := benchLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		l := benchLine{Name: strings.ReplaceAll(m[1], "_", " ")}
		var err error
		if l.Iterations, err = strconv.ParseInt(m[2], 10, 64); err != nil {
			return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
		}
		if l.NsPerOp, err = strconv.ParseFloat(m[3], 64); err != nil {
			return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
		}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
			}
			if unit := f[i+1]; unit == "MB/s" {
				l.MBps, l.HasMBps = v, true
			} else {
				if l.Metrics == nil {
					l.Metrics = map[string]float64{}
				}
				l.Metrics[unit] = v
			}
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	return lines, nil
}
