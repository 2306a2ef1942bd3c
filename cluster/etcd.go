package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultTTL is the lease TTL of an Etcd node when NewEtcd is given 0.
const DefaultTTL = 3 * time.Second

// retryPause is how long Lead and WatchLost wait before trying again after an
// etcd error.
const retryPause = 250 * time.Millisecond

// Etcd is the Coordinator of a node of a cluster sharing one etcd cluster. Its
// keys live under <prefix>/cluster/ and are bound to one lease per node,
// kept alive while the node lives (see doc.go for the layout).
type Etcd struct {
	cli     *clientv3.Client
	base    string // <prefix>/cluster/
	id      string
	ttl     time.Duration
	log     *slog.Logger
	started time.Time
	session *concurrency.Session

	ctx    context.Context // cancelled by Close and when the session is lost
	cancel context.CancelFunc
	done   chan struct{} // closed when the node leaves (Done)
	once   sync.Once     // closes done
	ended  bool          // liveness orphaned the session (written before wg.Done)
	lost   bool          // the session was lost (before Close)

	deadline atomic.Int64 // UnixNano until which the lease is known alive

	mu     sync.Mutex
	closed bool
	leads  map[string]chan struct{} // a one-slot semaphore per Lead name
	wg     sync.WaitGroup           // liveness, WatchLost goroutines and Lead calls
}

var _ Coordinator = (*Etcd)(nil)

// NewEtcd joins the cluster whose keys are under prefix (--etcd-prefix) as
// node nodeID: it grants the node's lease (ttl, rounded up to whole seconds;
// 0 means DefaultTTL), keeps it alive and lists the node. When a live node has
// the same ID (or a dead one whose lease has not expired yet) it waits, as long
// as ctx allows, for that node's lease to end, then fails with ErrNodeIDInUse.
// log (nil: slog.Default) receives session losses and retried etcd errors.
// Close leaves the cluster; the client stays the caller's.
func NewEtcd(ctx context.Context, cli *clientv3.Client, prefix, nodeID string, ttl time.Duration, log *slog.Logger) (*Etcd, error) {
	if nodeID == "" || strings.Contains(nodeID, "/") {
		return nil, fmt.Errorf("cluster: invalid node ID %q", nodeID)
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	secs := int64(math.Ceil(ttl.Seconds()))
	ttl = time.Duration(secs) * time.Second
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", nodeID)
	granted := time.Now()
	grant, err := cli.Grant(ctx, secs)
	if err != nil {
		return nil, fmt.Errorf("cluster: grant lease: %w", err)
	}
	session, err := concurrency.NewSession(cli, concurrency.WithLease(grant.ID), concurrency.WithTTL(int(secs)))
	if err != nil {
		revoke(cli, grant.ID, ttl)
		return nil, fmt.Errorf("cluster: session: %w", err)
	}
	e := &Etcd{
		cli: cli, base: strings.TrimSuffix(prefix, "/") + "/cluster/", id: nodeID, ttl: ttl, log: log,
		started: time.Now(), session: session,
		done:  make(chan struct{}),
		leads: make(map[string]chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if err := e.register(ctx); err != nil {
		e.cancel()
		_ = session.Close()
		return nil, err
	}
	e.deadline.Store(granted.Add(time.Duration(grant.TTL) * time.Second).UnixNano())
	e.wg.Add(1)
	go e.liveness()
	return e, nil
}

// register lists the node (its nodes/ key), waiting for a previous holder of
// the ID to go.
func (e *Etcd) register(ctx context.Context) error {
	key := e.nodeKey(e.id)
	info, err := json.Marshal(NodeInfo{ID: e.id, StartedAt: e.started, UpdatedAt: e.started})
	if err != nil {
		return fmt.Errorf("cluster: register: %w", err)
	}
	for {
		resp, err := e.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(info), clientv3.WithLease(e.session.Lease()))).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return fmt.Errorf("cluster: register node %q: %w", e.id, err)
		}
		if resp.Succeeded {
			return nil
		}
		e.log.Warn("cluster: node ID in use, waiting for its lease to end")
		wctx, cancel := context.WithCancel(ctx)
		wch := e.cli.Watch(wctx, key, clientv3.WithRev(resp.Header.Revision+1))
		gone := false
		for wr := range wch {
			for _, ev := range wr.Events {
				gone = gone || ev.Type == mvccpb.DELETE
			}
			if gone || wr.Err() != nil {
				break
			}
		}
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("cluster: register node %q: %w (%w)", e.id, ErrNodeIDInUse, ctx.Err())
		}
	}
}

