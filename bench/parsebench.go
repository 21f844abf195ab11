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

// ParseFigures are the results of the parse package's BenchmarkParse.
type ParseFigures struct {
	Command string  `json:"command"`
	Results []Parse `json:"results"`
	Error   string  `json:"error,omitempty"`
}

func (h *harness) measureParse(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	// -cpu 1 runs the benchmark with GOMAXPROCS=1: the figure is per core.
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkParse$", "-benchtime", h.cfg.ParseBenchtime,
		"-count", strconv.Itoa(h.cfg.ParseCount), "-cpu", "1", "./internal/parse/"}
	fig := &h.report.Parse
	fig.Command = "go " + shellJoin(args)
	h.logf("parse: %s", fig.Command)
	cmd := exec.CommandContext(ctx, h.goBin, args...)
	cmd.Dir = h.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		fig.Error = fmt.Sprintf("%v: %s", err, truncateTail(out, 2000))
		return
	}
	lines, err := parseBenchOutput(out)
	if err != nil {
		fig.Error = err.Error()
		return
	}
	if len(lines) == 0 {
		fig.Error = "BenchmarkParse reported nothing: does internal/parse still have it?"
		return
	}
	var order []string
	byName := map[string][]float64{}
	for _, l := range lines {
		if !l.HasMBps {
			continue
		}
		if _, seen := byName[l.Name]; !seen {
			order = append(order, l.Name)
		}
		byName[l.Name] = append(byName[l.Name], l.MBps)
	}
	if len(order) == 0 {
		fig.Error = "BenchmarkParse reports no MB/s (it needs b.SetBytes)"
		return
	}
	for _, name := range order {
		fig.Results = append(fig.Results, Parse{Name: name, MBps: spreadOf(byName[name])})
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
			if f[i+1] != "MB/s" {
				continue
			}
			if l.MBps, err = strconv.ParseFloat(f[i], 64); err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
			}
			l.HasMBps = true
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	return lines, nil
}
