package bench

import (
	"os"
	"path/filepath"
	"testing"
)

func addFile(f *testing.F, name string) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

func FuzzParseProcStat(f *testing.F) {
	addFile(f, "proc_stat_wrapper.txt")
	f.Add([]byte("7 (cat) Z 1 7 7 0 -1 0 0 0 0 0 5 6 7 8 20 0 1 0 1 0 0"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseProcStat(b)
		if err != nil {
			return
		}
		if s.State == 0 {
			t.Errorf("parsed %q without a state", b)
		}
		if s.CPU() < 0 {
			t.Errorf("negative CPU time %v from %q", s.CPU(), b)
		}
	})
}

func FuzzParseVmRSS(f *testing.F) {
	addFile(f, "proc_status.txt")
	f.Add([]byte("VmRSS:\t10 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := parseVmRSS(b); err == nil && (n < 0 || n%1024 != 0) {
			t.Errorf("RSS %d from %q", n, b)
		}
	})
}

func FuzzParseBenchOutput(f *testing.F) {
	addFile(f, "parse_bench_output.txt")
	f.Add([]byte("BenchmarkX-8 100 12.5 ns/op 80.00 MB/s\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := parseBenchOutput(b)
		if err != nil {
			return
		}
		for _, l := range lines {
			if l.Name == "" || l.Iterations < 0 || l.NsPerOp < 0 || l.MBps < 0 || (!l.HasMBps && l.MBps != 0) {
				t.Errorf("implausible line %+v from %q", l, b)
			}
		}
	})
}
