package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Local is the Coordinator of a node that is alone (the embedded default, no
// etcd): holdings live in memory, this node always leads, Nodes lists only it.
// Keys are never lost while the process lives, so WatchLost never reports any.
type Local struct {
	id      string
	started time.Time

	mu     sync.Mutex
	holds  map[string]*localHolding
	info   NodeInfo
	leads  map[string]chan struct{} // a one-slot semaphore per Lead name
	closed bool

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // Lead calls
}

// NewLocal returns the Coordinator of a single node named nodeID.
func NewLocal(nodeID string) *Local {
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	return &Local{
		id: nodeID, started: now,
		holds:  make(map[string]*localHolding),
		info:   NodeInfo{ID: nodeID, StartedAt: now, UpdatedAt: now},
		leads:  make(map[string]chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
}

var _ Coordinator = (*Local)(nil)

// NodeID implements Coordinator.
func (l *Local) NodeID() string { return l.id }

// Hold implements Coordinator.
func (l *Local) Hold(_ context.Context, key string, value []byte) (Holding, error) {
	if key == "" {
		return nil, fmt.Errorf("cluster: hold: empty key")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if h, ok := l.holds[key]; ok {
		return nil, &HeldError{Key: key, Node: l.id, Value: clone(h.value)}
	}
	h := &localHolding{l: l, key: key, value: clone(value)}
	l.holds[key] = h
	return h, nil
}

// Held implements Coordinator.
func (l *Local) Held(_ context.Context, prefix string) (map[string][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	m := make(map[string][]byte)
	for k, h := range l.holds {
		if strings.HasPrefix(k, prefix) {
			m[k] = clone(h.value)
		}
	}
	return m, nil
}

// WatchLost implements Coordinator: one node loses nothing while it lives.
func (l *Local) WatchLost(_ context.Context, _ string, _ func(key string, value []byte)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}

// Lead implements Coordinator: the node is the leader of every name, one Lead
// call per name at a time.
func (l *Local) Lead(ctx context.Context, name string, fn func(ctx context.Context)) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	sem, ok := l.leads[name]
	if !ok {
		sem = make(chan struct{}, 1)
		l.leads[name] = sem
	}
	l.wg.Add(1)
	l.mu.Unlock()
	defer l.wg.Done()

	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil
	case <-l.ctx.Done():
		return ErrClosed
	}
	defer func() { <-sem }()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.ctx, cancel)
	defer stop()
	fn(lctx)
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Update implements Coordinator.
func (l *Local) Update(_ context.Context, info NodeInfo) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	info.ID, info.StartedAt, info.UpdatedAt = l.id, l.started, time.Now()
	l.info = info
	return nil
}

// Nodes implements Coordinator.
func (l *Local) Nodes(_ context.Context) ([]NodeInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	return []NodeInfo{l.info}, nil
}

// Done implements Coordinator: closed by Close.
func (l *Local) Done() <-chan struct{} { return l.ctx.Done() }

// Close implements Coordinator.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.holds = nil
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
	return nil
}

// localHolding is a Local's Holding.
type localHolding struct {
	l     *Local
	key   string
	value []byte
}

func (h *localHolding) Key() string { return h.key }

func (h *localHolding) Release(context.Context) error {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if h.l.holds[h.key] == h {
		delete(h.l.holds, h.key)
	}
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
