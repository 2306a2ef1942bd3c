// Package viewers counts the concurrent viewers of live rooms, as Mux and AWS
// IVS show them: an HLS/DASH viewer (one member, whatever the number of its
// players or requests) counts while its last live playback request is less than
// Window (30 s) old; an RTMP relay player counts while it is connected (Join,
// Leave). The count of a room is sampled once per Interval (1 s) into its current
// value, its peak since Begin and a Prometheus gauge; OnPeaks receives the
// peaks that rose, at most once per PeakInterval (30 s), for the owner to store.
//
// The data structure is chosen for O(1) work per playback request and bounded
// memory per live room:
//
//   - Exact mode (up to ExactLimit, 1024, distinct viewers in the window): a map
//     member → the clock tick (Interval) of its last request. A request is one map
//     write (no allocation once the member is known); the sampler drops the
//     entries older than the window and counts the rest. The count is exact and
//     a viewer drops out Window after its last request (to the tick).
//   - Sketch mode (a room whose map would grow past ExactLimit): a time-bucketed
//     HyperLogLog (github.com/axiomhq/hyperloglog, precision 14: ±0.8 %). The
//     window is cut into 6 buckets (5 s each) plus the one in progress, each a
//     dense 16 KiB sketch; a request is one register update in the bucket of
//     now, and the sampler merges the last 7 buckets into one scratch sketch and
//     estimates. A viewer then counts for 30 to 35 s after its last request. A
//     room stays in sketch mode until its broadcast ends (the sketch is accurate at
//     small counts too); the entries of the map move to their buckets when it
//     switches, so no viewer is lost.
//
// A time-bucketed exact set alone would grow with the audience; a HyperLogLog alone
// cannot forget a viewer (hence the buckets) and costs 112 KiB per room even for
// three viewers (hence the map first). Counting once per second in the sampler,
// not per request, keeps the request path to a map or register write and lets
// the room JSON read two atomics.
//
// Ownership rules:
//   - A Counter owns one goroutine, the sampler: Initialize starts it, Close stops
//     it and waits. Whoever creates the Counter (cmd) closes it.
//   - Only rooms between Begin and End are counted (See for another room is a
//     no-op): the memory and the gauge's label set are bounded by the live rooms.
//     End removes the room and its gauge series.
//   - See, Join, Leave and Viewers are safe for concurrent use and never block on
//     anything but a short per-room (See) or per-counter (Join, Leave) mutex; the
//     sampler holds a room's mutex while it counts that room (at most ExactLimit
//     map entries or 7 sketch merges).
//   - The request path reads the clock from an atomic tick the sampler advances:
//     a request is filed under the tick of the last sample (at most one Interval
//     old).
package viewers
