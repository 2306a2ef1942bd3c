package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The etcd engine watches its bucket keys: every change, by any node, drops the
// changed record from this process's read cache (and raises the fill refusal to
// the change's revision), and is passed to the watchers of Store.WatchBucket.
// Cached records serve only transactions whose snapshot the watch has reached.

// startWatch starts the watch goroutine from the revision after the current one.
func (e *etcdEngine) startWatch(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.cli.Get(rctx, e.commit)
	if err != nil {
		return fmt.Errorf("start watch: %w", err)
	}
	e.watched.Store(resp.Header.Revision)
	wctx, stop := context.WithCancel(context.Background())
	e.cancel = stop
	go e.watchLoop(wctx, resp.Header.Revision+1)
	return nil
}

// watchLoop applies changes until ctx ends, restarting the watch when etcd
// cancels it (compaction, a lost connection).
func (e *etcdEngine) watchLoop(ctx context.Context, from int64) {
	defer close(e.done)
	for ctx.Err() == nil {
		from = e.watchOnce(ctx, from)
		if ctx.Err() != nil {
			return
		}
		// Changes may have been missed: nothing cached may survive.
		e.dropCaches(uint64(from))
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watchOnce runs one watch from revision from and returns where the next one
// must start.
func (e *etcdEngine) watchOnce(ctx context.Context, from int64) int64 {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := e.cli.Watch(wctx, e.prefix+"b/", clientv3.WithPrefix(), clientv3.WithRev(from),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for resp := range ch {
		if err := resp.Err(); err != nil {
			if resp.CompactRevision > 0 {
				e.log.Warn("store watch compacted: read cache dropped", "from", from, "compacted", resp.CompactRevision)
				return resp.CompactRevision
			}
			e.log.Warn("store watch failed: restarting", "err", err)
			return from
		}
		for _, ev := range resp.Events {
			e.apply(ev)
			from = ev.Kv.ModRevision + 1
		}
		if resp.IsProgressNotify() || len(resp.Events) == 0 {
			from = max(from, resp.Header.Revision+1)
		}
		if w := from - 1; w > e.watched.Load() {
			e.watched.Store(w)
		}
	}
	return from
}

// apply invalidates the cached record a change touched and tells the watchers.
func (e *etcdEngine) apply(ev *clientv3.Event) {
	rest := strings.TrimPrefix(string(ev.Kv.Key), e.prefix+"b/")
	name, key, ok := strings.Cut(rest, "/")
	if !ok {
		return
	}
	rev := uint64(ev.Kv.ModRevision)
	if e.caches != nil && len(key) == 8 {
		id := btoi([]byte(key))
		switch name {
		case string(bucketRooms):
			e.caches.rooms.invalidate(id, rev)
		case string(bucketApps):
			e.caches.apps.invalidate(id, rev)
		case string(bucketMembers):
			e.caches.members.invalidate(id, rev)
		case string(bucketKeys):
			e.caches.keys.invalidate(id, rev)
		case string(bucketChatRooms):
			e.caches.chatRooms.invalidate(id, rev)
		}
	}
	var value []byte
	if ev.Type == clientv3.EventTypePut {
		value = ev.Kv.Value
	}
	e.watchMu.Lock()
	ws := e.watchers
	e.watchMu.Unlock()
	for _, w := range ws {
		w(name, []byte(key), value, ev.Kv.ModRevision)
	}
}

// dropCaches empties the read cache and refuses fills from snapshots before rev.
func (e *etcdEngine) dropCaches(rev uint64) {
	if e.caches == nil {
		return
	}
	e.caches.rooms.clear(rev)
	e.caches.apps.clear(rev)
	e.caches.members.clear(rev)
	e.caches.keys.clear(rev)
	e.caches.chatRooms.clear(rev)
}

// requestProgress asks the watch for a progress report (at most one per 5 ms), so that
// the watched revision catches up with revisions that changed nothing below the
// prefix.
func (e *etcdEngine) requestProgress() {
	now := time.Now().UnixNano()
	last := e.progressAt.Load()
	if now-last < int64(5*time.Millisecond) || !e.progressAt.CompareAndSwap(last, now) {
		return
	}
	ctx, cancel := e.ctx()
	defer cancel()
	// The request goes to the watch stream of the same metadata as the watch's
	// own context (WithRequireLeader), or to none at all.
	_ = e.cli.RequestProgress(clientv3.WithRequireLeader(ctx)) // a failure only delays the cache
}

// watch registers fn for every change below the prefix.
func (e *etcdEngine) watch(fn func(bucket string, key, value []byte, rev int64)) {
	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	e.watchers = append(e.watchers[:len(e.watchers):len(e.watchers)], fn)
}
