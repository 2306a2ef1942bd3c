package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NodeInfo is what a node publishes about itself (Update) and what Nodes lists.
type NodeInfo struct {
	ID      string `json:"id"`
	HTTPURL string `json:"httpUrl"`
	RTMPURL string `json:"rtmpUrl"`
	// NodeURL is where the other nodes fetch this node's live sessions from
	// (--node-url): its own address, not a load balancer's.
	NodeURL    string `json:"nodeUrl"`
	Publishers int    `json:"publishers"` // sessions this node ingests
	Viewers    int    `json:"viewers"`
	// Sessions are the live sessions this node ingests, "roomUuid/sessionNo".
	Sessions  []string  `json:"sessions"`
	Load      float64   `json:"load"` // 0..1, what admission uses
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	// NodeRTMPURL is where the other nodes pull this node's live sessions from
	// for their RTMP players (--node-rtmp-url).
	NodeRTMPURL string `json:"nodeRtmpUrl"`
}

// Coordinator is what nodes of one cluster agree on: exclusive claims (Hold),
// reports of claims whose node died (WatchLost), one leader per name (Lead) and
// the list of live nodes (Update, Nodes). Local is the one-process
// implementation, Etcd the cluster one. All methods may be called from several
// goroutines.
type Coordinator interface {
	// NodeID is this node's ID, unique among the live nodes.
	NodeID() string

	// Hold claims key for this node for as long as the node lives, with value
	// as what others see (Held, HeldError, WatchLost). When the key is held
	// already — by another node or by this one — it returns a *HeldError
	// (errors.Is ErrHeld) naming the holder and its value.
	Hold(ctx context.Context, key string, value []byte) (Holding, error)

	// Held returns the keys under prefix held now, with their values: what a
	// booting node compares with its records to sweep claims whose holder is
	// gone.
	Held(ctx context.Context, prefix string) (map[string][]byte, error)

	// WatchLost calls fn(key, value) for each key under prefix that stops being
	// held without its holder releasing it: the holder's node died, lost etcd
	// for longer than its TTL or closed its Coordinator with the key still held.
	// A Release never fires it. fn runs on every node watching (make its
	// reaction idempotent), one call at a time, in the order of the losses,
	// on a goroutine of the Coordinator; it must not block for long nor call
	// Close. Losses are reported from the moment WatchLost returns nil until ctx
	// ends or Close.
	WatchLost(ctx context.Context, prefix string, fn func(key string, value []byte)) error

	// Lead campaigns to be the one leader of name cluster-wide and runs fn while
	// it is. fn's ctx is cancelled when leadership is lost (or ctx ends, or
	// Close); Lead then campaigns again once fn returned. When fn returns on its
	// own while still leader, Lead resigns and returns nil. Lead blocks: it
	// returns when ctx ends (nil), on Close (ErrClosed) or when this node's
	// session is lost (ErrSessionLost). One fn per name runs at a time, also
	// among Lead calls of the same node.
	Lead(ctx context.Context, name string, fn func(ctx context.Context)) error

	// Update publishes info as this node's NodeInfo (ID and StartedAt are set
	// by the Coordinator, UpdatedAt to now). The node is listed from the start,
	// with only ID and StartedAt until the first Update.
	Update(ctx context.Context, info NodeInfo) error

	// Nodes lists the live nodes, sorted by ID.
	Nodes(ctx context.Context) ([]NodeInfo, error)

	// Done is closed when this node is no longer part of the cluster: its
	// session was lost (Etcd: no keepalive answered for about 2/3 of the TTL,
	// or the lease expired) or Close was called. Its holdings and leaderships
	// are then gone or about to be; the caller must stop what they protect
	// (publishers) and may start a new Coordinator.
	Done() <-chan struct{}

	// Close leaves the cluster gracefully: it ends Lead and WatchLost, waits
	// for their goroutines and drops every holding of this node (for Etcd:
	// revokes the lease; other nodes' WatchLost report the keys still held).
	Close() error
}

// Holding is a held key.
type Holding interface {
	// Key is the held key.
	Key() string
	// Release gives the key up: it is no longer held, and WatchLost does not
	// report it. Releasing again is a no-op; releasing a key that was lost
	// meanwhile returns ErrNotHeld.
	Release(ctx context.Context) error
}

// Errors of the Coordinators.
var (
	// ErrHeld is what a *HeldError is (errors.Is).
	ErrHeld = errors.New("cluster: key held")
	// ErrNotHeld is returned by Release when the key was lost before.
	ErrNotHeld = errors.New("cluster: key no longer held")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("cluster: coordinator closed")
	// ErrSessionLost is returned after Done closed without Close: this node's
	// lease is gone.
	ErrSessionLost = errors.New("cluster: session lost")
	// ErrNodeIDInUse is returned by NewEtcd when a live node has the same ID.
	ErrNodeIDInUse = errors.New("cluster: node ID in use by a live node")
)

// HeldError is Hold's error when the key is held already.
type HeldError struct {
	Key   string
	Node  string // the holder's NodeID
	Value []byte // the holder's value
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("cluster: %q is held by node %q", e.Key, e.Node)
}

// Unwrap makes errors.Is(err, ErrHeld) hold.
func (e *HeldError) Unwrap() error { return ErrHeld }
