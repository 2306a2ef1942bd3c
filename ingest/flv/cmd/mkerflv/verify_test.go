package main

import (
	"bytes"
	"encoding/binary"
	"os/exec"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
)

// TestCommittedFilesDecodeWithFFmpeg checks the committed Enhanced-RTMP files
// independently of our demuxer's own expectations: the units it extracts are turned
// back into an Annex-B / IVF elementary stream and decoded by ffmpeg, which must see
// every frame without an error. (ffmpeg 5.1 cannot read Enhanced-RTMP FLV itself.)
func TestCommittedFilesDecodeWithFFmpeg(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed: skipping the independent decode check")
	}
	for _, c := range []struct{ file, format string }{
		{"hevc_aac.flv", "hevc"},
		{"av1_aac.flv", "ivf"},
	} {
		t.Run(c.file, func(t *testing.T) {
			tags, err := flv.ReadFile("../../../../testdata/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			d := &flv.Demuxer{}
			var video []*hub.Unit
			for _, tag := range tags {
				u, err := d.Push(tag)
				if err != nil {
					t.Fatal(err)
				}
				if u != nil && u.Track.IsVideo() {
					video = append(video, u)
				}
			}
			var es []byte
			if c.format == "hevc" {
				es = toAnnexB(d.Video().Codec.(*codecs.H265), video)
			} else {
				es = toIVF(video)
			}
			cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", c.format, "-i", "-",
				"-f", "framemd5", "-")
			cmd.Stdin = bytes.NewReader(es)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
			}
			frames := 0
			for _, l := range strings.Split(string(out), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					frames++
				}
			}
			if frames != len(video) || frames != 300 {
				t.Fatalf("ffmpeg decoded %d frames of %d units", frames, len(video))
			}
		})
	}
}

func toAnnexB(c *codecs.H265, units []*hub.Unit) []byte {
	var out []byte
	sc := []byte{0, 0, 0, 1}
	for _, u := range units {
		if u.Key {
			for _, ps := range [][]byte{c.VPS, c.SPS, c.PPS} {
				out = append(append(out, sc...), ps...)
			}
		}
		for p := u.Payload; len(p) > 4; {
			n := int(binary.BigEndian.Uint32(p))
			out = append(append(out, sc...), p[4:4+n]...)
			p = p[4+n:]
		}
	}
	return out
}

func toIVF(units []*hub.Unit) []byte {
	out := []byte("DKIF\x00\x00\x20\x00AV01")
	out = binary.LittleEndian.AppendUint16(out, 640)
	out = binary.LittleEndian.AppendUint16(out, 360)
	out = binary.LittleEndian.AppendUint32(out, 1000) // time base 1/1000
	out = binary.LittleEndian.AppendUint32(out, 1)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(units)))
	out = binary.LittleEndian.AppendUint32(out, 0)
	for _, u := range units {
		td := []byte{0x12, 0x00} // temporal delimiter OBU, removed in MP4 samples
		out = binary.LittleEndian.AppendUint32(out, uint32(len(td)+len(u.Payload)))
		out = binary.LittleEndian.AppendUint64(out, uint64(flv.Timestamp(u.PTS)))
		out = append(append(out, td...), u.Payload...)
	}
	return out
}
