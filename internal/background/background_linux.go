package background

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// lower renices every thread: on Linux niceness belongs to threads, and a
// thread the Go runtime starts later inherits the niceness of the thread
// that starts it. Threads are listed twice, for one started meanwhile.
func lower(nice int) error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("lower the daemon's priority: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// getpriority's raw syscall returns 20-nice.
			cur, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
			if err != nil {
				continue // the thread is gone
			}
			if 20-cur >= nice {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
				return fmt.Errorf("lower the daemon's priority: %w", err)
			}
		}
	}
	return nil
}
