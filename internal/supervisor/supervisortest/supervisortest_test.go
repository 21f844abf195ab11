package supervisortest

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, in string
		state    byte
		pgrp     int
		ok       bool
	}{
		{"plain", "42 (sleep) S 1 40 40 0 -1", 'S', 40, true},
		{"comm with spaces and parens", "42 (a) b (c) Z 1 7 7 0", 'Z', 7, true},
		{"truncated", "42 (sleep) S 1", 0, 0, false},
		{"no comm", "42 sleep S 1 40", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, pgrp, ok := parseStat([]byte(tt.in))
			if state != tt.state || pgrp != tt.pgrp || ok != tt.ok {
				t.Errorf("parseStat = %q %d %v, want %q %d %v", state, pgrp, ok, tt.state, tt.pgrp, tt.ok)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("sleep", byte('S'), 40)
	f.Add("a) b (c", byte('Z'), 7)
	f.Fuzz(func(t *testing.T, comm string, state byte, pgrp int) {
		if state < 'A' || state > 'Z' || pgrp < 0 {
			return
		}
		line := fmt.Sprintf("42 (%s) %c 1 %d %d 0 -1 4194560", comm, state, pgrp, pgrp)
		gotState, gotPgrp, ok := parseStat([]byte(line))
		if !ok || gotState != state || gotPgrp != pgrp {
			t.Fatalf("parseStat(%q) = %q %d %v, want %q %d", line, gotState, gotPgrp, ok, state, pgrp)
		}
	})
}

func TestGroupMembersAndAlive(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	live, err := GroupMembers(pid)
	if err != nil || len(live) != 1 || !Alive(pid) {
		t.Fatalf("running sleep: GroupMembers = %v, %v; Alive = %v; want it seen", live, err, Alive(pid))
	}
	cmd.Process.Kill()
	cmd.Wait()
	if live, _ := GroupMembers(pid); len(live) != 0 || Alive(pid) {
		t.Errorf("killed sleep: GroupMembers = %v, Alive = %v; want it gone", live, Alive(pid))
	}
}

func TestFastClock(t *testing.T) {
	c := NewFastClock(1000)
	t0 := c.Now()
	time.Sleep(20 * time.Millisecond)
	if d := c.Now().Sub(t0); d != 0 {
		t.Errorf("the clock moved by %s without a wait", d)
	}
	start := time.Now()
	<-c.After(2 * time.Second)
	if d := c.Now().Sub(t0); d != 2*time.Second {
		t.Errorf("After(2s) moved the clock by %s", d)
	}
	if real := time.Since(start); real < 2*time.Millisecond {
		t.Errorf("After(2s) fired after %s of real time, want 2ms", real)
	}
}
