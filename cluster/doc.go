// Package cluster is how Roomcast nodes that share one etcd cluster coordinate:
// which node holds what (a live session's ingest), what to do when a node dies,
// which node runs the cluster-wide jobs, and which nodes are alive with what
// load. The Coordinator interface has two implementations:
//
//   - Local: one process, in memory, no etcd. The embedded default (--store
//     bolt): holdings are a map, the node leads every name, Nodes lists itself,
//     nothing is ever lost while the process lives.
//   - Etcd: a node of a cluster (--store etcd). Everything it claims is bound to
//     one etcd lease per node (TTL DefaultTTL, 3 s), kept alive while the node
//     lives. A node that dies, or cannot reach etcd for a TTL, loses its lease,
//     and etcd deletes its keys: that is how the others learn it is gone.
//
// Wiring a cluster node:
//
//	cfg, err := cluster.EtcdConfig{Endpoints: "h1:2379,h2:2379,h3:2379", CACert: ...}.ClientConfig(log)
//	cli, err := clientv3.New(cfg)                       // the caller owns the client
//	coord, err := cluster.NewEtcd(ctx, cli, "/roomcast", nodeID, 0, log)
//	defer coord.Close()                                 // before cli.Close
//	go func() { <-coord.Done(); stopPublishers() }()    // session lost: see below
//	h, err := coord.Hold(ctx, "session/"+id, []byte(nodeID)) // *HeldError: another node ingests it
//	err = coord.WatchLost(ctx, "session/", onSessionLost)    // runs on every surviving node
//	go coord.Lead(ctx, "janitor", runJanitor)           // one janitor cluster-wide
//	err = coord.Update(ctx, cluster.NodeInfo{HTTPURL: ..., Load: ...})
//
// # Keys
//
// Etcd keeps everything under <prefix>/cluster/ (prefix is --etcd-prefix, the
// storage engine's data lives beside it):
//
//   - hold/<key>: a Hold, bound to the holder's lease. Its value is a state byte
//     ('H' held, 'R' being released), the holder's node ID (uvarint length, then
//     the bytes) and the caller's value.
//   - nodes/<id>: the node's NodeInfo as JSON, bound to its lease. NewEtcd
//     creates it only when absent: two live nodes never share an ID (a restarted
//     node waits, within its ctx, for its previous lease to expire).
//   - lead/<name>/<lease>: concurrency.Election candidates; the oldest leads.
//
// # Released or lost
//
// A held key disappears in two ways, and WatchLost must report only one. Release
// first rewrites the value with the released mark (keeping the lease), then
// deletes the key, each step conditional on the key's mod revision. A watcher
// sees every delete with its previous value (WithPrevKV): a previous value marked
// released is a release, anything else a loss (lease expiry or revocation). The
// two steps need not be atomic: a holder that dies between them leaves a marked
// key, and the lease's expiry deletes it as a release — which it was. Hold takes
// over a key that is marked released. Watching only the hold/ keys keeps the
// decision in the event itself, with no second key or read to race with.
//
// Losses between two watches (a watch cancelled by compaction or a member
// without leader) are found by reading the keys again and comparing with the last
// known set; a key released and deleted entirely within such a gap cannot be told
// from a lost one and is reported. WatchLost's fn must therefore be idempotent
// and check what it cleans up (it runs on every node anyway).
//
// # Session loss
//
// A node knows when its lease may have expired: it refreshes the lease every
// TTL/3 and notes when each answered refresh was sent; the server keeps the lease
// at least TTL past that moment. When that deadline (LeaseDeadline) passes
// without a newer answer, or etcd reports the lease gone, the node leaves the
// cluster on its own: Done closes, every Lead fn's ctx is cancelled, Hold and
// Update return ErrSessionLost, the lease is no longer refreshed and is revoked
// (best effort) so that others react at once. The caller must then stop what its
// holdings protected (its publishers: another node may take the sessions over)
// and may join again with a new NewEtcd. Leaving before the server expires the
// lease means a leader's fn is cancelled before another node can be elected.
// Killing one etcd member does not cause a loss: the client fails over to the
// other endpoints well within the TTL (give it every member's endpoint).
//
// # Goroutines
//
// Each Coordinator owns its goroutines: Etcd's liveness loop, one per
// WatchLost call, one per leadership term (watching the election key). Lead
// runs on the caller's goroutine. Close cancels them all and waits for them
// (fn of WatchLost or Lead must not call Close), then revokes the lease. The
// etcd client stays the caller's to close, after Close.
package cluster
