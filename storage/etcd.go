package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The etcd engine keeps the buckets of the bbolt layout as etcd keys below one
// prefix P:
//
//	P b/<bucket>/<key>   the bucket's key/value pairs (keys as bbolt has them)
//	P s/<bucket>         the bucket's sequence, 8-byte big-endian
//	P k/<bucket>         marker: the bucket exists
//	P commit             touched by every committing write transaction
//
// A transaction reads one snapshot: the etcd revision of its first request
// (reads after it name that revision). A write transaction buffers its writes
// (reads see them) and commits them in one etcd Txn that succeeds only if P
// commit has not changed since the snapshot: write transactions are serializable
// cluster-wide, as bbolt's single writer is in one process. When another node
// committed first, the transaction runs again on a new snapshot (Store.Update's
// closure must therefore derive everything from the transaction; the fresh IDs
// it assigned are reset first). Writers of one process take turns, so retries
// only happen between processes.

// DefaultEtcdPrefix is the key prefix of an etcd store when none is given.
const DefaultEtcdPrefix = "/roomcast"

// EtcdOptions configures OpenEtcd.
type EtcdOptions struct {
	// Client is the etcd client the store uses; Close does not close it.
	Client *clientv3.Client
	// Prefix keeps this store's keys apart from others on the cluster. Default
	// DefaultEtcdPrefix.
	Prefix string
	// RequestTimeout bounds each etcd request. Default 5 s.
	RequestTimeout time.Duration
	// Log receives watch restarts. Default slog.Default().
	Log *slog.Logger
	// Options.CacheRecords applies; the bbolt file options do not.
	Options
}

// etcdPageSize is how many keys a cursor reads per request.
const etcdPageSize = 128

// etcdMaxAttempts bounds how often a write transaction runs when other nodes keep
// committing first.
const etcdMaxAttempts = 64

// OpenEtcd opens the store kept in the etcd cluster of o.Client below o.Prefix,
// running pending schema migrations (once cluster-wide: they are one write
// transaction) and creating the install secret on first use.
func OpenEtcd(ctx context.Context, o EtcdOptions) (*Store, error) {
	return openEtcd(ctx, o, migrations)
}

// openEtcd is OpenEtcd with an explicit migration table (tests add versions).
func openEtcd(ctx context.Context, o EtcdOptions, table []migration) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("open etcd store: no client")
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	timeout := o.RequestTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	e := &etcdEngine{
		cli:     o.Client,
		prefix:  prefix,
		commit:  prefix + "commit",
		timeout: timeout,
		log:     log.With("store", "etcd", "prefix", prefix),
		caches:  newCaches(o.CacheRecords),
		done:    make(chan struct{}),
	}
	s := &Store{eng: e, caches: e.caches}
	if err := e.loadBuckets(ctx); err != nil {
		return nil, fmt.Errorf("open store %s: %w", e, err)
	}
	if err := s.initialize(table); err != nil {
		return nil, fmt.Errorf("open store %s: %w", e, err)
	}
	if err := e.startWatch(ctx); err != nil {
		return nil, fmt.Errorf("open store %s: %w", e, err)
	}
	return s, nil
}

// etcdEngine is the store on an etcd cluster.
type etcdEngine struct {
	cli     *clientv3.Client
	prefix  string
	commit  string // the key every write transaction compares and touches
	timeout time.Duration
	log     *slog.Logger
	caches  *caches // nil when disabled

	writer  sync.Mutex // one write transaction of this process at a time
	buckets sync.Map   // bucket name → struct{}: buckets known to exist

	// watched is the revision up to which every change below the prefix has been
	// applied to the read cache (and to the record watchers); cached records serve
	// only snapshots at or below it.
	watched    atomic.Int64
	progressAt atomic.Int64 // when the last progress request went out (Unix ns)

	// Requests made to etcd (Store.EngineStats).
	reads, commits, conflicts atomic.Uint64

	watchMu  sync.Mutex
	watchers []func(bucket string, key, value []byte, rev int64)

	cancel context.CancelFunc
	done   chan struct{} // closed when the watch goroutine has stopped
}

func (e *etcdEngine) String() string {
	return fmt.Sprintf("etcd %s%s", strings.Join(e.cli.Endpoints(), ","), strings.TrimSuffix(e.prefix, "/"))
}

