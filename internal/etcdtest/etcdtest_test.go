package etcdtest_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/internal/etcdtest"
)

// TestMain fails the package if a test leaves goroutines behind (process
// waiters, clients).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestClusterSurvivesMemberKill: a 3-member cluster takes writes, keeps taking
// them once the two others elected a leader after its leader was killed, and
// the restarted member catches up on what it missed.
func TestClusterSurvivesMemberKill(t *testing.T) {
	c := etcdtest.Start(t, 3)
	if got := len(c.Endpoints()); got != 3 {
		t.Fatalf("Endpoints: %d, want 3", got)
	}
	cli := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if _, err := cli.Put(ctx, "k1", "v1"); err != nil {
		t.Fatalf("put: %v", err)
	}
	mustGet(ctx, t, cli, "k1", "v1")

	victim, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(victim)
	if got := c.Endpoints(); len(got) != 2 {
		t.Fatalf("Endpoints after kill: %v, want 2", got)
	}
	// A write proposed while the leader is gone may fail ("request timed out,
	// possibly due to previous leader failure"): wait for the new leader.
	if next, err := c.Leader(ctx); err != nil || next == victim {
		t.Fatalf("new leader %d (killed %d): %v", next, victim, err)
	}
	// The client has all three endpoints: its writes go to the live members.
	if _, err := cli.Put(ctx, "k2", "written while a member was down"); err != nil {
		t.Fatalf("put with a member down: %v", err)
	}
	mustGet(ctx, t, cli, "k2", "written while a member was down")

	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
	if got := len(c.Endpoints()); got != 3 {
		t.Fatalf("Endpoints after restart: %d, want 3", got)
	}
	// A serializable read is answered from the member's own store, without
	// asking the leader: the key is there only if it caught up.
	only := c.Client(t, c.Endpoint(victim))
	resp, err := only.Get(ctx, "k2", clientv3.WithSerializable())
	if err != nil {
		t.Fatalf("serializable get from member %d: %v", victim, err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "written while a member was down" {
		t.Fatalf("member %d after restart: %v, want the key written while it was down", victim, resp.Kvs)
	}
}

// TestClusterLosesQuorum: with two of three members down, a write does not
// succeed; after one comes back it does.
func TestClusterLosesQuorum(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	c.Kill(0)
	c.Kill(2)
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	_, err := cli.Put(short, "k", "v")
	cancel()
	if err == nil {
		t.Fatal("write succeeded with one of three members")
	}
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("write with quorum back: %v", err)
	}
}

func mustGet(ctx context.Context, t *testing.T, cli *clientv3.Client, key, want string) {
	t.Helper()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != want {
		t.Fatalf("get %s: %v, want %q", key, resp.Kvs, want)
	}
}
