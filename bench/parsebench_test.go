package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseBenchOutput(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "parse_bench_output.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := parseBenchOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 8 {
		t.Fatalf("got %d result lines, want 8 (4 benchmarks × -count 2): %+v", len(lines), lines)
	}
	first := benchLine{Name: "Parse/bash session, new parser each", Iterations: 20, NsPerOp: 99724, MBps: 11.10, HasMBps: true,
		Metrics: map[string]float64{"B/op": 31326, "allocs/op": 474}}
	if !reflect.DeepEqual(lines[0], first) {
		t.Errorf("first line = %+v, want %+v", lines[0], first)
	}
	if got := lines[7].Name; got != "Parse/long lines, streamed" {
		t.Errorf("last name = %q", got)
	}

	tests := []struct {
		name string
		in   string
		want []benchLine
	}{
		{"the GOMAXPROCS suffix is dropped", "BenchmarkX-8   \t 100\t 12.5 ns/op\t 80.00 MB/s\n",
			[]benchLine{{Name: "X", Iterations: 100, NsPerOp: 12.5, MBps: 80, HasMBps: true}}},
		{"no MB/s without SetBytes", "BenchmarkX \t 100\t 12.5 ns/op\t 0 B/op\t 0 allocs/op\n",
			[]benchLine{{Name: "X", Iterations: 100, NsPerOp: 12.5, Metrics: map[string]float64{"B/op": 0, "allocs/op": 0}}}},
		{"b.ReportMetric's units", "BenchmarkParseLongSession/500MB \t 1\t 6767387114 ns/op\t  77.47 MB/s\t 3.709 peak-heap-MB\t 1.619 peak-live-MB\n",
			[]benchLine{{Name: "ParseLongSession/500MB", Iterations: 1, NsPerOp: 6767387114, MBps: 77.47, HasMBps: true,
				Metrics: map[string]float64{"peak-heap-MB": 3.709, "peak-live-MB": 1.619}}}},
		{"headers, PASS and ok lines are not results", "goos: linux\nPASS\nok  \tpkg\t1.0s\n", nil},
		{"a failing benchmark's log is not a result", "--- FAIL: BenchmarkX\n    x_test.go:1: boom\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBenchOutput([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], tt.want[i]) {
					t.Errorf("line %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseMemoryLines(t *testing.T) {
	out := "BenchmarkParseLongSession/50MB \t 1\t 662531750 ns/op\t  79.13 MB/s\t 3.630 peak-heap-MB\t 1.499 peak-live-MB\n" +
		"BenchmarkParseLongSession/500MB \t 1\t 6767387114 ns/op\t  77.47 MB/s\t 3.709 peak-heap-MB\t 1.619 peak-live-MB\n" +
		"PASS\n"
	lines, err := parseBenchOutput([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := parseMemoryLines(lines)
	if err != nil {
		t.Fatal(err)
	}
	want := []ParseMemory{{SessionMB: 50, MBps: 79.13, PeakHeapMB: 3.63, PeakLiveMB: 1.499}, {SessionMB: 500, MBps: 77.47, PeakHeapMB: 3.709, PeakLiveMB: 1.619}}
	if !reflect.DeepEqual(mem, want) {
		t.Errorf("parseMemoryLines = %+v, want %+v", mem, want)
	}

	var md strings.Builder
	writeParseMemory(func(format string, args ...any) { fmt.Fprintf(&md, format+"\n", args...) }, ParseFigures{MemoryCommand: "go test x", Memory: mem})
	for _, row := range []string{"| 50 MB | 79.1 | 3.63 MB | 1.50 MB |", "| 500 MB | 77.5 | 3.71 MB | 1.62 MB |"} {
		if !strings.Contains(md.String(), row) {
			t.Errorf("the memory table lacks %q:\n%s", row, md.String())
		}
	}

	bad, _ := parseBenchOutput([]byte("BenchmarkParseLongSession/50MB \t 1\t 6 ns/op\t 79.13 MB/s\n"))
	if _, err := parseMemoryLines(bad); err == nil {
		t.Error("a result without peak-heap-MB is accepted")
	}
}
