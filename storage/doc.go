// Package storage is Roomcast's store: apps, members, stream keys, rooms and the
// event outbox, with the indexes the control plane and ingest look records up by.
//
// # Engines
//
// The typed Tx methods work on bbolt's model, ordered buckets with sequences
// (kv.go), which two engines provide:
//
//   - bbolt (Open): one file, default <data>/roomcast.db, one process. Everything
//     below describes it unless it says otherwise.
//   - etcd (OpenEtcd): the same buckets as keys below one prefix of an etcd
//     cluster, shared by several processes (etcd.go has the layout). A transaction
//     reads the snapshot of one revision; a write transaction buffers its writes
//     and commits them in one etcd Txn compared on a single commit key, so write
//     transactions are serializable cluster-wide. When another process committed
//     first, Update runs its closure again on a new snapshot (fresh IDs it
//     assigned are reset): closures must derive everything from the
//     transaction, which they do. The read cache is kept exact by a watch of the
//     prefix (etcd_watch.go). Backup, check and the damage handling below are
//     bbolt's; etcd has etcdctl snapshot and its own checks.
//
// The test suite runs on either (package storagetest, ROOMCAST_TEST_STORE).
//
// # Transactions
//
// Store.View and Store.Update run a closure with a *Tx, in the shape of bbolt's
// own DB.View/DB.Update. Update transactions are serialized (one writer at a
// time) and run concurrently with any number of View transactions. Returning an
// error from the closure rolls everything back and Update returns that error;
// returning nil commits. Each committed Update is fsynced before Update returns
// (bbolt's default, kept here): after Update returns nil the change survives a
// crash or power loss. Options.NoSync disables that for tests and benchmarks
// only.
//
// Typed Tx methods keep every index consistent with its records: callers never
// touch bbolt directly. Put* methods insert when the record's ID is 0 (the ID is
// assigned from the bucket's sequence, so IDs increase with creation time) and
// replace otherwise. Write methods on a View transaction return ErrReadOnly.
// Lookups return ErrNotFound; a unique index already held by another record
// makes a Put return ErrConflict.
//
// # Ownership rules
//
//   - Records returned by a Tx are decoded copies: callers own them, may keep them
//     after the transaction and may modify them, slices included (records served by
//     the read cache are cloned: no slice is shared with the cache or with another
//     caller). Nothing aliases bbolt memory.
//   - A *Tx is valid only inside its closure and must not be used from another
//     goroutine.
//   - Put* methods set the ID of the record they receive on insert and reset it to
//     0 if the Put fails, so the caller can retry with the same value.
//   - ForEach* callbacks must not put records of the kind being walked (bbolt
//     cursors do not survive writes to their bucket); ForEachPublishingKey is the
//     exception, it collects IDs first so boot recovery can update each key.
//   - Events go out after commit: register delivery with Tx.OnCommit, or read the
//     outbox with ForEachEventAfter from the delivery loop.
//   - Soft delete: a room with State "DELETED" keeps its entries in the unique and
//     creation-order indexes (ForEachRoomOf* walks and CountRoomsOf* include it and
//     callers filter); the list indexes of ListRooms drop it.
//   - Only this package imports bbolt; it imports nothing else of Roomcast.
//
// # Read cache
//
// Read transactions look rooms, apps, members, stream keys and chat rooms up by ID
// through a bounded cache of decoded records (Options.CacheRecords per kind,
// default 4096, clock eviction; cache.go). Absence is cached too (a room without a
// chat room). Lookups through an index (RoomByUUID, AppByAPIKey,
// MemberByAppUserID, StreamKeyBySecret) read the index from bbolt and the record
// through the cache; ForEach walks decode from bbolt and do not fill it.
//
// Guarantee: a cached lookup returns exactly what decoding from the transaction's
// own snapshot would return. Hence a View that begins after Update returned sees
// that commit, a View sees one consistent snapshot across cached and uncached
// reads, and a goroutine's successive Views never go back in time (bbolt's own
// guarantees, unchanged). It holds because of the bbolt transaction ID used as a
// clock: an entry records the snapshot it was read at and serves only
// transactions whose snapshot is the same or newer; a Put deletes the entry
// inside the write transaction, before commit, and from then on refuses fills
// from snapshots older than that write (the check and the insert are atomic with
// the deletion). Write transactions bypass the cache (they see their own writes
// and may roll back), so a rolled-back write never reaches it; a rollback only
// lifts the fill refusal again. The cache is in-process: a second process on the
// same file is impossible (flock).
//
// # Bucket layout
//
// All integers in keys are 8-byte big-endian, so bbolt's byte order is numeric
// order. Values are JSON (codec.go; zero fields omitted, see records.go) except
// where noted. "seq" means the bucket's NextSequence.
//
//	bucket                  key                               value
//	----------------------  --------------------------------  -------------------------------
//	meta                    "schemaVersion"                   uint64 (big-endian)
//	                        "installSecret"                   32 random bytes
//	                        any other string (PutMeta)        caller's bytes
//	apps                    appID (seq)                       App
//	apps_by_key             apiKey bytes                      appID        (unique)
//	members                 memberID (seq, global)            Member
//	members_by_user         appID | appUserId bytes           memberID     (unique)
//	stream_keys             keyID (seq)                       StreamKey
//	stream_keys_by_secret   SHA-256(secret) (32 bytes)        keyID        (unique)
//	stream_keys_publishing  keyID                             empty  (Publishing == true)
//	rooms                   roomID (seq)                      Room
//	rooms_by_uuid           uuid bytes                        roomID       (unique)
//	rooms_by_app            appID | roomID                    empty  (creation order)
//	rooms_by_member         appID | memberID | roomID         empty  (MemberID != 0)
//	rooms_list_created      scope | combo | roomID            lower-cased title (ACTIVE rooms)
//	rooms_list_modified     scope | combo | lastMod | roomID  lower-cased title (ACTIVE rooms)
//	rooms_list_count        scope | combo                     uint64 count of ACTIVE rooms
//	events                  seq                               Event (outbox)
//
// Stream-key lookups hash the presented secret, find the ID without a scan and
// compare the stored secret in constant time. Rotating a secret (PutStreamKey with
// a new Secret) removes the old index entry in the same transaction, as renaming
// an app key, appUserId or room UUID does for theirs.
//
// # Room lists
//
// Tx.ListRooms serves GET video-rooms without reading every room (tx_room_list.go).
// scope is appID | memberID, memberID 0 being the app-wide scope; combo is
// videoRoomState 0x00 type 0x00 accessLevel 0x00; lastMod is 12 bytes (Unix
// seconds with the sign bit flipped, then nanoseconds), so byte order is time
// order. Each ACTIVE room has one entry per index in its app's scope and one in
// its owner's; a soft-deleted room has none. A query reads its scope's counters
// (at most states × types × access levels of them), keeps the combos its filters
// match, sums their counts for the total and merges one cursor per combo in the
// requested order (ties of lastModifiedAt by ID, in the same direction). A page
// thus costs one seek per matching combo, offset + page size index steps (keys
// only) and page size record reads. A keyword (case-insensitive substring of the
// title, which no index orders) steps through every entry of the matching combos
// but reads only keys and the title in the value, never a record. Measured at
// 10 000 rooms: see BENCHMARKS.md.
//
// Buckets written mostly in key order (records, room lists, events) are filled to
// 90 % per page instead of bbolt's 50 %, which halves the file for append-heavy
// use; the list indexes too (entries are added at the end of their range). Measured
// (TestHundredThousandRooms): 100 000 rooms take 115 MiB, 81 MiB of them before
// the list indexes.
//
// # Schema versions
//
// Open runs, in one transaction, every entry of the migrations table newer than
// meta/schemaVersion and records each version; version 1 creates all buckets,
// 2 the chat buckets, 3 the webhook deliveries, 4 the room list indexes (filled
// from the rooms already stored), 5 the chat moderation buckets (forbidden words,
// mutes; tx_chat_moderation.go), 6 the chat rooms by channel key (filled from
// the chat rooms already stored; tx_chat_channel.go). A
// file written by a newer binary is refused. Add a migration by appending
// {version: N+1, up: func(*bbolt.Tx) error}; never edit a released one. The same
// first transaction creates the install secret (Store.InstallSecret) if absent.
//
// # Files and locking
//
// Open creates the parent directory (0700) and the file (0600) and takes an
// exclusive flock; a second process waits Options.LockTimeout (default 1 s) and
// then fails with ErrLocked. Package storagetest opens throwaway stores for tests.
//
// # Damaged files
//
// bbolt trusts its file: a damaged page makes it panic inside a transaction and a
// file shorter than its pages makes the memory map fault. So:
//
//   - Open refuses, with a *CorruptError (errors.Is ErrCorrupt) naming the file and
//     what is wrong, an existing 0-byte file (bbolt would silently make it a new
//     store), a file shorter than the pages its newest valid meta page counts
//     (checked before bbolt maps it), meta pages bbolt rejects, and anything
//     bbolt's consistency check (Tx.Check: every page reachable once, page types,
//     key order) reports, at most ten problems. The check reads every page:
//     measured 15 ms at 10 000 rooms and 110 ms at 100 000 (BenchmarkOpenCheck);
//     Options.SkipCheck skips it.
//   - View and Update run with memory faults turned into panics
//     (debug.SetPanicOnFault) and recover a panic raised inside bbolt into a
//     *CorruptError: the transaction fails (an Update rolls back), the process and
//     every other transaction go on. A panic of the caller's own closure is a bug,
//     not damage, and is raised again. A stored record that does not decode is
//     damage too (ErrCorrupt).
//   - Check verifies a file offline and read-only (`roomcast check`).
//   - Store.Backup writes a consistent copy from one read transaction (bbolt's
//     Tx.WriteTo) while writers go on; BackupFile does the same for a file no
//     process has open (`roomcast backup`).
//
// A commit that cannot grow the file (ENOSPC, EDQUOT, EFBIG, or Options.MaxSize)
// fails with an error matching ErrFull; nothing of the transaction is written.
package storage
