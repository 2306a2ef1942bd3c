// Package timeline is the data model shared by the packager's segmenter, its HLS and
// DASH renderers and the VOD archive: tracks, init versions, segments and parts of
// one live session, plus the append-only per-session index file (index.jsonl) that
// lets the VOD reuse the live segments on disk without copying them.
//
// Ownership rules:
//   - Values reachable from a Timeline are immutable once published: the segmenter
//     builds a new Timeline for every change and never mutates an old one, so
//     renderers and HTTP handlers read them without locks.
//   - Parts hold no bytes: a part is appended to its segment file before it is
//     listed, and is read back from that file at [Offset, Offset+Size), in the
//     segment in progress as in complete ones (the page cache serves it; the heap
//     holds no media per stream beyond the part being written).
//   - IndexWriter is used by one goroutine (the session's segmenter). ReadIndex
//     tolerates a truncated last line (a crash while appending).
//
// On-disk layout of a bound session, <media>/{roomUuid}/{sessionNo}/:
//
//	index.jsonl              one JSON object per line: "version" then "segment" records
//	{track}_init{v}.mp4      fMP4 init segment of init version v (one track)
//	{track}_{msn}.m4s        fMP4 media segment msn (one track; one moof+mdat per part)
//
// Track names are "video{ID}" / "audio{ID}" after the hub track ID.
package timeline
