package ptyrun

import "golang.org/x/sys/unix"

const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
	// ioctlReadable counts the bytes waiting to be read (FIONREAD, _IOR('f', 127, int); x/sys/unix does not name it).
	ioctlReadable = 0x4004667f
)

// keepSlaveUntilReaped: macOS discards a PTY's buffered output when the
// last slave fd closes before it is read (voidzero-dev/vite-task#164), so
// the parent keeps one open until the child is reaped and the output
// drained, as script(1) does.
const keepSlaveUntilReaped = true

// waitReadable blocks until fd is readable, at EOF or hung up (true), or
// until wake is (false). It uses select: macOS's poll does not work on
// terminal devices.
func waitReadable(fd, wake int) (bool, error) {
	for {
		var set unix.FdSet
		set.Set(fd)
		set.Set(wake)
		if _, err := unix.Select(max(fd, wake)+1, &set, nil, nil, nil); err == unix.EINTR {
			continue
		} else if err != nil {
			return false, err
		}
		if set.IsSet(wake) {
			return false, nil
		}
		if set.IsSet(fd) {
			return true, nil
		}
	}
}
