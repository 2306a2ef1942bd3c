package testproc

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFreePortsDistinct(t *testing.T) {
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p == AvoidPort || p <= 0 {
			t.Fatalf("ports %v: %d repeated or not allowed", ports, p)
		}
		seen[p] = true
	}
}

func TestLogTailAndContains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\nfour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := string(LogTail(path, 2)); got != "three\nfour" {
		t.Errorf("LogTail 2: %q", got)
	}
	if got := string(LogTail(path, 9)); got != "one\ntwo\nthree\nfour" {
		t.Errorf("LogTail 9: %q", got)
	}
	if LogTail(filepath.Join(t.TempDir(), "none"), 3) != nil || LogContains(path, "five") || !LogContains(path, "two\nthree") {
		t.Error("a missing log or LogContains")
	}
}

func TestEnvWithout(t *testing.T) {
	t.Setenv("ETCD_TESTPROC", "x")
	t.Setenv("AWS_TESTPROC", "y")
	env := EnvWithout("ETCD_", "ETCDCTL_")
	if slices.Contains(env, "ETCD_TESTPROC=x") || !slices.Contains(env, "AWS_TESTPROC=y") {
		t.Errorf("EnvWithout(ETCD_): %v", env)
	}
}
