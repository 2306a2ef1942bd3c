package vod

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errBadFragment marks bytes that are not a complete, well-formed fMP4 fragment.
var errBadFragment = errors.New("malformed fmp4 fragment")

// maxMoof bounds the size of a moof box we are willing to read (a part of a few
// hundred samples needs a few KiB).
const maxMoof = 1 << 20

// sampleInfo is one sample of a fragment (ISO/IEC 14496-12 §8.8.8 trun entry).
type sampleInfo struct {
	duration uint32
	size     uint32
	cto      int32
	sync     bool
}

// fragment is one moof+mdat of a segment file (one track, one part).
type fragment struct {
	offset   int64 // of the moof in the file
	end      int64 // end of the mdat
	baseTime uint64
	dataOff  int64 // of the first sample's payload in the file
	dataSize int64 // sum of sample sizes (contiguous from dataOff)
	duration uint64
	samples  []sampleInfo // only when scanned with samples=true
}

// scanFragments walks the fragments of a segment file up to limit bytes and returns
// the complete, well-formed ones. A torn or malformed tail is not an error: the
// scan stops there (err describes it, frags holds what came before). Only the
// moof boxes are read; mdat payloads are skipped.
func scanFragments(r io.ReaderAt, limit int64, samples bool) (frags []fragment, err error) {
	var hdr [16]byte
	var moof []byte
	for off := int64(0); off < limit; {
		if limit-off < 8 {
			return frags, fmt.Errorf("%d trailing bytes at %d: %w", limit-off, off, errBadFragment)
		}
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return frags, fmt.Errorf("read box header at %d: %w", off, err)
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		if typ != "moof" || size < 16 || size > maxMoof || off+size+8 > limit {
			return frags, fmt.Errorf("box %q size %d at %d: %w", typ, size, off, errBadFragment)
		}
		if int64(cap(moof)) < size {
			moof = make([]byte, size)
		}
		moof = moof[:size]
		if _, err := r.ReadAt(moof, off); err != nil {
			return frags, fmt.Errorf("read moof at %d: %w", off, err)
		}
		if _, err := r.ReadAt(hdr[:8], off+size); err != nil {
			return frags, fmt.Errorf("read mdat header at %d: %w", off+size, err)
		}
		mdatSize := int64(binary.BigEndian.Uint32(hdr[:4]))
		if string(hdr[4:8]) != "mdat" || mdatSize < 8 || off+size+mdatSize > limit {
			return frags, fmt.Errorf("mdat of size %d at %d: %w", mdatSize, off+size, errBadFragment)
		}
		f := fragment{offset: off, end: off + size + mdatSize}
		if err := parseMoof(moof, &f, samples); err != nil {
			return frags, fmt.Errorf("moof at %d: %w", off, err)
		}
		if f.dataOff < off+size+8 || f.dataOff+f.dataSize > f.end {
			return frags, fmt.Errorf("sample data outside mdat at %d: %w", off, errBadFragment)
		}
		frags = append(frags, f)
		off = f.end
	}
	return frags, nil
}

// parseMoof reads mfhd/traf(tfhd, tfdt, trun) of a single-track moof as written by
// the packager (and mediacommon): default-base-is-moof, one trun.
func parseMoof(moof []byte, f *fragment, samples bool) error {
	traf, ok := child(moof[8:], "traf")
	if !ok {
		return fmt.Errorf("no traf: %w", errBadFragment)
	}
	tfhd, ok1 := child(traf, "tfhd")
	tfdt, ok2 := child(traf, "tfdt")
	trun, ok3 := child(traf, "trun")
	if !ok1 || !ok2 || !ok3 || len(tfhd) < 8 || len(tfdt) < 8 || len(trun) < 8 {
		return fmt.Errorf("traf without tfhd, tfdt or trun: %w", errBadFragment)
	}
	var def struct{ dur, size, flags uint32 }
	tf := be32(tfhd) & 0xffffff
	p := 8 // version/flags + track ID
	for _, fl := range []struct {
		bit uint32
		n   int
		dst *uint32
	}{{0x01, 8, nil}, {0x02, 4, nil}, {0x08, 4, &def.dur}, {0x10, 4, &def.size}, {0x20, 4, &def.flags}} {
		if tf&fl.bit == 0 {
			continue
		}
		if len(tfhd) < p+fl.n {
			return fmt.Errorf("short tfhd: %w", errBadFragment)
		}
		if fl.dst != nil {
			*fl.dst = be32(tfhd[p:])
		}
		p += fl.n
	}
	if tf&0x01 != 0 {
		return fmt.Errorf("explicit base data offset not supported: %w", errBadFragment)
	}
	if tfdt[0] == 1 {
		if len(tfdt) < 12 {
			return fmt.Errorf("short tfdt: %w", errBadFragment)
		}
		f.baseTime = binary.BigEndian.Uint64(tfdt[4:])
	} else {
		f.baseTime = uint64(be32(tfdt[4:]))
	}
	return parseTrun(trun, f, def.dur, def.size, def.flags, samples)
}

// parseTrun reads a trun box body (after the box header).
func parseTrun(b []byte, f *fragment, defDur, defSize, defFlags uint32, keep bool) error {
	flags := be32(b) & 0xffffff
	n := int(be32(b[4:]))
	p := 8
	if flags&0x01 != 0 {
		if len(b) < p+4 {
			return fmt.Errorf("short trun: %w", errBadFragment)
		}
		f.dataOff = f.offset + int64(int32(be32(b[p:])))
		p += 4
	} else {
		return fmt.Errorf("trun without data offset: %w", errBadFragment)
	}
	firstFlags, hasFirst := defFlags, flags&0x04 != 0
	if hasFirst {
		if len(b) < p+4 {
			return fmt.Errorf("short trun: %w", errBadFragment)
		}
		firstFlags = be32(b[p:])
		p += 4
	}
	entry := 0
	for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&bit != 0 {
			entry += 4
		}
	}
	if n < 0 || len(b) < p+n*entry {
		return fmt.Errorf("trun with %d samples does not fit: %w", n, errBadFragment)
	}
	if keep {
		f.samples = make([]sampleInfo, 0, n)
	}
	for i := 0; i < n; i++ {
		s := sampleInfo{duration: defDur, size: defSize}
		sf := defFlags
		if i == 0 && hasFirst {
			sf = firstFlags
		}
		if flags&0x100 != 0 {
			s.duration = be32(b[p:])
			p += 4
		}
		if flags&0x200 != 0 {
			s.size = be32(b[p:])
			p += 4
		}
		if flags&0x400 != 0 {
			sf = be32(b[p:])
			p += 4
		}
		if flags&0x800 != 0 {
			s.cto = int32(be32(b[p:]))
			p += 4
		}
		s.sync = sf&0x10000 == 0 // sample_is_non_sync_sample
		f.duration += uint64(s.duration)
		f.dataSize += int64(s.size)
		if keep {
			f.samples = append(f.samples, s)
		}
	}
	return nil
}

// child returns the body (after the 8-byte header) of the first child box of
// type typ in b, a sequence of boxes.
func child(b []byte, typ string) ([]byte, bool) {
	for len(b) >= 8 {
		size := int(be32(b))
		if size < 8 || size > len(b) {
			return nil, false
		}
		if string(b[4:8]) == typ {
			return b[8:size], true
		}
		b = b[size:]
	}
	return nil, false
}

func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