// liveness ends the node's membership once its lease may have expired. It
// refreshes the lease itself every ttl/3 (KeepAliveOnce) and knows when each
// refresh was sent: the server expires the lease no earlier than that plus the
// TTL, so that is the node's deadline. When the deadline passes without a
// newer refresh, or the server no longer knows the lease, the node leaves:
// Done closes and the session stops refreshing, and the lease is revoked
// (best effort) so that other nodes see the loss now rather than at expiry.
// (The session's own keepalive, which the client library reaps only a TTL
// after its last answer arrived, would tell later than the server expires.)
func (e *Etcd) liveness() {
	defer e.wg.Done()
	deadline := e.LeaseDeadline()
	id := e.session.Lease()
	var reason string
	for {
		sent := time.Now()
		ctx, cancel := context.WithDeadline(e.ctx, deadline)
		resp, err := e.cli.KeepAliveOnce(ctx, id)
		cancel()
		if e.ctx.Err() != nil {
			return // Close
		}
		switch {
		case err == nil && resp.TTL > 0:
			deadline = sent.Add(time.Duration(resp.TTL) * time.Second)
			e.deadline.Store(deadline.UnixNano())
			pause(e.ctx, e.ttl/3)
			continue
		case err == nil || errors.Is(err, rpctypes.ErrLeaseNotFound):
			reason = "lease expired"
		case !time.Now().Before(deadline):
			reason = fmt.Sprintf("no keepalive answered within the TTL: %v", err)
		default:
			pause(e.ctx, min(retryPause, time.Until(deadline)))
			continue
		}
		break
	}
	e.mu.Lock()
	e.lost = !e.closed
	e.mu.Unlock()
	e.log.Error("cluster: session lost: leaving the cluster", "reason", reason, "lease", fmt.Sprintf("%x", id))
	e.cancel()
	e.closeDone()
	e.session.Orphan()
	revoke(e.cli, id, e.ttl)
	e.ended = true
}

func (e *Etcd) closeDone() { e.once.Do(func() { close(e.done) }) }

// revoke revokes lease id, giving up after ttl (it has expired by then).
func revoke(cli *clientv3.Client, id clientv3.LeaseID, ttl time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), ttl)
	defer cancel()
	_, _ = cli.Revoke(ctx, id)
}

// NodeID implements Coordinator.
func (e *Etcd) NodeID() string { return e.id }

// TTL is the lease TTL of the node.
func (e *Etcd) TTL() time.Duration { return e.ttl }

// LeaseDeadline is the time until which the node's lease is known to be alive
// (the send time of the last answered keepalive plus the TTL); Done closes when
// it passes without a newer answer.
func (e *Etcd) LeaseDeadline() time.Time { return time.Unix(0, e.deadline.Load()) }

// Done implements Coordinator.
func (e *Etcd) Done() <-chan struct{} { return e.done }

// alive returns ErrClosed or ErrSessionLost when the node has left.
func (e *Etcd) alive() error {
	if e.ctx.Err() == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lost {
		return ErrSessionLost
	}
	return ErrClosed
}

// track counts a goroutine or call that Close waits for, unless closed.
func (e *Etcd) track() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.wg.Add(1)
	return nil
}

func (e *Etcd) holdKey(key string) string { return e.base + "hold/" + key }
func (e *Etcd) nodeKey(id string) string  { return e.base + "nodes/" + id }

