package packager

import (
	"encoding/binary"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// appendFragment appends one fMP4 fragment of a single track (ISO/IEC 14496-12
// §8.8) to dst without allocating, byte-for-byte what mediacommon's
// fmp4.Part{Tracks: [1]}.Marshal writes (the tests compare both):
//
//	|moof|
//	|    |mfhd| sequence number
//	|    |traf|
//	|    |    |tfhd| track ID, default-base-is-moof
//	|    |    |tfdt| version 1, base media decode time
//	|    |    |trun| version 1: data offset, per sample duration, size, [flags], [cto]
//	|mdat| payloads
//
// Payloads are copied once, from the hub units into dst.
func appendFragment(dst []byte, seq uint32, trackID int, baseTime uint64, samples []fmp4.Sample) []byte {
	const (
		trunDataOffset = 0x01
		trunDuration   = 0x100
		trunSize       = 0x200
		trunFlags      = 0x400
		trunCTO        = 0x800
		nonSync        = 1 << 16
	)
	flags := uint32(trunDataOffset | trunDuration | trunSize)
	for i := range samples {
		if samples[i].IsNonSyncSample {
			flags |= trunFlags
		}
		if samples[i].PTSOffset != 0 {
			flags |= trunCTO
		}
	}
	entry := 8
	if flags&trunFlags != 0 {
		entry += 4
	}
	if flags&trunCTO != 0 {
		entry += 4
	}
	trunSz := 8 + 4 + 4 + 4 + entry*len(samples)
	trafSz := 8 + 16 + 20 + trunSz
	moofSz := 8 + 16 + trafSz
	dataSz := 0
	for i := range samples {
		dataSz += len(samples[i].Payload)
	}

	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(moofSz))
	dst = append(dst, 'm', 'o', 'o', 'f')
	dst = be.AppendUint32(dst, 16)
	dst = append(dst, 'm', 'f', 'h', 'd', 0, 0, 0, 0)
	dst = be.AppendUint32(dst, seq)
	dst = be.AppendUint32(dst, uint32(trafSz))
	dst = append(dst, 't', 'r', 'a', 'f')
	dst = be.AppendUint32(dst, 16)
	dst = append(dst, 't', 'f', 'h', 'd', 0, 2, 0, 0)
	dst = be.AppendUint32(dst, uint32(trackID))
	dst = be.AppendUint32(dst, 20)
	dst = append(dst, 't', 'f', 'd', 't', 1, 0, 0, 0)
	dst = be.AppendUint64(dst, baseTime)
	dst = be.AppendUint32(dst, uint32(trunSz))
	dst = append(dst, 't', 'r', 'u', 'n', 1)
	dst = append(dst, byte(flags>>16), byte(flags>>8), byte(flags))
	dst = be.AppendUint32(dst, uint32(len(samples)))
	dst = be.AppendUint32(dst, uint32(moofSz+8))
	for i := range samples {
		s := &samples[i]
		dst = be.AppendUint32(dst, s.Duration)
		dst = be.AppendUint32(dst, uint32(len(s.Payload)))
		if flags&trunFlags != 0 {
			var f uint32
			if s.IsNonSyncSample {
				f = nonSync
			}
			dst = be.AppendUint32(dst, f)
		}
		if flags&trunCTO != 0 {
			dst = be.AppendUint32(dst, uint32(s.PTSOffset))
		}
	}
	dst = be.AppendUint32(dst, uint32(8+dataSz))
	dst = append(dst, 'm', 'd', 'a', 't')
	for i := range samples {
		dst = append(dst, samples[i].Payload...)
	}
	return dst
}
