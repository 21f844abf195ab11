package ptyrun

import "golang.org/x/sys/unix"

const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
	// ioctlReadable counts the bytes waiting to be read.
	ioctlReadable = unix.TIOCINQ
)

// keepSlaveUntilReaped: on Linux the parent closes its slave fd at once, so
// the master reports EIO (Linux's EOF) right after the last output byte once
// the child and everything it started are gone.
const keepSlaveUntilReaped = false

// waitReadable blocks until fd is readable, at EOF or hung up (true), or
// until wake is (false).
func waitReadable(fd, wake int) (bool, error) {
	fds := []unix.PollFd{
		{Fd: int32(fd), Events: unix.POLLIN},
		{Fd: int32(wake), Events: unix.POLLIN},
	}
	for {
		if _, err := unix.Poll(fds, -1); err == unix.EINTR {
			continue
		} else if err != nil {
			return false, err
		}
		if fds[1].Revents != 0 {
			return false, nil
		}
		if fds[0].Revents != 0 {
			return true, nil // the read tells data from EOF or an error
		}
	}
}
