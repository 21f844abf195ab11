// Package supervisortest helps test code built on package supervisor with
// real child processes: a clock that runs faster than real time, so that
// restart pauses and grace periods take milliseconds, and a look at the
// process table to prove that no child was left behind.
//
// It is for tests only.
package supervisortest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// FastClock is a clock for supervisors in tests. Its time moves only when
// someone waits on it: After(d) moves it d forward at once and fires after
// d/factor of real time. So restart pauses, grace periods and windows keep
// their proportions while taking milliseconds, and the real time a child
// takes to start and crash costs no clock time, whatever the machine's
// load. It satisfies supervisor.Clock.
type FastClock struct {
	factor time.Duration
	mu     sync.Mutex
	now    time.Time
}

// NewFastClock returns a clock whose waits take 1/factor of real time.
func NewFastClock(factor int) *FastClock {
	return &FastClock{now: time.Now(), factor: time.Duration(factor)}
}

// Now returns the clock's time.
func (c *FastClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After moves the clock d forward and fires after d/factor of real time.
func (c *FastClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return time.After(d / c.factor)
}

// GroupMembers returns the processes of process group pgid that are still
// alive. Zombies do not count: they are dead, and a container's init may
// never reap the orphans among them.
func GroupMembers(pgid int) ([]int, error) {
	if runtime.GOOS != "linux" {
		// Without /proc: whether any process of the group takes signals.
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return nil, nil
		}
		return []int{pgid}, nil
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	var live []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		state, group, ok := parseStat(b)
		if ok && group == pgid && state != 'Z' && state != 'X' {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			live = append(live, pid)
		}
	}
	return live, nil
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	if runtime.GOOS != "linux" {
		return syscall.Kill(pid, 0) == nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	state, _, ok := parseStat(b)
	return ok && state != 'Z' && state != 'X'
}

// parseStat reads the state and process group from /proc/<pid>/stat:
// "pid (comm) state ppid pgrp ...", where comm may contain spaces and ')'.
func parseStat(b []byte) (state byte, pgrp int, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err := strconv.Atoi(string(f[2]))
	return f[0][0], pgrp, err == nil
}