func (e *etcdEngine) close() error {
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	return nil
}

func (e *etcdEngine) bucketKey(name string) string   { return e.prefix + "b/" + name + "/" }
func (e *etcdEngine) sequenceKey(name string) string { return e.prefix + "s/" + name }
func (e *etcdEngine) markerKey(name string) string   { return e.prefix + "k/" + name }

// loadBuckets reads the bucket markers.
func (e *etcdEngine) loadBuckets(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix+"k/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("read bucket markers: %w", err)
	}
	for _, kv := range resp.Kvs {
		e.buckets.Store(strings.TrimPrefix(string(kv.Key), e.prefix+"k/"), struct{}{})
	}
	return nil
}

// view runs fn on the snapshot of the current revision.
func (e *etcdEngine) view(fn func(kvTx) error) error {
	t := e.begin(false)
	if err := t.start(); err != nil {
		return err
	}
	err := fn(t)
	if t.err != nil {
		return t.err
	}
	return err
}

// update runs attempt until its commit succeeds, it fails, or etcdMaxAttempts
// snapshots were overtaken by other writers.
func (e *etcdEngine) update(attempt func(kvTx) (func(), error)) error {
	e.writer.Lock()
	defer e.writer.Unlock()
	backoff := time.Millisecond
	for range etcdMaxAttempts {
		t := e.begin(true)
		if err := t.start(); err != nil {
			return err
		}
		rollback, err := attempt(t)
		if t.err != nil {
			err = t.err
		}
		if err == nil {
			var committed bool
			committed, err = t.commitWrites()
			if err == nil && !committed {
				if rollback != nil {
					rollback()
				}
				time.Sleep(backoff + rand.N(backoff))
				backoff = min(2*backoff, 50*time.Millisecond)
				continue
			}
		}
		if err != nil {
			if rollback != nil {
				rollback()
			}
			return err
		}
		for _, fn := range t.onCommit {
			fn()
		}
		return nil
	}
	return fmt.Errorf("store %s: write transaction overtaken %d times by other nodes: %w", e, etcdMaxAttempts, ErrBusy)
}

// begin returns a transaction that has not read yet.
func (e *etcdEngine) begin(writable bool) *etcdTx {
	t := &etcdTx{e: e, writable: writable, reads: map[string][]byte{}}
	if writable {
		t.writes = map[string]etcdWrite{}
		t.sorted = map[string][]string{}
		t.seqs = map[string]*etcdSeq{}
	}
	return t
}

// ctx returns a context bounded by the request timeout.
func (e *etcdEngine) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.timeout)
}

// etcdWrite is one buffered write: a value, or a deletion.
type etcdWrite struct {
	value   []byte
	deleted bool
}

// etcdSeq is a bucket sequence read (and maybe changed) by a write transaction.
type etcdSeq struct {
	v     uint64
	dirty bool
}

// etcdTx is one transaction on the etcd engine.
type etcdTx struct {
	e         *etcdEngine
	writable  bool
	rev       int64 // the snapshot revision
	commitRev int64 // mod revision of the commit key at the snapshot (0: never written)
	err       error // the first request error; the transaction fails with it

	reads    map[string][]byte // key → value at rev (nil: absent), memoized
	writes   map[string]etcdWrite
	sorted   map[string][]string // bucket → written keys in order
	seqs     map[string]*etcdSeq
	onCommit []func()
}

// start reads the commit key, which fixes the snapshot.
func (t *etcdTx) start() error {
	ctx, cancel := t.e.ctx()
	defer cancel()
	resp, err := t.e.cli.Get(ctx, t.e.commit)
	t.e.reads.Add(1)
	if err != nil {
		return fmt.Errorf("store %s: begin transaction: %w", t.e, err)
	}
	t.rev = resp.Header.Revision
	if len(resp.Kvs) > 0 {
		t.commitRev = resp.Kvs[0].ModRevision
	}
	return nil
}

// fail records the first request error.
func (t *etcdTx) fail(op string, err error) {
	if t.err == nil {
		t.err = fmt.Errorf("store %s: %s: %w", t.e, op, err)
	}
}

func (t *etcdTx) Writable() bool     { return t.writable }
func (t *etcdTx) OnCommit(fn func()) { t.onCommit = append(t.onCommit, fn) }

