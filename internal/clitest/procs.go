package clitest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// killMarked SIGKILLs every process whose environment contains the entry
// marker (exactly, as KEY=VALUE), and repeats until none is left or a few
// seconds have passed, since a dying process may have just forked. The
// marker is unique per Tmux, so only processes that the Tmux started are hit.
func killMarked(marker string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pids := markedProcesses(marker)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond) // let the kernel turn them into zombies
	}
}

// markedProcesses lists the live processes whose environment holds marker.
// Zombies have an empty environ and are not listed; their parent reaps them.
func markedProcesses(marker string) []int {
	entries, _ := filepath.Glob("/proc/[0-9]*/environ")
	want := []byte(marker)
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(e)))
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
