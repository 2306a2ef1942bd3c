// Package etcdtest runs a real etcd cluster for tests: separate etcd processes
// (the etcd binary of the etcd-server package, found in PATH; not an embedded
// Go server) on 127.0.0.1, so that a test can kill -9 a member and start it
// again.
//
//	c := etcdtest.Start(t, 3)     // healthy when it returns; t.Cleanup stops it
//	cli := c.Client(t)            // all members' endpoints
//	c.Kill(0)                     // SIGKILL member 0 and wait for its exit
//	err := c.Restart(0)           // same data dir, healthy and caught up on return
//
// Each member listens on free loopback ports (client and peer) chosen when the
// cluster starts, keeps its data in a directory of its own and logs to
// member-<i>.log next to it; when a test fails, the tail of every member's log is
// printed. Raft timing is tuned for loopback (heartbeat 50 ms, election 500 ms),
// so a new leader is elected well under a second after the leader dies.
//
// A missing etcd binary fails the test (Start) or returns ErrNoEtcd
// (StartCluster): it is never skipped. Debian: apt-get install etcd-server
// etcd-client (CI's .ci/run does).
//
// StartCluster and Close are the same without a testing.TB, for a TestMain or a
// benchmark command.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/roomcast/roomcast/internal/testproc"
)

// ErrNoEtcd is returned (wrapped) by StartCluster when no etcd binary is found.
var ErrNoEtcd = errors.New("etcd binary not found in PATH: install it with `apt-get install etcd-server etcd-client` (CI's .ci/run does)")

// Raft timing of the members, tuned for loopback.
const (
	HeartbeatInterval = 50 * time.Millisecond
	ElectionTimeout   = 500 * time.Millisecond
)

// StartTimeout bounds how long starting or restarting waits for health.
const StartTimeout = 30 * time.Second

// logTailLines is how many lines of each member log a failed test prints.
const logTailLines = 40

// Cluster is a running etcd cluster of separate processes. Its methods may be
// called from several goroutines.
type Cluster struct {
	dir   string
	size  int
	token string
	logw  io.Writer
	bin   string

	mu      sync.Mutex
	members []*member
	closed  bool
}

// member is one etcd process and what it needs to start again.
type member struct {
	name      string
	dataDir   string
	logPath   string
	clientURL string // http://127.0.0.1:port
	peerURL   string

	cmd  *exec.Cmd     // nil while not running
	done chan struct{} // closed when cmd has exited
}

// Start starts a cluster of members etcd processes in t.TempDir() and waits until
// it has a leader and answers a linearizable read. t.Cleanup stops it (and
// prints the tail of each member log first when t failed). A missing etcd
// binary fails t.
func Start(t testing.TB, members int) *Cluster {
	t.Helper()
	c, err := StartCluster(t.TempDir(), members, nil)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.LogTails())
		}
		c.Close()
	})
	return c
}

// StartCluster starts a cluster of members etcd processes with their data dirs
// and logs in dir, and waits until it has a leader and answers a linearizable
// read. logw (nil: discarded) receives the harness's progress lines. Close stops
// it.
func StartCluster(dir string, members int, logw io.Writer) (*Cluster, error) {
	if members < 1 {
		return nil, fmt.Errorf("etcdtest: %d members", members)
	}
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, fmt.Errorf("etcdtest: %w", ErrNoEtcd)
	}
	if logw == nil {
		logw = io.Discard
	}
	c := &Cluster{dir: dir, size: members, logw: logw, bin: bin}
	// Free ports are found by listening and closing: another process may take
	// one before etcd binds it. One retry with fresh ports covers that race.
	for attempt := 1; ; attempt++ {
		err = c.startNew(attempt)
		if err == nil {
			return c, nil
		}
		tails := c.LogTails()
		c.Close()
		if attempt == 2 || !errors.Is(err, errAddrInUse) {
			return nil, fmt.Errorf("etcdtest: starting %d members: %w\n%s", members, err, tails)
		}
		fmt.Fprintf(logw, "etcdtest: %v; retrying with other ports\n", err)
		c.mu.Lock()
		c.closed = false
		c.mu.Unlock()
	}
}

// errAddrInUse marks a member that exited because its port was taken.
var errAddrInUse = errors.New("address already in use")

