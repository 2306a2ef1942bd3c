// Package packager turns live publishes into CMAF and serves them (SPEC §6): one set
// of fMP4 segments per track (init.mp4 written with mediacommon's fmp4; fragments by
// an allocation-free writer that tests prove byte-identical to mediacommon's
// fmp4.Part.Marshal)
// feeds Low-Latency HLS (packager/hls, gohlslib's playlist package), a dynamic DASH
// MPD (packager/dash, Eyevinn/dash-mpd) and, through the per-session index
// (packager/timeline), the VOD archive.
//
// Flow: cmd calls Attach for every CMAF / RTMP_CMAF publish (the stream is packaged
// at once, as a preview in Dir/.preview/) and Bind when control makes the publish a
// live session; from the next segment on, files go to Dir/{roomUuid}/{sessionNo}/
// and are appended to its index.jsonl. Handler serves /live/, /watch/, /time and
// (later) /vod/.
//
// Ownership rules:
//   - One goroutine per attached stream (the hub reader's) runs the segmenter and
//     owns all files of that stream; the Packager owns that goroutine and a janitor,
//     and Close waits for both.
//   - The segmenter publishes immutable timeline snapshots; HTTP handlers only read
//     snapshots and wait on a channel closed at every change, bounded in time and
//     number, and released at stream end and Close.
//   - Unit payloads (owned by ingest/hub, immutable) are referenced until the part
//     that holds them is marshaled, never modified.
//   - The segment in progress is kept in memory (its parts are served from there);
//     complete segments are served from disk with http.ServeContent.
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
// preview files are deleted when they leave the live window or the stream ends;
// GStreamer 1.22's dashdemux/dashdemux2 mis-seek in any live SegmentTimeline
// whose first listed segment is not at MPD time 0 (they add that segment's start
// to the seek target), so they do not play our sliding-window live MPD (VOD is fine).
package packager
