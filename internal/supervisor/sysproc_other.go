//go:build unix && !linux

package supervisor

import "syscall"

// No parent-death signal outside Linux: a supervisor killed outright leaves
// its child behind, and only Stop ends it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