// Snapshot is the revision read at; a write transaction's is one more, which is
// at most its commit revision.
func (t *etcdTx) Snapshot() uint64 {
	if t.writable {
		return uint64(t.rev) + 1
	}
	return uint64(t.rev)
}

// Cacheable reports whether every change up to the snapshot has reached the read
// cache; otherwise the transaction reads from etcd (and asks the watch for a
// progress report, so that a quiet prefix catches up).
func (t *etcdTx) Cacheable() bool {
	if t.e.watched.Load() >= t.rev {
		return true
	}
	t.e.requestProgress()
	return false
}

func (t *etcdTx) Bucket(name []byte) bucket {
	n := string(name)
	if _, ok := t.e.buckets.Load(n); !ok && !t.hasMarker(n) {
		return nil
	}
	return &etcdBucket{t: t, name: n, prefix: t.e.bucketKey(n)}
}

// hasMarker reads the marker of bucket name (a bucket another node created, or
// one this transaction created).
func (t *etcdTx) hasMarker(name string) bool {
	if t.get(t.e.markerKey(name)) == nil {
		return false
	}
	t.e.buckets.Store(name, struct{}{})
	return true
}

func (t *etcdTx) CreateBucketIfNotExists(name []byte) (bucket, error) {
	if !t.writable {
		return nil, ErrReadOnly
	}
	n := string(name)
	if b := t.Bucket(name); b != nil {
		return b, nil
	}
	t.put(t.e.markerKey(n), []byte{})
	return &etcdBucket{t: t, name: n, prefix: t.e.bucketKey(n)}, t.err
}

// get returns the value of key at the snapshot, with this transaction's writes.
func (t *etcdTx) get(key string) []byte {
	if w, ok := t.writes[key]; ok {
		if w.deleted {
			return nil
		}
		return w.value
	}
	if v, ok := t.reads[key]; ok {
		return v
	}
	if t.err != nil {
		return nil
	}
	ctx, cancel := t.e.ctx()
	defer cancel()
	resp, err := t.e.cli.Get(ctx, key, clientv3.WithRev(t.rev))
	t.e.reads.Add(1)
	if err != nil {
		t.fail("read "+key, err)
		return nil
	}
	var v []byte
	if len(resp.Kvs) > 0 {
		v = resp.Kvs[0].Value
		if v == nil {
			v = []byte{}
		}
	}
	t.reads[key] = v
	return v
}

// put buffers a write of key (value nil: a deletion).
func (t *etcdTx) put(key string, value []byte) {
	w := etcdWrite{value: bytes.Clone(value), deleted: value == nil}
	if w.value == nil && !w.deleted {
		w.value = []byte{}
	}
	if _, seen := t.writes[key]; !seen {
		b := t.bucketOf(key)
		ks := t.sorted[b]
		i := sort.SearchStrings(ks, key)
		t.sorted[b] = append(ks[:i], append([]string{key}, ks[i:]...)...)
	}
	t.writes[key] = w
}

// bucketOf returns the bucket prefix a buffered key belongs to ("" for keys
// outside buckets).
func (t *etcdTx) bucketOf(key string) string {
	rest, ok := strings.CutPrefix(key, t.e.prefix+"b/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return t.e.bucketKey(name)
}

// seq returns the sequence of bucket name as this transaction sees it.
func (t *etcdTx) seq(name string) *etcdSeq {
	if s := t.seqs[name]; s != nil {
		return s
	}
	s := &etcdSeq{v: btoi(t.get(t.e.sequenceKey(name)))}
	if t.writable {
		t.seqs[name] = s
	}
	return s
}

// commitWrites commits the buffered writes if no other write transaction
// committed since the snapshot; committed is false when one did.
func (t *etcdTx) commitWrites() (committed bool, err error) {
	ops := make([]clientv3.Op, 0, len(t.writes)+len(t.seqs)+1)
	for k, w := range t.writes {
		if w.deleted {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, string(w.value)))
		}
	}
	for name, s := range t.seqs {
		if s.dirty {
			ops = append(ops, clientv3.OpPut(t.e.sequenceKey(name), string(u64(s.v))))
		}
	}
	if len(ops) == 0 {
		return true, nil
	}
	ops = append(ops, clientv3.OpPut(t.e.commit, ""))
	ctx, cancel := t.e.ctx()
	defer cancel()
	resp, err := t.e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(t.e.commit), "=", t.commitRev)).
		Then(ops...).
		Commit()
	t.e.commits.Add(1)
	if err != nil {
		return false, fmt.Errorf("store %s: commit %d writes: %w", t.e, len(ops), err)
	}
	if !resp.Succeeded {
		t.e.conflicts.Add(1)
	}
	return resp.Succeeded, nil
}

