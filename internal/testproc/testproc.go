// Package testproc has what the test harnesses that run real servers as child
// processes (internal/etcdtest, internal/s3test) share: free loopback ports,
// a child's environment and the tail of its log.
package testproc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
)

// AvoidPort is never handed out: another service of the test machines has it.
const AvoidPort = 2024

// FreePorts returns n distinct free TCP ports on 127.0.0.1 (never AvoidPort):
// all are held open until all are chosen, then closed for the child to bind.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		if p := l.Addr().(*net.TCPAddr).Port; p != AvoidPort {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// EnvWithout is the test's environment without the variables whose names start
// with one of prefixes (a child would read them as its own settings).
func EnvWithout(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				keep = false
				break
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

// LogContains reports whether the file at path contains s (false when it cannot
// be read).
func LogContains(path, s string) bool {
	b, _ := os.ReadFile(path)
	return bytes.Contains(b, []byte(s))
}

// LogTail returns the last n lines of the file at path (nothing when it cannot
// be read).
func LogTail(path string, n int) []byte {
	b, _ := os.ReadFile(path)
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
