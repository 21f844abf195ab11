package background

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// lower renices the process: on macOS niceness belongs to the process.
func lower(nice int) error {
	cur, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err == nil && cur >= nice {
		return nil
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, nice); err != nil {
		return fmt.Errorf("lower the daemon's priority: %w", err)
	}
	return nil
}
