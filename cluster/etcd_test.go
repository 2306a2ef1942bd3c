package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/roomcast/roomcast/internal/etcdtest"
	"github.com/roomcast/roomcast/internal/testwait"
)

// testTTL is the lease TTL of most test nodes (the member-kill test uses
// DefaultTTL).
const testTTL = 2 * time.Second

// node is a test node: an Etcd with a client of its own, so that the test can
// kill it (close its client without revoking the lease).
type node struct {
	*Etcd
	cli *clientv3.Client
}

// newEtcdNode joins cluster c as id under prefix; t.Cleanup closes it.
func newEtcdNode(t *testing.T, c *etcdtest.Cluster, prefix, id string, ttl time.Duration) *node {
	t.Helper()
	cfg, err := EtcdConfig{Endpoints: joinEndpoints(c.AllEndpoints())}.ClientConfig(quiet)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	e, err := NewEtcd(ctx, cli, prefix, id, ttl, quiet.With("test", t.Name()))
	if err != nil {
		_ = cli.Close()
		t.Fatalf("NewEtcd %s: %v", id, err)
	}
	n := &node{Etcd: e, cli: cli}
	t.Cleanup(func() {
		_ = e.Close() // after kill: the lease is gone already
		_ = cli.Close()
	})
	return n
}

// kill makes the node die as a crashed process does: its client goes, its lease
// is not revoked and expires.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cli.Close(); err != nil {
		t.Logf("closing client: %v", err)
	}
}

func joinEndpoints(eps []string) string {
	s := ""
	for i, ep := range eps {
		if i > 0 {
			s += ","
		}
		s += ep
	}
	return s
}

