package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/roomcast/roomcast/cluster"
	"github.com/roomcast/roomcast/control"
	pub "github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// A node of a cluster (--store etcd) shares one store with the other nodes and
// coordinates through cluster.Coordinator:
//   - every publish it ingests is claimed under the node's lease
//     (publish/<keyID>/<publishSeq>); when a node dies, every surviving node sees
//     the claim lost and applies "publish stopped" with NODE_LOST (only one
//     commits: the transition checks the publish sequence);
//   - the REQUEST_LOCKED room lock is a claim too (room/<id>);
//   - one leader delivers webhooks, one re-arms room deadlines (autoEnd, maximum
//     live duration) from the store every few seconds, so that deadlines armed
//     by a dead node still fire (firing is a transition: it happens once);
//   - the node registers its URLs and load (GET /v2/cluster/nodes).
// With the default bbolt store the Coordinator is cluster.Local: one node, the
// same code paths, nothing else to run.

// timerSweep is how often the deadline leader re-arms room deadlines.
const timerSweep = 5 * time.Second

// openStore opens the store and the coordinator the configuration names.
func (s *server) openStore() error {
	c := s.Config
	if c.Store != "etcd" {
		store, err := storage.Open(filepath.Join(c.DataDir, "roomcast.db"), storage.Options{})
		if err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		s.store = store
		s.coord = cluster.NewLocal(c.NodeID)
		return nil
	}
	cfg := cluster.EtcdConfig{Endpoints: c.EtcdEndpoints, Prefix: c.EtcdPrefix, Cert: c.EtcdCert,
		Key: c.EtcdKey, CACert: c.EtcdCACert, User: c.EtcdUser, Password: c.EtcdPassword}
	ccfg, err := cfg.ClientConfig(s.Log.With("component", "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	cli, err := clientv3.New(ccfg)
	if err != nil {
		return fmt.Errorf("etcd %s: %w", c.EtcdEndpoints, err)
	}
	s.etcd = cli
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := storage.OpenEtcd(ctx, storage.EtcdOptions{Client: cli, Prefix: cfg.KeyPrefix(),
		Log: s.Log.With("component", "store")})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.store = store
	// A node restarted within its TTL finds its old lease still alive: wait it out.
	for {
		coord, err := cluster.NewEtcd(ctx, cli, cfg.KeyPrefix(), c.NodeID, c.NodeTTL, s.Log.With("component", "cluster"))
		if err == nil {
			s.coord = coord
			return nil
		}
		if !errors.Is(err, cluster.ErrNodeIDInUse) || ctx.Err() != nil {
			return fmt.Errorf("join cluster as %s: %w", c.NodeID, err)
		}
		s.Log.Info("node ID still held by the previous process: waiting for its lease to expire", "node", c.NodeID)
		select {
		case <-ctx.Done():
		case <-time.After(c.NodeTTL / 4):
		}
	}
}

// claims are the publishes this node holds, by stream key.
type claims struct {
	mu   sync.Mutex
	held map[uint64]cluster.Holding
	seq  map[uint64]uint64 // the publish sequence of each claim
}

// claimKey names the claim of publish seq of key keyID.
func claimKey(keyID, seq uint64) string {
	return fmt.Sprintf("publish/%d/%d", keyID, seq)
}

// parseClaimKey is claimKey's inverse.
func parseClaimKey(k string) (keyID, seq uint64, ok bool) {
	rest, found := strings.CutPrefix(k, "publish/")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	keyID, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return keyID, seq, err1 == nil && err2 == nil
}

// claimPublish claims a publish that control has just started. Without the
// claim the publish cannot go on (this node has left the cluster): it is
// stopped again and refused.
func (s *server) claimPublish(ctx context.Context, ps control.PublishStart) error {
	h, err := s.coord.Hold(ctx, claimKey(ps.KeyID, ps.PublishSeq), []byte(s.coord.NodeID()))
	if err != nil {
		if serr := s.control.PublishStopped(context.Background(), ps.KeyID, pub.StopNodeLost.String()); serr != nil {
			s.Log.Error("publish stopped after a failed claim", "key", ps.KeyID, "err", serr)
		}
		return fmt.Errorf("claim publish of key %d: %w", ps.KeyID, err)
	}
	s.claims.mu.Lock()
	if s.claims.held == nil {
		s.claims.held, s.claims.seq = map[uint64]cluster.Holding{}, map[uint64]uint64{}
	}
	s.claims.held[ps.KeyID], s.claims.seq[ps.KeyID] = h, ps.PublishSeq
	s.claims.mu.Unlock()
	return nil
}

// releasePublish drops the claim of key keyID once its publish stopped.
func (s *server) releasePublish(keyID uint64) {
	s.claims.mu.Lock()
	h := s.claims.held[keyID]
	delete(s.claims.held, keyID)
	delete(s.claims.seq, keyID)
	s.claims.mu.Unlock()
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Release(ctx); err != nil && !errors.Is(err, cluster.ErrNotHeld) {
		s.Log.Warn("release publish claim", "key", keyID, "err", err)
	}
}

// publishers returns the number of publishes this node holds.
func (s *server) publishers() int {
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	return len(s.claims.held)
}

// startCluster starts what a node does for its cluster: the sweep of publishes
// whose node died before this one started, the watch of lost claims, the
// leaders, the registry entry, and the reaction to losing the cluster.
func (s *server) startCluster() error {
	ctx, cancel := context.WithCancel(context.Background())
	s.clusterStop = cancel
	held, err := s.coord.Held(ctx, "publish/")
	if err != nil {
		return fmt.Errorf("list publish claims: %w", err)
	}
	claimed := func(keyID, seq uint64) bool { _, ok := held[claimKey(keyID, seq)]; return ok }
	reason := pub.StopNodeLost
	if s.Config.Store != "etcd" {
		claimed, reason = nil, pub.StopServerRestart // one node: every publish was this process's
	}
	if err := s.control.RecoverUnclaimed(ctx, reason, claimed); err != nil {
		return err
	}
	err = s.coord.WatchLost(ctx, "publish/", func(key string, _ []byte) {
		keyID, seq, ok := parseClaimKey(key)
		if !ok {
			return
		}
		// Every surviving node tries; the publish sequence lets one commit.
		if err := s.control.PublishLost(ctx, keyID, seq, pub.StopNodeLost.String()); err != nil && ctx.Err() == nil {
			s.Log.Error("publish lost", "key", keyID, "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("watch lost publishes: %w", err)
	}
	s.goCluster(func() { s.lead(ctx, "room-deadlines", s.sweepDeadlines) })
	s.goCluster(func() { s.runReactor(ctx) })
	s.goCluster(func() { s.register(ctx) })
	s.goCluster(func() { s.watchMembership(ctx) })
	return nil
}

// goCluster runs fn on a goroutine stopCluster waits for.
func (s *server) goCluster(fn func()) {
	s.clusterWG.Add(1)
	go func() {
		defer s.clusterWG.Done()
		fn()
	}()
}

// stopCluster stops the cluster goroutines (before the coordinator closes).
func (s *server) stopCluster() {
	if s.clusterStop != nil {
		s.clusterStop()
		s.clusterWG.Wait()
	}
}

// lead runs fn whenever this node leads name, until ctx ends or the node leaves.
func (s *server) lead(ctx context.Context, name string, fn func(ctx context.Context)) {
	for ctx.Err() == nil {
		if err := s.coord.Lead(ctx, name, fn); err != nil {
			if ctx.Err() == nil {
				s.Log.Error("leadership ends on this node", "name", name, "err", err)
			}
			return
		}
	}
}

// sweepDeadlines re-arms every room deadline from the store until ctx ends.
func (s *server) sweepDeadlines(ctx context.Context) {
	t := time.NewTicker(timerSweep)
	defer t.Stop()
	for {
		if err := s.control.RearmTimers(); err != nil {
			s.Log.Error("re-arm room deadlines", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// register keeps this node's registry entry current.
func (s *server) register(ctx context.Context) {
	t := time.NewTicker(max(s.Config.NodeTTL/2, time.Second))
	defer t.Stop()
	started := time.Now()
	for {
		info := cluster.NodeInfo{
			HTTPURL:    s.Config.PublicHTTPURL,
			NodeURL:    s.Config.NodeURL,
			RTMPURL:    s.Config.PublicRTMPURL,
			Publishers: s.publishers(),
			Viewers:    s.viewers.Total(),
			Sessions:   s.sessions(),
			Load:       s.load(),
			StartedAt:  started,
		}
		info.NodeRTMPURL = s.Config.NodeRTMPURL // relay_edge.go
		if err := s.coord.Update(ctx, info); err != nil && ctx.Err() == nil {
			s.Log.Warn("update node registry", "err", err)
		}
		if nodes, err := s.coord.Nodes(ctx); err == nil {
			s.clusterNodes.Store(int64(len(nodes)))
			urls := make(map[string]string, len(nodes))
			for _, n := range nodes {
				urls[n.ID] = n.NodeURL
			}
			s.nodeURLs.Store(&urls)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// load is the fraction of --max-publishers this node ingests (0 without a limit).
func (s *server) load() float64 {
	if s.Config.MaxPublishers <= 0 {
		return 0
	}
	return float64(s.publishers()) / float64(s.Config.MaxPublishers)
}

// watchMembership ends this node's publishes when it is no longer part of the
// cluster (etcd unreachable beyond the TTL): the other nodes have applied
// NODE_LOST, so the encoders must reconnect, through the load balancer, to a
// node that is.
func (s *server) watchMembership(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-s.coord.Done():
	}
	s.Log.Error("this node lost its cluster session: ending its publishes", "node", s.coord.NodeID())
	s.claims.mu.Lock()
	ids := make([]uint64, 0, len(s.claims.held))
	for id := range s.claims.held {
		ids = append(ids, id)
	}
	s.claims.mu.Unlock()
	ing := s.live.rtmp.Load()
	for _, id := range ids {
		if ing != nil {
			ing.Kick(pub.StreamID(id), pub.StopNodeLost)
		}
	}
}

// roomLocker is the cluster-wide REQUEST_LOCKED lock: a claim per room.
type roomLocker struct{ coord cluster.Coordinator }

func (l roomLocker) TryLock(ctx context.Context, roomID uint64) (func(), error) {
	h, err := l.coord.Hold(ctx, "room/"+strconv.FormatUint(roomID, 10), nil)
	if errors.Is(err, cluster.ErrHeld) {
		return nil, control.ErrRequestLocked
	}
	if err != nil {
		return nil, fmt.Errorf("room lock: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Release(ctx) // a lost lock expires with its lease
	}, nil
}

// defaultNodeID is the host name and the HTTP port.
func defaultNodeID(httpAddr string) string {
	host, _ := os.Hostname()
	if host == "" {
		host = "roomcast"
	}
	if _, port, err := net.SplitHostPort(httpAddr); err == nil && port != "" {
		return host + "-" + port
	}
	return host
}

// defaultNodeURL is http://<http-addr> when the address names a host, else the
// public URL.
func defaultNodeURL(httpAddr, public string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return public
	}
	return "http://" + net.JoinHostPort(host, port)
}

// upstream is the packager's Upstream: the node URL of the live session's node
// when it is another live node ("" otherwise: this node, one node, or a node
// that left, whose session is gone).
func (s *server) upstream(ctx context.Context, room string, no int) (string, error) {
	key := room + "/" + strconv.Itoa(no)
	node, ok := s.sessionNodes.get(key)
	if !ok {
		var err error
		node, err = s.control.SessionNode(ctx, room, no)
		if errors.Is(err, control.ErrVideoRoomNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		s.sessionNodes.put(key, node)
	}
	if node == "" || node == s.coord.NodeID() {
		return "", nil
	}
	if urls := s.nodeURLs.Load(); urls != nil {
		return (*urls)[node], nil
	}
	return "", nil
}

// sessionNodeTTL is how long an edge remembers which node holds a session (the
// node of a session never changes; the bound keeps the map small).
const sessionNodeTTL = 10 * time.Second

// sessionNodes remembers the node of recently played sessions, so that an edge
// reads the store once per session rather than per request.
type sessionNodes struct {
	mu sync.Mutex
	m  map[string]sessionNode
}

type sessionNode struct {
	node string
	at   time.Time
}

func (c *sessionNodes) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Since(e.at) > sessionNodeTTL {
		return "", false
	}
	return e.node, true
}

func (c *sessionNodes) put(key, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10_000 {
		c.m = map[string]sessionNode{} // bounded: start over
	}
	c.m[key] = sessionNode{node, time.Now()}
}