// Hold implements Coordinator. The key's value records the holder and whether
// it is being released (see doc.go).
func (e *Etcd) Hold(ctx context.Context, key string, value []byte) (Holding, error) {
	if key == "" {
		return nil, errors.New("cluster: hold: empty key")
	}
	if err := e.alive(); err != nil {
		return nil, err
	}
	k := e.holdKey(key)
	put := clientv3.OpPut(k, string(encodeHold(stateHeld, e.id, value)), clientv3.WithLease(e.session.Lease()))
	for range 10 {
		resp, err := e.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(put).Else(clientv3.OpGet(k)).Commit()
		if err != nil {
			return nil, fmt.Errorf("cluster: hold %q: %w", key, err)
		}
		if resp.Succeeded {
			return &etcdHolding{e: e, key: key, k: k, value: clone(value), rev: resp.Header.Revision}, nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue // deleted meanwhile
		}
		h, err := decodeHold(kvs[0].Value)
		if err != nil {
			return nil, fmt.Errorf("cluster: hold %q: %w", key, err)
		}
		if h.state == stateHeld {
			return nil, &HeldError{Key: key, Node: h.node, Value: h.value}
		}
		// Being released: take it over (the releaser's delete compares the
		// mod revision, so it will not delete ours).
		resp, err = e.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", kvs[0].ModRevision)).
			Then(put).Commit()
		if err != nil {
			return nil, fmt.Errorf("cluster: hold %q: %w", key, err)
		}
		if resp.Succeeded {
			return &etcdHolding{e: e, key: key, k: k, value: clone(value), rev: resp.Header.Revision}, nil
		}
	}
	return nil, fmt.Errorf("cluster: hold %q: key keeps changing", key)
}

// etcdHolding is an Etcd's Holding; rev is the mod revision of its key.
type etcdHolding struct {
	e        *Etcd
	key, k   string
	value    []byte
	rev      int64
	mu       sync.Mutex
	released bool
}

func (h *etcdHolding) Key() string { return h.key }

// Release marks the key released, then deletes it: a delete whose previous
// value is marked released is not a loss (WatchLost), even when the holder died
// between the two steps and the lease's expiry did the delete.
func (h *etcdHolding) Release(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return nil
	}
	e := h.e
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(h.k), "=", h.rev)).
		Then(clientv3.OpPut(h.k, string(encodeHold(stateReleased, e.id, h.value)), clientv3.WithIgnoreLease())).
		Commit()
	if err != nil {
		return fmt.Errorf("cluster: release %q: %w", h.key, err)
	}
	if !resp.Succeeded {
		h.released = true
		return fmt.Errorf("cluster: release %q: %w", h.key, ErrNotHeld)
	}
	h.released = true
	rev := resp.Header.Revision
	if _, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(h.k), "=", rev)).
		Then(clientv3.OpDelete(h.k)).Commit(); err != nil {
		// Marked released: the lease's end deletes it, and Hold takes it over.
		return fmt.Errorf("cluster: release %q: delete: %w", h.key, err)
	}
	return nil
}

// Held implements Coordinator.
func (e *Etcd) Held(ctx context.Context, prefix string) (map[string][]byte, error) {
	resp, err := e.cli.Get(ctx, e.holdKey(prefix), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cluster: held %q: %w", prefix, err)
	}
	m := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		h, err := decodeHold(kv.Value)
		if err != nil {
			e.log.Warn("cluster: undecodable held key", "key", string(kv.Key), "err", err)
			continue
		}
		if h.state == stateHeld {
			m[strings.TrimPrefix(string(kv.Key), e.base+"hold/")] = h.value
		}
	}
	return m, nil
}

// WatchLost implements Coordinator. It reads what is held under prefix, then
// watches from that revision on: a DELETE whose previous value is not marked
// released is a loss. When the watch breaks (compaction, no leader), it reads
// again and reports keys that went in between as lost unless last seen
// released.
func (e *Etcd) WatchLost(ctx context.Context, prefix string, fn func(key string, value []byte)) error {
	if err := e.alive(); err != nil {
		return err
	}
	p := e.holdKey(prefix)
	known, rev, err := e.snapshot(ctx, p)
	if err != nil {
		return fmt.Errorf("cluster: watch lost %q: %w", prefix, err)
	}
	if err := e.track(); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(e.ctx, cancel)
	go func() {
		defer e.wg.Done()
		defer stop()
		defer cancel()
		e.watchLost(wctx, p, known, rev, fn)
	}()
	return nil
}

