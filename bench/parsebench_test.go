package bench

import (
	"os"
	"path/filepath"
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
	first := benchLine{Name: "Parse/bash session, new parser each", Iterations: 20, NsPerOp: 99724, MBps: 11.10, HasMBps: true}
	if lines[0] != first {
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
			[]benchLine{{Name: "X", Iterations: 100, NsPerOp: 12.5}}},
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
				if got[i] != tt.want[i] {
					t.Errorf("line %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
