package vod

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
)

// movieTimeScale is the mvhd/tkhd/elst timescale of the progressive MP4.
const movieTimeScale = 1000

// mp4Layout is the progressive MP4 of an archive (ISO/IEC 14496-12): ftyp, moov
// and the mdat header are held in memory; the mdat payload is a list of chunks,
// each a byte range of a segment file (the samples of one fMP4 fragment), served
// in order. Nothing of the media is copied or loaded.
//
//	|ftyp|
//	|moov|
//	|    |mvhd|
//	|    |trak| per track: tkhd, edts/elst, mdia(mdhd, hdlr, minf(vmhd|smhd, dinf,
//	|    |    | stbl(stsd, stts, ctts, stss, stsc, stsz, stco|co64)))
//	|mdat| chunks, interleaved per part across tracks
type mp4Layout struct {
	header []byte
	files  []string // store names of the segment files
	sizes  []int64  // their sizes as listed in the manifest
	chunks []mp4Chunk
	size   int64
	// Duration is the presentation duration (longest track).
	duration time.Duration
	notes    []string
}

// mp4Chunk is one range of the mdat, read from files[file] at src.
type mp4Chunk struct {
	at   int64 // offset in the MP4
	src  int64
	size int64
	file int32
}

// mp4Track accumulates the sample tables of one track.
type mp4Track struct {
	meta      timeline.Track
	hdlr      []byte // boxes copied from the first init (written by mediacommon)
	media     []byte // vmhd or smhd
	dinf      []byte
	entries   [][]byte // distinct sample entries (stsd children)
	durations []uint32
	sizes     []uint32
	ctos      []int32
	syncs     []uint32
	allSync   bool
	chunks    []trackChunk
	ticks     uint64
}

// trackChunk is one chunk of a track: its samples and sample description.
type trackChunk struct {
	global  int // index in mp4Layout.chunks
	samples uint32
	sdi     uint32
}

// buildMP4 computes the layout of the archive's progressive MP4. Segments whose
// files turn out to be broken are cut at their last good fragment (noted).
func buildMP4(ctx context.Context, st Store, m *Manifest) (*mp4Layout, error) {
	if len(m.Versions) == 0 || len(m.Segments) == 0 {
		return nil, ErrNothingPlayable
	}
	l := &mp4Layout{}
	tracks := make([]*mp4Track, len(m.Versions[0].Tracks))
	for i, t := range m.Versions[0].Tracks {
		tracks[i] = &mp4Track{meta: t, allSync: true}
	}
	sdis, err := l.sampleDescriptions(ctx, st, m, tracks)
	if err != nil {
		return nil, err
	}
	var data int64
	fileIdx := map[string]int32{}
	for n, seg := range m.Segments {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if sdis[seg.Version] == nil {
			continue
		}
		if seg.Discontinuity {
			align(tracks)
		}
		frags := make([][]fragment, len(tracks))
		for i := range tracks {
			if seg.Tracks[i].Size == 0 {
				continue
			}
			path := m.Room + "/" + m.Sources[n][i]
			frags[i], err = readFragments(ctx, st, path, seg.Tracks[i].Size)
			if err != nil {
				l.notes = append(l.notes, fmt.Sprintf("segment %d track %d: %v", n, i, err))
			}
			if _, ok := fileIdx[path]; !ok && len(frags[i]) > 0 {
				fileIdx[path] = int32(len(l.files))
				l.files = append(l.files, path)
				l.sizes = append(l.sizes, seg.Tracks[i].Size)
			}
		}
		// interleave: fragment k of every track, then fragment k+1...
		for k := 0; ; k++ {
			more := false
			for i, t := range tracks {
				if k >= len(frags[i]) {
					continue
				}
				more = true
				f := &frags[i][k]
				path := m.Room + "/" + m.Sources[n][i]
				t.add(f, len(l.chunks), sdis[seg.Version][i])
				l.chunks = append(l.chunks, mp4Chunk{at: data, src: f.dataOff, size: f.dataSize, file: fileIdx[path]})
				data += f.dataSize
			}
			if !more {
				break
			}
		}
	}
	if data == 0 {
		return nil, ErrNothingPlayable
	}
	return l, l.marshal(tracks, data)
}