// startNew creates the members (fresh ports and data dirs, a new cluster token)
// and starts them.
func (c *Cluster) startNew(attempt int) error {
	ports, err := testproc.FreePorts(2 * c.size)
	if err != nil {
		return err
	}
	c.token = fmt.Sprintf("etcdtest-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), attempt)
	c.mu.Lock()
	c.members = nil
	for i := range c.size {
		name := "m" + strconv.Itoa(i)
		c.members = append(c.members, &member{
			name:      name,
			dataDir:   filepath.Join(c.dir, fmt.Sprintf("%s-%d.etcd", name, attempt)),
			logPath:   filepath.Join(c.dir, fmt.Sprintf("member-%d.log", i)),
			clientURL: "http://127.0.0.1:" + strconv.Itoa(ports[2*i]),
			peerURL:   "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
		})
	}
	c.mu.Unlock()
	for i := range c.members {
		if err := c.spawn(i, "new"); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	for i := range c.members {
		if err := c.waitHealthy(ctx, i); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.logw, "etcdtest: %d members healthy: %s\n", len(c.members), strings.Join(c.Endpoints(), ","))
	return nil
}

// spawn starts member i's process with --initial-cluster-state state.
func (c *Cluster) spawn(i int, state string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("cluster closed")
	}
	m := c.members[i]
	if m.cmd != nil {
		return fmt.Errorf("member %d is running", i)
	}
	var initial []string
	for _, o := range c.members {
		initial = append(initial, o.name+"="+o.peerURL)
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("member %d log: %w", i, err)
	}
	fmt.Fprintf(logf, "--- etcdtest: starting %s (%s) at %s\n", m.name, state, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin,
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL,
		"--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL,
		"--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", strings.Join(initial, ","),
		"--initial-cluster-state", state,
		"--initial-cluster-token", c.token,
		"--heartbeat-interval", strconv.Itoa(int(HeartbeatInterval/time.Millisecond)),
		"--election-timeout", strconv.Itoa(int(ElectionTimeout/time.Millisecond)),
		// Batch writes of the storage tests (and a store migration over many
		// records) are one transaction of more than etcd's default 128 operations.
		"--max-txn-ops", "4096",
		"--logger", "zap",
		"--log-outputs", "stderr",
	)
	cmd.Env = testproc.EnvWithout("ETCD_", "ETCDCTL_") // etcd reads ETCD_* as flags
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting member %d: %w", i, err)
	}
	done := make(chan struct{})
	m.cmd, m.done = cmd, done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return nil
}

// waitHealthy polls member i until it knows a leader and a linearizable read
// through its endpoint alone succeeds (a follower answers one only once it has
// applied everything committed before the read). It fails early when the
// process exits.
func (c *Cluster) waitHealthy(ctx context.Context, i int) error {
	c.mu.Lock()
	m := c.members[i]
	done, ep := m.done, hostPort(m.clientURL)
	c.mu.Unlock()
	if done == nil {
		return fmt.Errorf("member %d is not running", i)
	}
	cli, err := newClient([]string{ep})
	if err != nil {
		return fmt.Errorf("member %d: %w", i, err)
	}
	defer cli.Close()
	var last error
	for {
		select {
		case <-done:
			if testproc.LogContains(m.logPath, "address already in use") {
				return fmt.Errorf("member %d exited: %w", i, errAddrInUse)
			}
			return fmt.Errorf("member %d exited while starting", i)
		default:
		}
		last = probe(ctx, cli, ep)
		if last == nil {
			return nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("member %d not healthy after %s: %w", i, StartTimeout, last)
		case <-t.C:
		}
	}
}

// probe asks ep for its status (a leader is known) and reads a key
// linearizably through it.
func probe(ctx context.Context, cli *clientv3.Client, ep string) error {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := cli.Status(pctx, ep)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if st.Leader == 0 {
		return errors.New("no leader yet")
	}
	if _, err := cli.Get(pctx, "etcdtest-health"); err != nil {
		return fmt.Errorf("linearizable read: %w", err)
	}
	return nil
}

