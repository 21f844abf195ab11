package ipc

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerCred reads LOCAL_PEERCRED and LOCAL_PEERPID.
func peerCred(c *net.UnixConn) (uid, pid int) {
	uid, pid = -1, -1
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED); err == nil {
			uid = int(cred.Uid)
		}
		if p, err := unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
			pid = p
		}
	})
	return
}