func TestEtcdHoldIsExclusiveAcrossNodes(t *testing.T) {
	p := testPrefix(t)
	a := newEtcdNode(t, shared, p, "a", testTTL)
	b := newEtcdNode(t, shared, p, "b", testTTL)
	ctx := testCtx(t)
	h := mustHold(t, a, "session/1", "on-a")
	_, err := b.Hold(ctx, "session/1", []byte("on-b"))
	var held *HeldError
	if !errors.As(err, &held) || held.Node != "a" || string(held.Value) != "on-a" {
		t.Fatalf("b's hold: %v, want held by a with on-a", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustHold(t, b, "session/1", "on-b")
	_, err = a.Hold(ctx, "session/1", nil)
	if !errors.As(err, &held) || held.Node != "b" {
		t.Fatalf("a's hold: %v, want held by b", err)
	}
}

// TestEtcdWatchLost: a node dies holding a key: the other node's WatchLost
// reports it, and only it (not the key the dead node released before).
func TestEtcdWatchLost(t *testing.T) {
	p := testPrefix(t)
	watcher := newEtcdNode(t, shared, p, "watcher", testTTL)
	dying := newEtcdNode(t, shared, p, "dying", testTTL)
	ctx := testCtx(t)

	type loss struct {
		key, value string
		at         time.Time
	}
	var mu sync.Mutex
	var lost []loss
	err := watcher.WatchLost(ctx, "session/", func(key string, value []byte) {
		mu.Lock()
		lost = append(lost, loss{key, string(value), time.Now()})
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	released := mustHold(t, dying, "session/released", "r")
	if err := released.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustHold(t, dying, "session/held", "h")
	mustHold(t, dying, "other/held", "o") // not under the watched prefix

	killed := time.Now()
	dying.kill(t)
	testwait.Until(t, wait, "WatchLost to report the dead node's key", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lost) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	// Losses are reported in order: the release came first, so had it been
	// reported it would be here.
	if len(lost) != 1 || lost[0].key != "session/held" || lost[0].value != "h" {
		t.Fatalf("lost %+v, want only session/held=h", lost)
	}
	t.Logf("WatchLost fired %s after the holder died (TTL %s)", lost[0].at.Sub(killed).Round(time.Millisecond), testTTL)
	select {
	case <-dying.Done():
	default:
		t.Fatal("the dead node's Done is not closed")
	}
	if _, err := dying.Hold(ctx, "x", nil); !errors.Is(err, ErrSessionLost) {
		t.Fatalf("Hold on the dead node: %v, want ErrSessionLost", err)
	}
	// The key is free again.
	mustHold(t, watcher, "session/held", "taken over")
}

// TestEtcdLeadOneLeader: three nodes campaign; exactly one leads; when it dies
// another takes over, never overlapping.
func TestEtcdLeadOneLeader(t *testing.T) {
	p := testPrefix(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	var ls = &leaders{active: map[string]bool{}}
	nodes := map[string]*node{}
	var wg sync.WaitGroup
	for _, id := range []string{"n1", "n2", "n3"} {
		n := newEtcdNode(t, shared, p, id, testTTL)
		nodes[id] = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.Lead(ctx, "janitor", ls.run(id))
		}()
	}
	defer wg.Wait()
	defer cancel()

	testwait.Until(t, wait, "one leader", func() bool { return ls.current() != "" })
	first := ls.current()
	killed := time.Now()
	nodes[first].kill(t)
	testwait.Until(t, wait, "another leader", func() bool {
		c := ls.current()
		return c != "" && c != first
	})
	t.Logf("leadership moved from %s to %s %s after %s died (TTL %s)", first, ls.current(),
		time.Since(killed).Round(time.Millisecond), first, testTTL)
	if overlap, terms := ls.stats(); overlap || terms != 2 {
		t.Fatalf("overlap %v, terms %d; want no overlap and 2 terms", overlap, terms)
	}
}

// TestEtcdNodes: Nodes lists the live nodes and drops a dead one after its TTL.
func TestEtcdNodes(t *testing.T) {
	p := testPrefix(t)
	a := newEtcdNode(t, shared, p, "a", testTTL)
	b := newEtcdNode(t, shared, p, "b", testTTL)
	ctx := testCtx(t)
	if err := b.Update(ctx, NodeInfo{RTMPURL: "rtmp://127.0.0.1:1935/live", Viewers: 7}); err != nil {
		t.Fatal(err)
	}
	nodes, err := a.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].ID != "a" || nodes[1].ID != "b" || nodes[1].Viewers != 7 ||
		nodes[1].RTMPURL != "rtmp://127.0.0.1:1935/live" {
		t.Fatalf("Nodes: %+v", nodes)
	}
	killed := time.Now()
	b.kill(t)
	testwait.Until(t, wait, "the dead node to leave Nodes", func() bool {
		nodes, err := a.Nodes(ctx)
		return err == nil && len(nodes) == 1 && nodes[0].ID == "a"
	})
	t.Logf("dead node left Nodes after %s (TTL %s)", time.Since(killed).Round(time.Millisecond), testTTL)
}

// TestEtcdNodeIDInUse: a second node with a live node's ID is refused.
func TestEtcdNodeIDInUse(t *testing.T) {
	p := testPrefix(t)
	newEtcdNode(t, shared, p, "a", testTTL)
	cli := shared.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	e, err := NewEtcd(ctx, cli, p, "a", testTTL, quiet)
	if err == nil {
		_ = e.Close()
		t.Fatal("two live nodes with ID a")
	}
	if !errors.Is(err, ErrNodeIDInUse) {
		t.Fatalf("NewEtcd: %v, want ErrNodeIDInUse", err)
	}
}

// TestEtcdSurvivesMemberKill: kill -9 of the etcd leader member disturbs
// neither holdings nor leadership: every node's lease is refreshed after the
// kill, no node leaves, the leader stays the leader.
func TestEtcdSurvivesMemberKill(t *testing.T) {
	c := etcdtest.Start(t, 3)
	p := "/roomcast"
	ctx, cancel := context.WithCancel(testCtx(t))
	ls := &leaders{active: map[string]bool{}}
	var nodes []*node
	var wg sync.WaitGroup
	for _, id := range []string{"n1", "n2", "n3"} {
		n := newEtcdNode(t, c, p, id, DefaultTTL)
		nodes = append(nodes, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.Lead(ctx, "janitor", ls.run(id))
		}()
	}
	defer wg.Wait()
	defer cancel()
	mustHold(t, nodes[0], "session/1", "v")
	testwait.Until(t, wait, "one leader", func() bool { return ls.current() != "" })
	leader := ls.current()

	victim, err := c.Leader(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	c.Kill(victim)
	t.Logf("killed etcd member %d (the raft leader)", victim)
	testwait.Until(t, wait, "every node's lease refreshed after the kill", func() bool {
		for _, n := range nodes {
			if !n.LeaseDeadline().After(killed.Add(n.TTL())) {
				return false
			}
		}
		return true
	})
	t.Logf("all leases refreshed %s after the kill", time.Since(killed).Round(time.Millisecond))
	for _, n := range nodes {
		select {
		case <-n.Done():
			t.Fatalf("node %s left the cluster", n.NodeID())
		default:
		}
	}
	if _, err := nodes[1].Hold(testCtx(t), "session/1", nil); !errors.Is(err, ErrHeld) {
		t.Fatalf("hold of n1's key: %v, want ErrHeld", err)
	}
	mustHold(t, nodes[1], "session/2", "new")
	if overlap, terms := ls.stats(); overlap || terms != 1 || ls.current() != leader {
		t.Fatalf("leadership disturbed: overlap %v, terms %d, leader %q (was %q)", overlap, terms, ls.current(), leader)
	}
	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
}
