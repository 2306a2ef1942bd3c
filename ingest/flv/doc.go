// Package flv reads FLV files and turns FLV / RTMP audio and video tag bodies into
// hub tracks and units.
//
// Two parts, usable on their own:
//
//   - Reader (and ReadFile, Writer) for FLV *files*: header + tags, as used by tests,
//     the load tool and the packager's tests:
//
//     r, err := flv.NewReader(f)
//     for { tag, err := r.Next(); if err == io.EOF { break } ... }
//
//   - Demuxer for tag *bodies* (from a file or from RTMP messages 8 and 9), classic
//     FLV (AVC, AAC; FLV spec v10.1 E.4.2, E.4.3) and Enhanced RTMP (ex-header form,
//     FourCC hvc1/av01/vp09/avc1 video and Opus/mp4a/... audio; "Enhanced RTMP v2",
//     veovera/enhanced-rtmp):
//
//     d := &flv.Demuxer{}
//     u, err := d.Push(tag) // u == nil for sequence headers, metadata, end of sequence
//     d.Video(), d.Audio()  // current tracks (nil until their sequence header)
//
// Ownership rules:
//   - Unit.Payload aliases Tag.Data whenever the data is already in MP4 sample format
//     (the usual case: 4-byte NAL lengths); the caller hands tag.Data over to the
//     Demuxer and must not reuse it. Units are then immutable (see ingest/hub).
//   - A Demuxer is not safe for concurrent use; one per publish.
//   - Tracks are immutable: a new sequence header with different parameters creates a
//     new *hub.Track with the same ID; Push returns units pointing at the new track.
//
// Errors: ErrInvalidConfig (a broken sequence header — the stream should end),
// ErrNoSequenceHeader (a frame before its sequence header — dropped),
// ErrUnsupportedCodec (the tag is ignored), ErrInvalidTag (a malformed frame — dropped).
// Timestamps that jump backwards or more than MaxTimestampJump forwards are repaired
// (counted in Repairs) so DTS stays monotonic per track.
package flv
