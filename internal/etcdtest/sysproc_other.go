//go:build !linux

package etcdtest

import "syscall"

// sysProcAttr: without Linux's parent-death signal, Close is what stops members.
func sysProcAttr() *syscall.SysProcAttr { return nil }
