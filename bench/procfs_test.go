package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	wrapper, err := os.ReadFile(filepath.Join("testdata", "proc_stat_wrapper.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"a name with spaces and parentheses", string(wrapper), procStat{State: 'S', UserTicks: 153, SystemTicks: 47, ChildTicks: 20}, false},
		{"a zombie", "7 (cat) Z 1 7 7 0 -1 0 0 0 0 0 5 6 7 8 20 0 1 0 1 0 0", procStat{State: 'Z', UserTicks: 5, SystemTicks: 6, ChildTicks: 15}, false},
		{"no name", "7 cat Z 1 7 7", procStat{}, true},
		{"too few fields", "7 (cat) Z 1 7 7 0 -1 0 0 0 0 0 5 6", procStat{}, true},
		{"a time that is not a number", "7 (cat) Z 1 7 7 0 -1 0 0 0 0 0 x 6 7 8 20", procStat{}, true},
		{"a long state", "7 (cat) ZZ 1 7 7 0 -1 0 0 0 0 0 5 6 7 8 20", procStat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcStat error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseProcStat = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestProcStatCPU(t *testing.T) {
	s := procStat{UserTicks: 150, SystemTicks: 50, ChildTicks: 1000}
	if got, want := s.CPU(), 2*time.Second; got != want {
		t.Errorf("CPU() = %v, want %v (own user+system only)", got, want)
	}
}

func TestParseVmRSS(t *testing.T) {
	status, err := os.ReadFile(filepath.Join("testdata", "proc_status.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"a real status file", string(status), 1772 * 1024, false},
		{"kB only", "Name:\tx\nVmRSS:\t  10 kB\n", 10240, false},
		{"no VmRSS (a kernel thread)", "Name:\tkthreadd\nState:\tS\n", 0, true},
		{"another unit", "VmRSS:\t10 MB\n", 0, true},
		{"a negative size", "VmRSS:\t-10 kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseVmRSS error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseVmRSS = %d, want %d", got, tt.want)
			}
		})
	}
}

// The final stat of a real program is read after it exits and before it
// is reaped: a busy child's CPU time shows there, and not as the reaper's
// own.
func TestTerminalReadsFinalStat(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	// A loop that burns at least 300 ms of CPU in the shell itself.
	term, err := startOnTerminal([]string{sh, "-c", `end=$(( $(date +%s%N) + 300000000 )); while [ "$(date +%s%N)" -lt "$end" ]; do :; done; printf done`}, os.Environ(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := term.drain()
	term.close()
	if term.finalErr != nil {
		t.Fatalf("final stat: %v", term.finalErr)
	}
	if got != 4 {
		t.Errorf("the terminal received %d bytes, want 4 (\"done\")", got)
	}
	if term.final.State != 'Z' {
		t.Errorf("final state = %c, want Z (exited, not reaped)", term.final.State)
	}
	if term.treeCPU() < term.final.CPU() {
		t.Errorf("CPU with children %v < own CPU %v", term.treeCPU(), term.final.CPU())
	}
	if term.treeCPU() == 0 {
		t.Error("no CPU time recorded for a busy program")
	}
}