// Endpoints returns the host:port client endpoints of the running members.
func (c *Cluster) Endpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var eps []string
	for _, m := range c.members {
		if m.cmd != nil {
			eps = append(eps, hostPort(m.clientURL))
		}
	}
	return eps
}

// AllEndpoints returns the host:port client endpoints of every member, running
// or not: what a client that should survive a member's restart is given.
func (c *Cluster) AllEndpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = hostPort(m.clientURL)
	}
	return eps
}

// Endpoint returns member i's host:port client endpoint.
func (c *Cluster) Endpoint(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return hostPort(c.members[i].clientURL)
}

// Client returns a client of the given endpoints (default: every member's,
// AllEndpoints); t.Cleanup closes it.
func (c *Cluster) Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.AllEndpoints()
	}
	cli, err := newClient(endpoints)
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// newClient is a quiet client of endpoints.
func newClient(endpoints []string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("client of %v: %w", endpoints, err)
	}
	return cli, nil
}

// Leader returns the index of the member that is the raft leader, once the
// running members agree on one that is running (it polls until ctx ends).
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	cli, err := newClient(c.Endpoints())
	if err != nil {
		return -1, fmt.Errorf("etcdtest: leader: %w", err)
	}
	defer cli.Close()
	for {
		i, err := c.agreedLeader(ctx, cli)
		if err == nil {
			return i, nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return -1, fmt.Errorf("etcdtest: leader: %w (%w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// agreedLeader asks every running member for its leader.
func (c *Cluster) agreedLeader(ctx context.Context, cli *clientv3.Client) (int, error) {
	c.mu.Lock()
	ids := make(map[uint64]int) // member ID → index, learnt from each running member
	var eps []string
	var idx []int
	for i, m := range c.members {
		if m.cmd != nil {
			eps, idx = append(eps, hostPort(m.clientURL)), append(idx, i)
		}
	}
	c.mu.Unlock()
	var leader uint64
	for k, ep := range eps {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			return -1, fmt.Errorf("status of %s: %w", ep, err)
		}
		ids[st.Header.MemberId] = idx[k]
		if st.Leader == 0 || (leader != 0 && st.Leader != leader) {
			return -1, errors.New("members do not agree on a leader")
		}
		leader = st.Leader
	}
	i, ok := ids[leader]
	if !ok {
		return -1, errors.New("the leader is not a running member")
	}
	return i, nil
}

// Kill sends SIGKILL to member i and waits for it to exit. A member that is not
// running is left alone.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	m := c.members[i]
	cmd, done := m.cmd, m.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
	c.mu.Lock()
	m.cmd, m.done = nil, nil
	c.mu.Unlock()
	fmt.Fprintf(c.logw, "etcdtest: member %d killed\n", i)
}

// Restart starts member i again (after Kill) with its data dir and
// --initial-cluster-state existing, and waits until it knows a leader and has
// caught up (a linearizable read through it alone succeeds). Its ports are the
// same; when one was taken meanwhile, it retries once.
func (c *Cluster) Restart(i int) error {
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		if err = c.spawn(i, "existing"); err != nil {
			return fmt.Errorf("etcdtest: restart member %d: %w", i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		err = c.waitHealthy(ctx, i)
		cancel()
		if err == nil {
			fmt.Fprintf(c.logw, "etcdtest: member %d restarted\n", i)
			return nil
		}
		c.Kill(i)
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return fmt.Errorf("etcdtest: restart member %d: %w", i, err)
}

// Close kills every member, waits for them and removes their data dirs (the
// logs stay). It may be called more than once.
func (c *Cluster) Close() {
	c.mu.Lock()
	c.closed = true
	n := len(c.members)
	c.mu.Unlock()
	for i := range n {
		c.Kill(i)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		_ = os.RemoveAll(m.dataDir)
	}
}

// LogTails returns the last lines of every member's log, for a failure report.
func (c *Cluster) LogTails() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for i, m := range c.members {
		fmt.Fprintf(&b, "=== etcd member %d (%s) log tail, %s:\n", i, hostPort(m.clientURL), m.logPath)
		b.Write(testproc.LogTail(m.logPath, logTailLines))
		b.WriteString("\n")
	}
	return b.String()
}

// hostPort strips the scheme of a client URL.
func hostPort(u string) string { return strings.TrimPrefix(u, "http://") }
