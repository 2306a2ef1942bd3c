package s3test

import "syscall"

// sysProcAttr puts weed in a process group of its own (Stop and Kill signal the
// whole group) and makes it die with the process that started it (a test binary
// killed by -timeout leaves no weed behind).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup signals the process group whose leader is pid.
func killGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