// readFragments scans a segment file's fragments with their samples.
func readFragments(ctx context.Context, st Store, path string, limit int64) ([]fragment, error) {
	f, err := st.Open(ctx, path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return scanFragments(f, limit, true)
}

// sampleDescriptions reads the init segments: per version, the 1-based sample
// description index of each track (nil for versions that cannot join the MP4).
func (l *mp4Layout) sampleDescriptions(ctx context.Context, st Store, m *Manifest, tracks []*mp4Track) ([][]uint32, error) {
	out := make([][]uint32, len(m.Versions))
	for g, v := range m.Versions {
		idx := make([]uint32, len(tracks))
		for i, t := range tracks {
			if v.Tracks[i].TimeScale != t.meta.TimeScale || v.Tracks[i].Kind != t.meta.Kind {
				idx = nil
				l.notes = append(l.notes, fmt.Sprintf("version %d left out of the MP4: track %d changed timescale", g, i))
				break
			}
			b, err := st.ReadFile(ctx, m.Room+"/"+m.Inits[g][i])
			if err != nil {
				return nil, fmt.Errorf("read init: %w", err)
			}
			n, err := t.addInit(b)
			if err != nil {
				return nil, fmt.Errorf("init %s: %w", m.Inits[g][i], err)
			}
			idx[i] = n
		}
		out[g] = idx
	}
	return out, nil
}

// addInit takes the sample entry of an init segment (and, from the first, the
// hdlr, media header and dinf boxes) and returns its sample description index.
func (t *mp4Track) addInit(b []byte) (uint32, error) {
	moov, ok := child(b, "moov")
	trak, ok2 := child(moov, "trak")
	mdia, ok3 := child(trak, "mdia")
	minf, ok4 := child(mdia, "minf")
	stbl, ok5 := child(minf, "stbl")
	stsd, ok6 := child(stbl, "stsd")
	if !ok || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || len(stsd) < 16 || be32(stsd[4:]) != 1 {
		return 0, fmt.Errorf("no single sample entry: %w", errBadFragment)
	}
	entry := stsd[8:]
	if t.hdlr == nil {
		t.hdlr = wholeBox(mdia, "hdlr")
		t.dinf = wholeBox(minf, "dinf")
		t.media = wholeBox(minf, "vmhd")
		if t.media == nil {
			t.media = wholeBox(minf, "smhd")
		}
		if t.hdlr == nil || t.dinf == nil || t.media == nil {
			return 0, fmt.Errorf("init without hdlr, dinf or media header: %w", errBadFragment)
		}
	}
	for i, e := range t.entries {
		if bytes.Equal(e, entry) {
			return uint32(i + 1), nil
		}
	}
	t.entries = append(t.entries, bytes.Clone(entry))
	return uint32(len(t.entries)), nil
}

// wholeBox returns the first child box of type typ with its header.
func wholeBox(b []byte, typ string) []byte {
	for len(b) >= 8 {
		size := int(be32(b))
		if size < 8 || size > len(b) {
			return nil
		}
		if string(b[4:8]) == typ {
			return bytes.Clone(b[:size])
		}
		b = b[size:]
	}
	return nil
}

// add appends a fragment's samples as one chunk.
func (t *mp4Track) add(f *fragment, global int, sdi uint32) {
	for _, s := range f.samples {
		t.durations = append(t.durations, s.duration)
		t.sizes = append(t.sizes, s.size)
		t.ctos = append(t.ctos, s.cto)
		if s.sync {
			t.syncs = append(t.syncs, uint32(len(t.sizes)))
		} else {
			t.allSync = false
		}
		t.ticks += uint64(s.duration)
	}
	t.chunks = append(t.chunks, trackChunk{global: global, samples: uint32(len(f.samples)), sdi: sdi})
}

// align stretches the last sample of the tracks that end earlier than the longest
// one, so that the next session starts in sync on every track.
func align(tracks []*mp4Track) {
	var end time.Duration
	for _, t := range tracks {
		end = max(end, timeline.TicksToDuration(t.ticks, t.meta.TimeScale))
	}
	for _, t := range tracks {
		n := len(t.durations)
		if n == 0 {
			continue
		}
		gap := timeline.DurationToTicks(end-timeline.TicksToDuration(t.ticks, t.meta.TimeScale), t.meta.TimeScale)
		if gap > 0 && uint64(t.durations[n-1])+uint64(gap) < math.MaxUint32 {
			t.durations[n-1] += uint32(gap)
			t.ticks += uint64(gap)
		}
	}
}

// boxWriter appends ISO BMFF boxes to a buffer.
type boxWriter struct{ b []byte }

func (w *boxWriter) start(typ string) int {
	at := len(w.b)
	w.b = append(w.b, 0, 0, 0, 0, typ[0], typ[1], typ[2], typ[3])
	return at
}

func (w *boxWriter) end(at int) { binary.BigEndian.PutUint32(w.b[at:], uint32(len(w.b)-at)) }

func (w *boxWriter) full(typ string, version byte, flags uint32) int {
	at := w.start(typ)
	w.b = append(w.b, version, byte(flags>>16), byte(flags>>8), byte(flags))
	return at
}

func (w *boxWriter) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *boxWriter) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *boxWriter) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *boxWriter) zero(n int)   { w.b = append(w.b, make([]byte, n)...) }

