package supervisor

import "syscall"

// The child leads its own process group, so that one signal reaches its
// workers too; SIGTERM when the supervisor's thread dies lets it stop them
// (mlflow server forwards SIGTERM to its uvicorn child).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