// snapshot reads the holds under p: key → decoded value, and the revision read.
func (e *Etcd) snapshot(ctx context.Context, p string) (map[string]hold, int64, error) {
	resp, err := e.cli.Get(ctx, p, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, err
	}
	m := make(map[string]hold, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if h, err := decodeHold(kv.Value); err == nil {
			m[string(kv.Key)] = h
		}
	}
	return m, resp.Header.Revision, nil
}

func (e *Etcd) watchLost(ctx context.Context, p string, known map[string]hold, rev int64, fn func(key string, value []byte)) {
	report := func(k string, h hold) {
		if h.state == stateHeld {
			fn(strings.TrimPrefix(k, e.base+"hold/"), h.value)
		}
	}
	for ctx.Err() == nil {
		wch := e.cli.Watch(clientv3.WithRequireLeader(ctx), p,
			clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV())
		for wr := range wch {
			if err := wr.Err(); err != nil {
				e.log.Warn("cluster: watch lost: watch broke, reading again", "prefix", p, "err", err)
				break
			}
			for _, ev := range wr.Events {
				k := string(ev.Kv.Key)
				switch ev.Type {
				case mvccpb.PUT:
					if h, err := decodeHold(ev.Kv.Value); err == nil {
						known[k] = h
					}
				case mvccpb.DELETE:
					h, ok := known[k]
					if ev.PrevKv != nil {
						if ph, err := decodeHold(ev.PrevKv.Value); err == nil {
							h, ok = ph, true
						}
					}
					delete(known, k)
					if ok {
						report(k, h)
					}
				}
			}
			rev = wr.Header.Revision
		}
		if ctx.Err() != nil {
			return
		}
		// Read again and report what went meanwhile.
		for ctx.Err() == nil {
			now, r, err := e.snapshot(ctx, p)
			if err == nil {
				for k, h := range known {
					if _, still := now[k]; !still {
						report(k, h)
					}
				}
				known, rev = now, r
				break
			}
			e.log.Warn("cluster: watch lost: read failed, retrying", "prefix", p, "err", err)
			pause(ctx, retryPause)
		}
	}
}

// Lead implements Coordinator with a concurrency.Election on
// <prefix>/cluster/lead/<name>. Leadership is lost when the election key is
// deleted (seen by a watch) or the session is lost (liveness).
func (e *Etcd) Lead(ctx context.Context, name string, fn func(ctx context.Context)) error {
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("cluster: lead: invalid name %q", name)
	}
	if err := e.track(); err != nil {
		return err
	}
	defer e.wg.Done()
	e.mu.Lock()
	sem, ok := e.leads[name]
	if !ok {
		sem = make(chan struct{}, 1)
		e.leads[name] = sem
	}
	e.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil
	case <-e.ctx.Done():
		return e.alive()
	}
	defer func() { <-sem }()

	el := concurrency.NewElection(e.session, e.base+"lead/"+name)
	for {
		cctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(e.ctx, cancel)
		err := el.Campaign(cctx, e.id)
		if err == nil {
			resigned := e.leadTerm(cctx, el, name, fn)
			stop()
			cancel()
			if resigned {
				return nil
			}
		} else {
			stop()
			cancel()
			if ctx.Err() == nil && e.ctx.Err() == nil {
				e.log.Warn("cluster: campaign failed, retrying", "name", name, "err", err)
				pause(ctx, retryPause)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := e.alive(); err != nil {
			return err
		}
	}
}

// leadTerm runs fn as leader of name until fn returns; fn's ctx ends when the
// election key goes (or ctx ends). It then resigns, and says whether fn returned
// while still leader.
func (e *Etcd) leadTerm(ctx context.Context, el *concurrency.Election, name string, fn func(ctx context.Context)) (stillLeader bool) {
	e.log.Info("cluster: leader", "name", name)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		defer cancel()
		rev := el.Rev()
		for lctx.Err() == nil {
			wch := e.cli.Watch(clientv3.WithRequireLeader(lctx), el.Key(), clientv3.WithRev(rev+1))
			for wr := range wch {
				if wr.Err() != nil {
					break
				}
				for _, ev := range wr.Events {
					if ev.Type == mvccpb.DELETE {
						return
					}
				}
			}
			// The watch broke (no leader, compaction): check the key itself.
			var still bool
			if still, rev = e.stillLeader(lctx, el); !still {
				return
			}
		}
	}()
	if lctx.Err() == nil { // elected as ctx ended: no term
		fn(lctx)
	}
	stillLeader = lctx.Err() == nil
	cancel()
	<-watched
	if e.ctx.Err() == nil {
		rctx, rcancel := context.WithTimeout(context.Background(), e.ttl)
		if err := el.Resign(rctx); err != nil {
			e.log.Warn("cluster: resign failed", "name", name, "err", err)
		}
		rcancel()
	}
	e.log.Info("cluster: leadership ended", "name", name, "returned", stillLeader)
	return stillLeader
}