var unityMatrix = [9]uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000}

func (w *boxWriter) matrix() {
	for _, v := range unityMatrix {
		w.u32(v)
	}
}

// marshal writes ftyp, moov and the mdat header; data is the mdat payload size.
func (l *mp4Layout) marshal(tracks []*mp4Track, data int64) error {
	large := data+int64(len(l.chunks))*8+(64<<20) > math.MaxUint32
	w := &boxWriter{b: make([]byte, 0, 64<<10)}
	at := w.start("ftyp")
	w.b = append(w.b, "isom"...)
	w.u32(0x200)
	w.b = append(w.b, "isomiso2avc1mp41"...)
	w.end(at)

	moov := w.start("moov")
	var movieDur uint64
	for _, t := range tracks {
		movieDur = max(movieDur, t.ticks*movieTimeScale/uint64(t.meta.TimeScale))
	}
	l.duration = time.Duration(movieDur) * time.Millisecond
	at = w.full("mvhd", 1, 0)
	w.u64(0)
	w.u64(0)
	w.u32(movieTimeScale)
	w.u64(movieDur)
	w.u32(0x10000) // rate 1.0
	w.u16(0x100)   // volume 1.0
	w.zero(10)
	w.matrix()
	w.zero(24)
	w.u32(uint32(len(tracks) + 1))
	w.end(at)
	var offsets []int // positions of the chunk offset tables, patched below
	for _, t := range tracks {
		if len(t.sizes) == 0 {
			continue
		}
		offsets = append(offsets, w.trak(t, large))
	}
	w.end(moov)

	hdr := 8
	if data+8 > math.MaxUint32 {
		hdr = 16
	}
	base := int64(len(w.b) + hdr)
	if !large && base+data > math.MaxUint32 {
		return errors.New("mp4 header outgrew 32-bit offsets")
	}
	for i := range l.chunks {
		l.chunks[i].at += base
	}
	k := 0
	for _, t := range tracks {
		if len(t.sizes) == 0 {
			continue
		}
		p := offsets[k]
		k++
		for _, c := range t.chunks {
			off := l.chunks[c.global].at
			if large {
				binary.BigEndian.PutUint64(w.b[p:], uint64(off))
				p += 8
			} else {
				binary.BigEndian.PutUint32(w.b[p:], uint32(off))
				p += 4
			}
		}
	}
	if hdr == 16 {
		w.u32(1)
		w.b = append(w.b, "mdat"...)
		w.u64(uint64(data + 16))
	} else {
		w.u32(uint32(data + 8))
		w.b = append(w.b, "mdat"...)
	}
	l.header = w.b
	l.size = base + data
	return nil
}

