package bench

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of /proc/<pid>/stat times: 100 on
// every Linux architecture the kernel exports to user space.
const clockTicksPerSecond = 100

// procStat is what the harness needs from /proc/<pid>/stat.
type procStat struct {
	State byte
	// UserTicks and SystemTicks are the process's own CPU time (all its
	// threads); ChildTicks is that of the children it has reaped.
	UserTicks, SystemTicks, ChildTicks uint64
}

// CPU is the process's own CPU time.
func (s procStat) CPU() time.Duration {
	user, system := ticksToDuration(s.UserTicks), ticksToDuration(s.SystemTicks)
	if user > math.MaxInt64-system {
		return math.MaxInt64
	}
	return user + system
}

// ticksToDuration saturates instead of overflowing on a corrupt count.
func ticksToDuration(ticks uint64) time.Duration {
	const perTick = time.Second / clockTicksPerSecond
	if ticks > uint64(math.MaxInt64/perTick) {
		return math.MaxInt64
	}
	return time.Duration(ticks) * perTick
}

// parseProcStat decodes /proc/<pid>/stat. The command name is in
// parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("no command name in %q", truncate(b, 80))
	}
	// Fields after the name start at field 3 (state).
	fields := strings.Fields(string(b[end+1:]))
	const (
		state  = 0  // field 3
		utime  = 11 // field 14
		stime  = 12
		cutime = 13
		cstime = 14
	)
	if len(fields) <= cstime {
		return procStat{}, fmt.Errorf("only %d fields after the command name", len(fields))
	}
	if len(fields[state]) != 1 {
		return procStat{}, fmt.Errorf("bad state %q", fields[state])
	}
	var n [4]uint64
	for i, f := range []int{utime, stime, cutime, cstime} {
		v, err := strconv.ParseUint(fields[f], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("field %d: %w", f+3, err)
		}
		n[i] = v
	}
	return procStat{State: fields[state][0], UserTicks: n[0], SystemTicks: n[1], ChildTicks: n[2] + n[3]}, nil
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseVmRSS extracts the resident set size from /proc/<pid>/status.
func parseVmRSS(b []byte) (bytesRSS int64, err error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", truncate(line, 80))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("unexpected VmRSS value %q", f[0])
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS line")
}

func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
