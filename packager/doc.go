// Package packager turns live publishes into CMAF and serves them: one set
// of fMP4 segments per track (init.mp4 written with mediacommon's fmp4; fragments by
// an allocation-free writer that tests prove byte-identical to mediacommon's
// fmp4.Part.Marshal)
// feeds Low-Latency HLS (packager/hls, gohlslib's playlist package), a dynamic DASH
// MPD (packager/dash, Eyevinn/dash-mpd) and, through the per-session index
// (packager/timeline), the VOD archive.
//
// Flow: cmd calls Attach for every publish whatever its mode (the stream is
// packaged at once, as a preview in Dir/.preview/; the VOD records every session,
// the mode only decides what live viewers get) and Bind when control makes the
// publish a live session. A session starts with the key frame that starts the GOP
// in progress when it went LIVE — for a resume (Bind before Attach) the first key
// frame its publisher sent, as Attach adds its hub reader before the publisher
// writes its first units. At its next part or segment start, the segmenter
// goroutine adopts that GOP's preview segments (from the last one that starts
// with a key frame through the one in progress) into Dir/{roomUuid}/{sessionNo}/:
// hard links, so the preview paths stay valid and the open files of the segment
// in progress keep writing into the session's; complete ones are fsynced, the
// directory synced, then they are indexed in index.jsonl, and the live window is
// re-pointed (new segment values). Later segments are written there directly. A
// RecordOnly session (mode=RTMP) is recorded the same way but its /live/ URLs
// answer 404.
//
// Archiving: the Packager owns the media directory and builds the VOD archiver
// (packager/vod) in Initialize. cmd calls Archive when a room ends (and at start
// for rooms a previous run left ARCHIVING) and DeleteRoom when a room is deleted;
// outcomes go back through VODFinished and VODExpired. An archive job first waits
// on the done channel of every stream bound to the room, closed once the stream
// ended and its last segment and index end are written (at most 30 s, then what
// is on disk is archived), so the archive reads only complete session files.
//
// Playback (playback.go): one handler tree serves /live/, /vod/, /watch/ and
// /time, with one room-path parser, one token check (authorize), one room lookup
// (RoomInfo, read at every request so that a state change is seen at once;
// ErrRoomNotFound answers 404) and one table of cache policies (immutable for
// init and media segments, no-cache or private for manifests and pages). The
// token's member is the viewer: every authorized /live/ request of a session
// (not /vod/, not /watch/) is reported to OnViewer, which cmd points at the
// viewer counter (packager/viewers; the packager does not import it).
//
// Ownership rules:
//   - One goroutine per attached stream (the hub reader's) runs the segmenter and
//     owns all files of that stream; the Packager owns that goroutine, a janitor
//     and the archiver, and Close waits for all of them (streams are flushed
//     before archiving stops).
//   - The segmenter publishes immutable timeline snapshots; HTTP handlers only read
//     snapshots and wait on a channel closed at every change, bounded in time and
//     number, and released at stream end and Close.
//   - Unit payloads (owned by ingest/hub, immutable) are referenced until the part
//     that holds them is marshaled, never modified.
//   - Each part is appended to its segment file before it is listed, and served
//     from there (page cache: one pread into a pooled buffer); complete segments
//     are served from disk with http.ServeContent. Nothing of a part stays in memory.
//   - Parts and segments are written to disk whole (one write per track per part);
//     a write error fails that stream loudly and leaves others alone.
//
// DASH is low-latency too: the MPD lists the segment in progress
// (availabilityTimeOffset, availabilityTimeComplete="false", ServiceDescription)
// and the handler sends it chunked, part by part as the segmenter appends them to
// the segment file, waiting on the same snapshot channel (bounded) as LL-HLS; the
// short first segment of a run and its continuation are one DASH segment, so
// every DASH segment starts with a key frame (packager/dash).
//
// Caveats: the live playlist needs one complete segment before it is served;
// preview files are deleted when they leave the live window or the stream ends (an
// adopted segment's preview link a live window's time after adoption; its session
// file stays). A session going LIVE from the preview may start up to one GOP before
// the start call (the GOP's key frame); if that key frame already left the live
// window (a window shorter than a GOP) the session starts at the next segment.
// Every publish costs packaging CPU, mode=RTMP ones included. GStreamer 1.22's
// dashdemux/dashdemux2 mis-seek in any live SegmentTimeline whose first listed
// segment is not at period time 0 (they add that segment's start to the seek
// target): requests whose User-Agent names GStreamer get an MPD that lists the
// live Period from its start (the stream keeps a compact history of the
// period's segments; the window is still all that is served).
package packager
