package chatsocket_test

import (
	"syscall"
)

// smallBuffers shrinks a client socket's receive buffer, so that a client
// that does not read stops the server's writes after a few frames.
func smallBuffers(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}