// etcdBucket is one bucket seen by a transaction.
type etcdBucket struct {
	t      *etcdTx
	name   string
	prefix string // P b/<name>/
}

func (b *etcdBucket) Get(key []byte) []byte { return b.t.get(b.prefix + string(key)) }

func (b *etcdBucket) Put(key, value []byte) error {
	if !b.t.writable {
		return ErrReadOnly
	}
	if value == nil {
		value = []byte{}
	}
	b.t.put(b.prefix+string(key), value)
	return b.t.err
}

func (b *etcdBucket) Delete(key []byte) error {
	if !b.t.writable {
		return ErrReadOnly
	}
	b.t.put(b.prefix+string(key), nil)
	return b.t.err
}

func (b *etcdBucket) Sequence() uint64 { return b.t.seq(b.name).v }

func (b *etcdBucket) SetSequence(v uint64) error {
	if !b.t.writable {
		return ErrReadOnly
	}
	s := b.t.seq(b.name)
	s.v, s.dirty = v, true
	return b.t.err
}

func (b *etcdBucket) NextSequence() (uint64, error) {
	if !b.t.writable {
		return 0, ErrReadOnly
	}
	s := b.t.seq(b.name)
	s.v++
	s.dirty = true
	return s.v, b.t.err
}

func (b *etcdBucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.t.err
}

func (b *etcdBucket) Cursor() cursor {
	return &etcdCursor{b: b, end: string(prefixEnd([]byte(b.prefix)))}
}

// etcdPair is one key/value read by a cursor.
type etcdPair struct {
	key   string
	value []byte
}

// etcdCursor walks a bucket: the snapshot's keys, read a page at a time, merged
// with the transaction's buffered writes.
type etcdCursor struct {
	b   *etcdBucket
	end string // first key after the bucket
	cur string // the key the cursor is on ("" when off either end)

	// page holds every snapshot key of the bucket in [lo, hi), in order.
	page   []etcdPair
	lo, hi string
}

func (c *etcdCursor) First() ([]byte, []byte) { return c.land(c.ge(c.b.prefix)) }
func (c *etcdCursor) Last() ([]byte, []byte)  { return c.land(c.lt(c.end)) }

func (c *etcdCursor) Seek(seek []byte) ([]byte, []byte) {
	return c.land(c.ge(c.b.prefix + string(seek)))
}

func (c *etcdCursor) Next() ([]byte, []byte) {
	if c.cur == "" {
		return nil, nil
	}
	return c.land(c.ge(c.cur + "\x00"))
}

func (c *etcdCursor) Prev() ([]byte, []byte) {
	if c.cur == "" {
		return nil, nil
	}
	return c.land(c.lt(c.cur))
}

// land moves the cursor to p and returns its key within the bucket.
func (c *etcdCursor) land(p etcdPair, ok bool) ([]byte, []byte) {
	if !ok {
		c.cur = ""
		return nil, nil
	}
	c.cur = p.key
	return []byte(p.key[len(c.b.prefix):]), p.value
}

// ge returns the first key >= k, buffered writes included.
func (c *etcdCursor) ge(k string) (etcdPair, bool) { return c.seek(k, true) }

// lt returns the last key < k, buffered writes included.
func (c *etcdCursor) lt(k string) (etcdPair, bool) { return c.seek(k, false) }

// seek returns the first key >= k (up) or the last key < k (down): the nearer of
// the snapshot's nearest key that this transaction did not delete and the
// transaction's own nearest write.
func (c *etcdCursor) seek(k string, up bool) (etcdPair, bool) {
	t := c.b.t
	remote, written := c.remoteLT, c.writtenLT
	if up {
		remote, written = c.remoteGE, c.writtenGE
	}
	o, ook := written(k)
	r, rok := remote(k)
	for rok {
		w, ok := t.writes[r.key]
		if !ok {
			break
		}
		if !w.deleted {
			r.value = w.value
			break
		}
		next := r.key // deleted here: the snapshot's next key in the direction
		if up {
			next += "\x00"
		}
		r, rok = remote(next)
	}
	switch {
	case rok && ook:
		if (o.key < r.key) == up {
			return o, true
		}
		return r, true
	case ook:
		return o, true
	default:
		return r, rok
	}
}

