package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPUModel  string `json:"cpu_model"`
	Cores     int    `json:"cores"`
	MemoryMB  int64  `json:"memory_mb"`
	Kernel    string `json:"kernel"`
	OS        string `json:"os"`
	GoVersion string `json:"go_version"`
	Date      string `json:"date"`
	// Commit is the aitrack commit measured (uncommitted changes may be
	// part of the build).
	Commit string `json:"commit"`
	// LoadStart and LoadEnd are /proc/loadavg's 1, 5 and 15 minute load
	// averages when the run started and ended: other work on the machine
	// shows here.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
	// LoadDuring is the 1-minute load average sampled through the run.
	LoadDuring Spread `json:"load_during"`
}

const loadSampleEvery = 10 * time.Second

// sampleLoad records the 1-minute load average until ctx ends, then
// returns the samples.
func sampleLoad(ctx context.Context) <-chan []float64 {
	out := make(chan []float64, 1)
	go func() {
		var samples []float64
		tick := time.NewTicker(loadSampleEvery)
		defer tick.Stop()
		for {
			if l := load1(loadAverage()); l >= 0 {
				samples = append(samples, l)
			}
			select {
			case <-ctx.Done():
				out <- samples
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

func describeMachine(ctx context.Context, root, goBin string, now time.Time) Machine {
	m := Machine{
		CPUModel:  cpuModel(),
		Cores:     runtime.NumCPU(),
		MemoryMB:  memTotalMB(),
		Kernel:    strings.TrimSpace(readString("/proc/sys/kernel/osrelease")),
		OS:        osName(),
		GoVersion: strings.TrimSpace(commandOutput(ctx, root, goBin, "version")),
		Date:      now.UTC().Format(time.RFC3339),
		Commit:    strings.TrimSpace(commandOutput(ctx, root, "git", "rev-parse", "--short=12", "HEAD")),
		LoadStart: loadAverage(),
	}
	if m.GoVersion == "" {
		m.GoVersion = runtime.Version()
	}
	return m
}

func cpuModel() string {
	for line := range strings.Lines(readString("/proc/cpuinfo")) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotalMB() int64 {
	for line := range strings.Lines(readString("/proc/meminfo")) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func osName() string {
	sc := bufio.NewScanner(bytes.NewReader([]byte(readString("/etc/os-release"))))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func loadAverage() string {
	f := strings.Fields(readString("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// load1 is the one-minute load average, or -1 when unknown.
func load1(loadavg string) float64 {
	f := strings.Fields(loadavg)
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// commandOutput runs a read-only informational command; "" when it fails.
func commandOutput(ctx context.Context, dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}
