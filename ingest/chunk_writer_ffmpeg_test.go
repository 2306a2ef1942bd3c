package ingest

import (
	"encoding/binary"
	"testing"

	"github.com/roomcast/roomcast/ingest/flv"
)

// ffmpegWriter encodes messages into chunks exactly as ffmpeg's
// ff_rtmp_packet_write (libavformat/rtmppkt.c) does: a type-0 header for the first
// message of a chunk stream, another message stream or a timestamp going back;
// otherwise the delta, with type 1 when type or length change, type 3 when the
// 24-bit timestamp field equals the previous one, type 2 else. A field of 0xffffff
// (timestamp or delta ≥ 0xffffff) is followed by the 32-bit value after the header
// — and after every type-3 header of the message's continuation chunks (RTMP spec
// §5.3.1.3), which go-rtmp v0.0.7 does not read. Its rtmpproto.c rtmp_write also
// forces a type-0 header for a data message and for media at timestamp 0 (reset).
// absolute writes every message with a type-0 header (a timestamp ≥ 0xffffff then
// puts an extended timestamp after every continuation header).
type ffmpegWriter struct {
	b         []byte
	chunkSize int
	absolute  bool
	// noExt3 leaves out the extended timestamps after type-3 headers (go-rtmp's
	// way): what the guard must hand on for the same messages.
	noExt3 bool
	prev   map[int]*ffChannel
	ext3   int      // extended timestamps written after type-3 headers
	ts     []uint32 // timestamp of each message written
}

type ffChannel struct {
	typ               byte
	size, ts, tsField uint32
	extra             uint32
}

func newFFmpegWriter() *ffmpegWriter {
	return &ffmpegWriter{chunkSize: defaultPeerChunkSize, prev: map[int]*ffChannel{}}
}

// reset forgets a channel's history (rtmp_write: prev_pkt[…].channel_id = 0).
func (w *ffmpegWriter) reset(csid int) { delete(w.prev, csid) }

func (w *ffmpegWriter) write(msgs ...rtmpMsg) *ffmpegWriter {
	for _, m := range msgs {
		w.packet(m)
	}
	return w
}

func (w *ffmpegWriter) basic(mode byte, csid int) {
	switch {
	case csid < 64:
		w.b = append(w.b, mode<<6|byte(csid))
	case csid < 320:
		w.b = append(w.b, mode<<6, byte(csid-64))
	default:
		w.b = append(w.b, mode<<6|1, byte(csid-64), byte((csid-64)>>8))
	}
}

func (w *ffmpegWriter) packet(m rtmpMsg) {
	size := uint32(len(m.body))
	prev := w.prev[m.csid]
	useDelta := !w.absolute && prev != nil && m.msid == prev.extra && m.ts >= prev.ts
	ts := m.ts
	if useDelta {
		ts -= prev.ts
	}
	field := min(ts, 0xffffff)
	mode := byte(0)
	if useDelta {
		mode = 1
		if m.typ == prev.typ && size == prev.size {
			mode = 2
			if field == prev.tsField {
				mode = 3
			}
		}
	}
	w.basic(mode, m.csid)
	if mode != 3 {
		w.b = put24(w.b, field)
		if mode != 2 {
			w.b = put24(w.b, size)
			w.b = append(w.b, m.typ)
			if mode == 0 {
				w.b = binary.LittleEndian.AppendUint32(w.b, m.msid)
			}
		}
	}
	if field == 0xffffff && (mode != 3 || !w.noExt3) {
		w.b = binary.BigEndian.AppendUint32(w.b, ts)
		if mode == 3 {
			w.ext3++
		}
	}
	w.ts = append(w.ts, m.ts)
	w.prev[m.csid] = &ffChannel{typ: m.typ, size: size, ts: m.ts, tsField: field, extra: m.msid}
	for off := 0; off < len(m.body); {
		n := min(w.chunkSize, len(m.body)-off)
		w.b = append(w.b, m.body[off:off+n]...)
		if off += n; off < len(m.body) {
			w.basic(3, m.csid)
			if field == 0xffffff && !w.noExt3 {
				w.b = binary.BigEndian.AppendUint32(w.b, ts)
				w.ext3++
			}
		}
	}
	if m.typ == msgSetChunkSize && len(m.body) >= 4 {
		w.chunkSize = int(binary.BigEndian.Uint32(m.body))
	}
}

// ffmpegPublishSession is the chunk stream (after the handshake) of ffmpeg
// publishing tags to key: connect, Set Chunk Size, the publish commands on chunk
// stream 3, then every tag on chunk stream 8 (RTMP_SOURCE_CHANNEL) of message stream
// 1, script tags as @setDataFrame, then FCUnpublish and deleteStream. tsOffset is
// added to the timestamps of audio and video (ffmpeg -output_ts_offset; its FLV
// muxer writes onMetaData at 0); w.ts records the timestamps go-rtmp must read.
func ffmpegPublishSession(t testing.TB, w *ffmpegWriter, key string, tags []flv.Tag, chunkSize, tsOffset uint32) []byte {
	w.write(commandMsg(t, 0, "connect", 1.0, map[string]any{"app": "live"})) // one key: the same bytes each time
	if chunkSize != defaultPeerChunkSize {
		w.write(setChunkSizeMsg(chunkSize))
	}
	w.write(commandMsg(t, 0, "releaseStream", 2.0, nil, key),
		commandMsg(t, 0, "FCPublish", 3.0, nil, key),
		commandMsg(t, 0, "createStream", 4.0, nil),
		commandMsg(t, 1, "publish", 5.0, nil, key, "live"))
	for _, tg := range tags {
		m := rtmpMsg{csid: 8, typ: tg.Type, msid: 1, ts: tg.Timestamp + tsOffset, body: tg.Data}
		if tg.Type == flv.TagScript {
			m.typ, m.ts, m.body = msgDataAMF0, tg.Timestamp, amfBody(t, "@setDataFrame", tg.Data)
		}
		if m.typ == msgDataAMF0 || m.ts == 0 {
			w.reset(8)
		}
		w.write(m)
	}
	w.write(commandMsg(t, 0, "FCUnpublish", 6.0, nil, key), commandMsg(t, 0, "deleteStream", 7.0, nil, 1.0))
	return w.b
}