// writtenGE returns the first buffered (not deleted) write of the bucket >= k.
func (c *etcdCursor) writtenGE(k string) (etcdPair, bool) {
	t := c.b.t
	ks := t.sorted[c.b.prefix]
	for i := sort.SearchStrings(ks, k); i < len(ks); i++ {
		if w := t.writes[ks[i]]; !w.deleted {
			return etcdPair{ks[i], w.value}, true
		}
	}
	return etcdPair{}, false
}

// writtenLT returns the last buffered (not deleted) write of the bucket < k.
func (c *etcdCursor) writtenLT(k string) (etcdPair, bool) {
	t := c.b.t
	ks := t.sorted[c.b.prefix]
	for i := sort.SearchStrings(ks, k) - 1; i >= 0; i-- {
		if w := t.writes[ks[i]]; !w.deleted {
			return etcdPair{ks[i], w.value}, true
		}
	}
	return etcdPair{}, false
}

// remoteGE returns the first snapshot key >= k of the bucket.
func (c *etcdCursor) remoteGE(k string) (etcdPair, bool) {
	for {
		if c.lo <= k && k < c.hi {
			i := sort.Search(len(c.page), func(i int) bool { return c.page[i].key >= k })
			if i < len(c.page) {
				return c.page[i], true
			}
			if c.hi == c.end {
				return etcdPair{}, false
			}
			k = c.hi
		}
		if k >= c.end || !c.fetchUp(k) {
			return etcdPair{}, false
		}
	}
}

// remoteLT returns the last snapshot key < k of the bucket.
func (c *etcdCursor) remoteLT(k string) (etcdPair, bool) {
	for {
		if c.lo < k && k <= c.hi {
			i := sort.Search(len(c.page), func(i int) bool { return c.page[i].key >= k }) - 1
			if i >= 0 {
				return c.page[i], true
			}
			if c.lo == c.b.prefix {
				return etcdPair{}, false
			}
			k = c.lo
		}
		if k <= c.b.prefix || !c.fetchDown(k) {
			return etcdPair{}, false
		}
	}
}

// fetchUp reads the page of keys from k upwards.
func (c *etcdCursor) fetchUp(k string) bool {
	t := c.b.t
	if t.err != nil {
		return false
	}
	ctx, cancel := t.e.ctx()
	defer cancel()
	resp, err := t.e.cli.Get(ctx, k, clientv3.WithRange(c.end), clientv3.WithRev(t.rev),
		clientv3.WithLimit(etcdPageSize), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	t.e.reads.Add(1)
	if err != nil {
		t.fail("read "+c.b.name, err)
		return false
	}
	c.page = c.page[:0]
	for _, kv := range resp.Kvs {
		c.page = append(c.page, etcdPair{string(kv.Key), kv.Value})
	}
	c.lo, c.hi = k, c.end
	if resp.More && len(c.page) > 0 {
		c.hi = c.page[len(c.page)-1].key + "\x00"
	}
	return true
}

// fetchDown reads the page of keys below k, downwards.
func (c *etcdCursor) fetchDown(k string) bool {
	t := c.b.t
	if t.err != nil {
		return false
	}
	ctx, cancel := t.e.ctx()
	defer cancel()
	resp, err := t.e.cli.Get(ctx, c.b.prefix, clientv3.WithRange(k), clientv3.WithRev(t.rev),
		clientv3.WithLimit(etcdPageSize), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	t.e.reads.Add(1)
	if err != nil {
		t.fail("read "+c.b.name, err)
		return false
	}
	n := len(resp.Kvs)
	c.page = c.page[:0]
	for i := n - 1; i >= 0; i-- {
		c.page = append(c.page, etcdPair{string(resp.Kvs[i].Key), resp.Kvs[i].Value})
	}
	c.lo, c.hi = c.b.prefix, k
	if resp.More && n > 0 {
		c.lo = c.page[0].key
	}
	return true
}
