package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// LockFile makes one daemon per state directory: it holds an exclusive
// flock for the daemon's life, and says who holds it.
const LockFile = "aitrackd.lock"

// ErrRunning means another daemon holds the state directory.
var ErrRunning = errors.New("aitrackd is already running")

// lock takes the state directory's lock, or says which daemon has it. The
// kernel drops a flock when its holder dies, so a crash leaves nothing to
// clean up.
func lock(stateDir, socket string) (*os.File, error) {
	path := filepath.Join(stateDir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "starting"
			}
			return nil, fmt.Errorf("%w with state directory %s (%s): stop it first, or give this one another AITRACK_STATE_DIR", ErrRunning, stateDir, who)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "pid %d, socket %s\n", os.Getpid(), socket)
	f.Sync()
	return f, nil
}
