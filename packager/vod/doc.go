// Package vod archives the live sessions of ended rooms as VODs and opens their
// files for playback: HLS (EXT-X-PLAYLIST-TYPE:VOD, EXT-X-ENDLIST,
// EXT-X-DISCONTINUITY between sessions), a static DASH MPD (one Period per
// session, more where a session itself had a discontinuity) and a progressive
// MP4 download. The packager builds the Archiver, owns it and serves what Open
// returns (tokens, room states and cache policies are the packager's).
//
// Archiving is cheap: the live CMAF segments already on disk are the VOD. Build
// reads each session's index.jsonl (packager/timeline), checks that the files it
// lists exist whole, recovers the segments a crash left un-indexed (cut at their
// last complete fMP4 fragment), renumbers segments and init versions across
// sessions into one timeline.Timeline, and saves it as {room}/vod.json (written
// to a temp file, fsynced, renamed, directory fsynced). Playlists and the MPD are
// rendered from it by packager/hls and packager/dash on request, with the
// viewer's token in every URI.
//
// download.mp4 is a progressive MP4 (ftyp, moov, mdat) computed from the fMP4
// fragments' moof boxes; the mdat is streamed from the segment files in place
// (one chunk per fragment, interleaved per part), so nothing of the media is
// loaded into memory. The sample entries (stsd) are those of the init segments
// written by mediacommon's fmp4.Init, one entry per distinct codec configuration,
// so a session that resumes with other codec parameters stays decodable.
//
// Ownership rules:
//   - The Archiver owns its worker and janitor goroutines; Close stops and waits
//     for them. Jobs of one room never run concurrently (archive, delete).
//   - A Manifest is immutable once built; the cache hands the same one to every
//     request. An mp4Layout is immutable once built; each request reads it through
//     its own mp4File.
//   - The packager owns the session directories while they are written; an
//     archive job first calls WaitWritten, which returns once the room's streams
//     have ended and flushed (or after 30 s).
//   - A File returned by Open holds open files until its Close.
//
// Caveats: the MP4 needs the same timescale per track in every session (sessions
// that differ are left out of the MP4, not of HLS/DASH); the gaps between sessions
// are removed in the DASH and MP4 timelines and shown as discontinuities in HLS.
package vod
