package bench

import (
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowtest"
)

// checkStore fails t unless every batch size of BenchmarkStoreCommit was
// measured.
func checkStore(t *testing.T, f StoreFigures) {
	t.Helper()
	if f.Error != "" || len(f.Results) != 3 {
		t.Fatalf("store commit throughput not measured (want 3 batch sizes): %+v", f)
	}
	for _, c := range f.Results {
		if !c.MBps.Valid() || c.MBps.Median <= 0 || !c.CommitsPerSec.Valid() || c.CommitsPerSec.Median <= 0 {
			t.Errorf("batch %s: %+v", c.Batch, c)
		}
	}
}

// TestMeasureStore runs the store figure as quick mode does, without the
// rest of the harness: a real `go test -bench` on internal/ingest.
func TestMeasureStore(t *testing.T) {
	root, err := mlflowtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(true)
	cfg.Log = testLog{t}
	h := &harness{cfg: cfg, started: time.Now(), root: root, goBin: goBin, report: &Report{}}
	h.measureStore(t.Context())
	checkStore(t, h.report.Store)
	if !strings.Contains(h.report.Store.Command, "-benchtime 1x -count 1") {
		t.Errorf("quick mode ran %q", h.report.Store.Command)
	}
}

func TestStoreCommits(t *testing.T) {
	out := "BenchmarkStoreCommit/4_KiB \t 300\t 555784 ns/op\t   7.37 MB/s\t 1799 commits/s\n" +
		"BenchmarkStoreCommit/1_MiB \t 40\t 2115708 ns/op\t 495.61 MB/s\t 472.7 commits/s\n" +
		"BenchmarkStoreCommit/4_KiB \t 300\t 555784 ns/op\t   9.37 MB/s\t 2299 commits/s\n" +
		"BenchmarkStoreCommit/1_MiB \t 40\t 2115708 ns/op\t 395.61 MB/s\t 372.7 commits/s\n" +
		"BenchmarkStoreCommit/4_KiB \t 300\t 555784 ns/op\t   8.37 MB/s\t 2099 commits/s\n" +
		"BenchmarkParse/other \t 1\t 1 ns/op\t 1.00 MB/s\n" +
		"PASS\n"
	lines, err := parseBenchOutput([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	got, err := storeCommits(lines)
	if err != nil {
		t.Fatal(err)
	}
	want := []StoreCommit{
		{Batch: "4 KiB", MBps: spreadOf([]float64{7.37, 9.37, 8.37}), CommitsPerSec: spreadOf([]float64{1799, 2299, 2099})},
		{Batch: "1 MiB", MBps: spreadOf([]float64{495.61, 395.61}), CommitsPerSec: spreadOf([]float64{472.7, 372.7})},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("storeCommits = %+v, want %+v", got, want)
	}

	var md strings.Builder
	writeStore(func(format string, args ...any) { fmt.Fprintf(&md, format+"\n", args...) }, StoreFigures{Command: "go test x", Results: got})
	for _, row := range []string{"| 4 KiB | 8.37 (7.37–9.37) | 2099 (1799–2299) |", "| 1 MiB | 446 (396–496) | 423 (373–473) |", "fsynced"} {
		if !strings.Contains(md.String(), row) {
			t.Errorf("the store section lacks %q:\n%s", row, md.String())
		}
	}

	bad, _ := parseBenchOutput([]byte("BenchmarkStoreCommit/4_KiB \t 1\t 6 ns/op\t 7.37 MB/s\n"))
	if _, err := storeCommits(bad); err == nil {
		t.Error("a result without commits/s is accepted")
	}
}
