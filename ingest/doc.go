// Package ingest is the RTMP side of Roomcast: the listener publishers (OBS, ffmpeg)
// push to, stream-key checks through OnPublishStart, FLV / Enhanced-RTMP tags turned
// into hub units (package ingest/flv), one hub.Stream per publish, and the RTMP relay
// to players (rtmp://host/play/{roomUUID}?streamingToken=…).
//
// Ownership rules:
//   - Server owns every goroutine it starts: the accept loop, one goroutine per
//     connection (go-rtmp's), one per RTMP player, a watchdog, the health sampler
//     (health_sampler.go) and, with Admission
//     set, whatever Admission.Start starts (the admission sampler), ended by the
//     Server's context and waited for with Admission.Wait. Close stops them all and
//     waits; OnPublishStop has then been called for every publish.
//   - A failed accept (EMFILE: out of descriptors) is retried by trackedListener
//     after a pause of 5 ms doubling to 1 s, logged at most once per 10 s: go-rtmp's
//     own loop would retry at once and spin a core.
//   - The callbacks (OnPublishStart, OnStreamReady, OnPublishStop, OnPlay,
//     OnPlayerStart, OnPlayerStop, OnCapacity) run on connection goroutines (OnPublishStop may run on the
//     goroutine of Close, OnCapacity on the admission sampler's); they must not
//     call back into Server.Close.
//   - Admission (an Admitter: package ingest/admission's Controller) refuses new
//     publishers while the process is overloaded; it never stops a live one. The
//     Server asks it Admit before taking a publish slot (after the MaxPublishers
//     check, with no lock held) and is its admission.Host: slots in use, each
//     publisher's admission.Backlog (updated atomically by the publisher's
//     connection goroutine on every media message), and OnCapacity. Admission
//     does not know the Server type.
//   - Every byte a peer sends passes the chunk guard (chunk_guard.go) inside
//     conn.Read before go-rtmp reads it. The guard parses the chunk stream as
//     go-rtmp v0.0.7 does except for one spec rule go-rtmp lacks — the extended
//     timestamp after a type-3 header, which it strips from the read (compacted in
//     place) so that go-rtmp stays in sync — checks the AMF0 of every command and data message
//     with flv.ValidateAMF0 before its last byte is handed on (go-amf0 allocates a
//     strict array by its declared count: 2^31-1 entries are a fatal 32 GiB), and
//     enforces MaxChunkSize, MaxMessageSize, 64 KiB per command/data message and
//     2×MaxMessageSize held by a connection's chunk streams when a chunk header
//     arrives. A refused read is not passed on at all: the connection ends
//     (INVALID_MEDIA for a publisher, logged with the reason). Media bytes are not
//     copied by the guard; it allocates nothing per chunk.
//   - What the server sends goes out in 4096-byte chunks (DefaultSendChunkSize),
//     announced with Set Chunk Size right after the handshake, before go-rtmp's write
//     goroutine has seen any write; go-rtmp's writer chunk size never changes after.
//   - The relay rebases timestamps per player (its first unit at 0): go-rtmp v0.0.7
//     writes no extended timestamp after type-3 headers, so a type-0 header at
//     ≥ 0xffffff ms followed by continuation chunks would desync ffmpeg and other
//     spec readers. After rebasing, go-rtmp's only type-0 headers (the first message
//     of each chunk stream) are near 0 and later ones carry deltas; the field reaches
//     0xffffff only for a 4 h 39 min gap between two messages of a track, or a
//     player timestamp going back (hub DTS do not per track).
//   - An RTMP player lives as long as the broadcast, not the publish: its connection
//     has no read deadline (liftReadLimit also clears the one its play command's
//     read set), and when the publisher drops its goroutine waits (RelayResumeWait)
//     for the stream ID to be published again — woken by Registry.Changed, asking
//     OnPlay every second — then goes on with the new stream, timestamps continuing
//     after the last one sent. When OnPlay says the broadcast is over it closes the
//     connection through go-rtmp, which first flushes the messages still being
//     written (go-rtmp's writes are asynchronous: closing the socket would cut the
//     last frames). No UnpublishNotify is sent: ffmpeg's RTMP client ends the
//     stream on it.
//   - In a cluster (Upstream and EdgeKey set), a player of a stream published on
//     another node is fed from a pull (relay_edge.go): one RTMP connection per
//     stream from this node to the node Upstream names, one goroutine owned by the
//     Server (counted in its connWG, ended by its context), shared by every local
//     player of the stream (counted by acquire/release: the last one leaving ends
//     it) and filling a hub.Stream that is not in Registry (a local publish of
//     the same stream ID never collides with it). The holder serves it as an edge
//     player: authorized by an HMAC credential under EdgeKey instead of a
//     streaming token, not a viewer, sent every sequence header before
//     NetStream.Play.Start, and closed when its stream ends; the pulling node's
//     players then look for the resume themselves (here or on any node). The pull
//     client (relay_edge_client.go) uses go-rtmp's handshake and its own chunk
//     reader (go-rtmp's ClientConn cannot play).
//   - Each message body is copied once out of go-rtmp into a fresh buffer that the
//     hub.Unit then owns (Payload aliases it); units are immutable once written.
//   - A publish's hub.Stream is registered in Registry under its
//     PublishGrant.StreamID's String when its tracks are known, and unregistered and
//     closed before OnPublishStop.
//   - Each publish has a health.Meter (package ingest/health) fed every unit it
//     writes to the hub (O(1), no allocation) and sampled once a second by the
//     Server's one health sampler for all publishes. Warnings raised or resolved
//     go to OnHealth from the sampler, and a stopping publish's active warnings
//     (resolved, PUBLISH_STOPPED) from finish before OnPublishStop; healthMu keeps
//     the two in order. Server.Health and Server.HealthHistory read a publish's
//     meter by stream ID; with Registerer set, a collector exports every live
//     meter at scrape time (roomcast_ingest_stream_*{stream_key_id}), so a
//     stream's series end with its publish. flashVer (connect) and onMetaData's
//     encoder are kept, cut at 256 bytes.
//   - The publish vocabulary — modes and their "?mode=" rule, stop reasons, capacity
//     event names, stream IDs — is package publish's, shared with control and cmd.
//
// Caveats: go-rtmp v0.0.7 reads no extended timestamp after type-3 headers; the
// chunk guard strips them (the whole story, and what a client that leaves them out
// meets, is on chunkGuard in chunk_guard.go). Abort messages change nothing.
// The guard refuses what go-rtmp cannot read deterministically (3-byte chunk basic
// headers, chunk stream IDs ≥ 320). A connection may send at most 16 createStream commands.
// Tracks are fixed when the stream starts (a track whose first sequence
// header arrives after the detection window is ignored); parameter-set changes on
// an existing track create a new *hub.Track with the same ID. Nothing in this
// package logs a stream key or streaming token.
package ingest
