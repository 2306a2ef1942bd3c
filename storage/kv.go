package storage

import (
	bolt "go.etcd.io/bbolt"
)

// The typed Tx methods read and write through the small ordered key/value model
// below, which both engines provide: bbolt (one file, the embedded default) and
// etcd (a cluster; etcd.go). It is bbolt's own bucket model, so the bbolt engine
// is a thin wrapper.

// bucket is one named, ordered key/value space with a sequence.
type bucket interface {
	// Get returns the value of key, nil when absent. The slice is valid for the
	// transaction only.
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Sequence() uint64
	SetSequence(v uint64) error
	NextSequence() (uint64, error)
	Cursor() cursor
	// ForEach calls fn for each key in order until fn returns an error.
	ForEach(fn func(k, v []byte) error) error
}

// cursor walks a bucket in key order. Every method returns the key and value it
// lands on, or nil, nil past either end.
type cursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Seek(seek []byte) (key, value []byte)
	Next() (key, value []byte)
	Prev() (key, value []byte)
}

// kvTx is one engine transaction.
type kvTx interface {
	// Bucket returns the bucket name, nil when no migration created it.
	Bucket(name []byte) bucket
	CreateBucketIfNotExists(name []byte) (bucket, error)
	Writable() bool
	// Snapshot orders transactions for the read cache: a write transaction's value
	// is greater than the snapshot of every read transaction that cannot see its
	// writes, and a read transaction's value is at least that of every write it
	// sees (bbolt: the transaction ID; etcd: the revision).
	Snapshot() uint64
	// Cacheable reports whether the read cache may serve this read transaction
	// (etcd: the watch has reached its snapshot).
	Cacheable() bool
	OnCommit(fn func())
}

// appendFill is the page fill factor for buckets whose keys mostly grow (records
// keyed by sequence, creation-ordered lists, the outbox). bbolt's default of 0.5
// leaves half of every page empty under appends: 100 000 rooms took twice the space.
const appendFill = 0.9

// boltTx is the bbolt engine's transaction.
type boltTx struct{ tx *bolt.Tx }

func (t boltTx) Bucket(name []byte) bucket {
	b := t.tx.Bucket(name)
	if b == nil {
		return nil
	}
	return boltBucket{b}
}

func (t boltTx) CreateBucketIfNotExists(name []byte) (bucket, error) {
	b, err := t.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return boltBucket{b}, nil
}

func (t boltTx) Writable() bool     { return t.tx.Writable() }
func (t boltTx) Snapshot() uint64   { return uint64(t.tx.ID()) }
func (t boltTx) OnCommit(fn func()) { t.tx.OnCommit(fn) }
func (t boltTx) Cacheable() bool    { return true }

// boltBucket is a bbolt bucket.
type boltBucket struct{ *bolt.Bucket }

func (b boltBucket) Cursor() cursor { return b.Bucket.Cursor() }
