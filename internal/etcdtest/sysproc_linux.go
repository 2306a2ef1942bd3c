package etcdtest

import "syscall"

// sysProcAttr makes a member die with the process that started it (a test binary
// killed by -timeout leaves no etcd behind).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
