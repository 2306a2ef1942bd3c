//go:build !linux

package s3test

import (
	"errors"
	"syscall"
)

// sysProcAttr: without Linux's process groups and parent-death signal here,
// Close is what stops weed.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup is not supported: the caller signals the process alone.
func killGroup(int, syscall.Signal) error { return errors.ErrUnsupported }