// stillLeader reads whether el's key still exists with its revision, and the
// revision read.
func (e *Etcd) stillLeader(ctx context.Context, el *concurrency.Election) (bool, int64) {
	for ctx.Err() == nil {
		resp, err := e.cli.Get(ctx, el.Key())
		if err == nil {
			return len(resp.Kvs) == 1 && resp.Kvs[0].CreateRevision == el.Rev(), resp.Header.Revision
		}
		pause(ctx, retryPause)
	}
	return false, 0
}

// Update implements Coordinator.
func (e *Etcd) Update(ctx context.Context, info NodeInfo) error {
	if err := e.alive(); err != nil {
		return err
	}
	info.ID, info.StartedAt, info.UpdatedAt = e.id, e.started, time.Now()
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("cluster: update: %w", err)
	}
	if _, err := e.cli.Put(ctx, e.nodeKey(e.id), string(b), clientv3.WithLease(e.session.Lease())); err != nil {
		return fmt.Errorf("cluster: update node %q: %w", e.id, err)
	}
	return nil
}

// Nodes implements Coordinator.
func (e *Etcd) Nodes(ctx context.Context) ([]NodeInfo, error) {
	resp, err := e.cli.Get(ctx, e.base+"nodes/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cluster: nodes: %w", err)
	}
	nodes := make([]NodeInfo, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var n NodeInfo
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			e.log.Warn("cluster: undecodable node", "key", string(kv.Key), "err", err)
			continue
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	return nodes, nil
}

// Close implements Coordinator: it ends Lead calls (they resign) and WatchLost
// goroutines, waits for them, then revokes the lease, which deletes every key
// of the node.
func (e *Etcd) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	e.closeDone()
	if e.ended { // liveness orphaned the session and revoked the lease
		return nil
	}
	if err := e.session.Close(); err != nil {
		return fmt.Errorf("cluster: close node %q: revoke lease: %w", e.id, err)
	}
	return nil
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// A held key's value: state, holder, caller's value.
type hold struct {
	state byte
	node  string
	value []byte
}

const (
	stateHeld     byte = 'H'
	stateReleased byte = 'R'
)

// encodeHold is state byte, uvarint length of node, node, value.
func encodeHold(state byte, node string, value []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(node)+len(value))
	b = append(b, state)
	b = binary.AppendUvarint(b, uint64(len(node)))
	b = append(b, node...)
	return append(b, value...)
}

func decodeHold(b []byte) (hold, error) {
	if len(b) < 2 || (b[0] != stateHeld && b[0] != stateReleased) {
		return hold{}, errors.New("cluster: bad held value")
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || uint64(len(b)-1-w) < n {
		return hold{}, errors.New("cluster: bad held value")
	}
	rest := b[1+w:]
	return hold{state: b[0], node: string(rest[:n]), value: clone(rest[n:])}, nil
}