// trak writes one track and returns the position of its chunk offset entries.
func (w *boxWriter) trak(t *mp4Track, large bool) int {
	trak := w.start("trak")
	movieDur := t.ticks * movieTimeScale / uint64(t.meta.TimeScale)
	at := w.full("tkhd", 1, 3) // enabled, in movie
	w.u64(0)
	w.u64(0)
	w.u32(uint32(t.meta.ID))
	w.u32(0)
	w.u64(movieDur)
	w.zero(8)
	w.u16(0) // layer
	if t.meta.Kind == timeline.KindAudio {
		w.u16(1)     // alternate group
		w.u16(0x100) // volume
	} else {
		w.u16(0)
		w.u16(0)
	}
	w.u16(0)
	w.matrix()
	w.u32(uint32(t.meta.Width) << 16)
	w.u32(uint32(t.meta.Height) << 16)
	w.end(at)

	edts := w.start("edts")
	at = w.full("elst", 1, 0)
	w.u32(1)
	w.u64(movieDur)
	w.u64(uint64(max(t.ctos[0], 0))) // media time: the first presentation time
	w.u32(0x10000)
	w.end(at)
	w.end(edts)

	mdia := w.start("mdia")
	at = w.full("mdhd", 1, 0)
	w.u64(0)
	w.u64(0)
	w.u32(t.meta.TimeScale)
	w.u64(t.ticks)
	w.u16(0x55c4) // "und"
	w.u16(0)
	w.end(at)
	w.b = append(w.b, t.hdlr...)
	minf := w.start("minf")
	w.b = append(w.b, t.media...)
	w.b = append(w.b, t.dinf...)
	stbl := w.start("stbl")
	w.stsd(t)
	w.stts(t)
	w.ctts(t)
	if !t.allSync {
		at = w.full("stss", 0, 0)
		w.u32(uint32(len(t.syncs)))
		for _, n := range t.syncs {
			w.u32(n)
		}
		w.end(at)
	}
	w.stsc(t)
	at = w.full("stsz", 0, 0)
	w.u32(0)
	w.u32(uint32(len(t.sizes)))
	for _, s := range t.sizes {
		w.u32(s)
	}
	w.end(at)
	typ, width := "stco", 4
	if large {
		typ, width = "co64", 8
	}
	at = w.full(typ, 0, 0)
	w.u32(uint32(len(t.chunks)))
	pos := len(w.b)
	w.zero(width * len(t.chunks))
	w.end(at)
	w.end(stbl)
	w.end(minf)
	w.end(mdia)
	w.end(trak)
	return pos
}

func (w *boxWriter) stsd(t *mp4Track) {
	at := w.full("stsd", 0, 0)
	w.u32(uint32(len(t.entries)))
	for _, e := range t.entries {
		w.b = append(w.b, e...)
	}
	w.end(at)
}

// stts: run-length coded sample durations (§8.6.1.2).
func (w *boxWriter) stts(t *mp4Track) {
	at := w.full("stts", 0, 0)
	cnt := len(w.b)
	w.u32(0)
	n := uint32(0)
	for i := 0; i < len(t.durations); {
		j := i
		for j < len(t.durations) && t.durations[j] == t.durations[i] {
			j++
		}
		w.u32(uint32(j - i))
		w.u32(t.durations[i])
		n++
		i = j
	}
	binary.BigEndian.PutUint32(w.b[cnt:], n)
	w.end(at)
}

// ctts: composition offsets (§8.6.1.3), version 1 (signed), only when needed.
func (w *boxWriter) ctts(t *mp4Track) {
	need := false
	for _, c := range t.ctos {
		if c != 0 {
			need = true
			break
		}
	}
	if !need {
		return
	}
	at := w.full("ctts", 1, 0)
	cnt := len(w.b)
	w.u32(0)
	n := uint32(0)
	for i := 0; i < len(t.ctos); {
		j := i
		for j < len(t.ctos) && t.ctos[j] == t.ctos[i] {
			j++
		}
		w.u32(uint32(j - i))
		w.u32(uint32(t.ctos[i]))
		n++
		i = j
	}
	binary.BigEndian.PutUint32(w.b[cnt:], n)
	w.end(at)
}

// stsc: samples per chunk and sample description per chunk run (§8.7.4).
func (w *boxWriter) stsc(t *mp4Track) {
	at := w.full("stsc", 0, 0)
	cnt := len(w.b)
	w.u32(0)
	n := uint32(0)
	var prev trackChunk
	for i, c := range t.chunks {
		if i > 0 && c.samples == prev.samples && c.sdi == prev.sdi {
			continue
		}
		w.u32(uint32(i + 1))
		w.u32(c.samples)
		w.u32(c.sdi)
		n++
		prev = c
	}
	binary.BigEndian.PutUint32(w.b[cnt:], n)
	w.end(at)
}
