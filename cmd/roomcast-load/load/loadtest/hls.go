package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/roomcast/roomcast/ingest/flv"
)

// HLSOrigin is an LL-HLS origin: gohlslib's Muxer fed in real time from an H.264+AAC
// FLV file in a loop, served over a real HTTP listener.
type HLSOrigin struct {
	URL string // multivariant playlist, …/index.m3u8

	mux    *gohlslib.Muxer
	video  *gohlslib.Track
	audio  *gohlslib.Track
	tags   []flv.Tag
	sps    []byte
	pps    []byte
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartHLS starts the origin; t.Cleanup stops the feeder, the muxer and the listener.
func StartHLS(t testing.TB, flvPath string) *HLSOrigin {
	t.Helper()
	tags, err := flv.ReadFile(flvPath)
	if err != nil {
		t.Fatalf("read %s: %v", flvPath, err)
	}
	o := &HLSOrigin{tags: tags}
	if err := o.tracks(); err != nil {
		t.Fatalf("%s: %v", flvPath, err)
	}
	o.mux = &gohlslib.Muxer{
		Tracks:             o.trackList(),
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       7,
		SegmentMinDuration: time.Second,
		PartMinDuration:    200 * time.Millisecond,
	}
	if err := o.mux.Start(); err != nil {
		t.Fatalf("muxer: %v", err)
	}
	srv := httptest.NewServer(httpHandler(o.mux))
	o.URL = srv.URL + "/index.m3u8"
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	o.wg.Go(func() { o.feed(ctx) })
	t.Cleanup(func() {
		o.cancel()
		o.wg.Wait()
		o.mux.Close() // releases blocked playlist requests
		srv.Close()
	})
	return o
}

// tracks reads the AVC and AAC sequence headers.
func (o *HLSOrigin) tracks() error {
	for _, t := range o.tags {
		d := t.Data
		switch {
		case t.Type == flv.TagVideo && len(d) > 5 && d[0]&0x0f == 7 && d[1] == 0:
			sps, pps, err := parseAVCConfig(d[5:])
			if err != nil {
				return err
			}
			o.sps, o.pps = sps, pps
			o.video = &gohlslib.Track{Codec: &codecs.H264{SPS: sps, PPS: pps}, ClockRate: 90000}
		case t.Type == flv.TagAudio && len(d) > 2 && d[0]>>4 == 10 && d[1] == 0:
			var conf mpeg4audio.AudioSpecificConfig
			if err := conf.Unmarshal(d[2:]); err != nil {
				return fmt.Errorf("AAC config: %w", err)
			}
			o.audio = &gohlslib.Track{Codec: &codecs.MPEG4Audio{Config: conf}, ClockRate: conf.SampleRate}
		}
	}
	if o.video == nil {
		return errors.New("no AVC sequence header")
	}
	return nil
}

func (o *HLSOrigin) trackList() []*gohlslib.Track {
	if o.audio == nil {
		return []*gohlslib.Track{o.video}
	}
	return []*gohlslib.Track{o.video, o.audio}
}

// parseAVCConfig extracts the first SPS and PPS of an AVCDecoderConfigurationRecord
// (ISO 14496-15 5.3.3.1).
func parseAVCConfig(b []byte) ([]byte, []byte, error) {
	if len(b) < 7 {
		return nil, nil, errors.New("AVC config too short")
	}
	pos := 6
	read := func() ([]byte, error) {
		if pos+2 > len(b) {
			return nil, errors.New("AVC config truncated")
		}
		n := int(b[pos])<<8 | int(b[pos+1])
		if pos+2+n > len(b) {
			return nil, errors.New("AVC config truncated")
		}
		v := b[pos+2 : pos+2+n]
		pos += 2 + n
		return v, nil
	}
	if b[5]&0x1f == 0 {
		return nil, nil, errors.New("AVC config without SPS")
	}
	sps, err := read()
	if err != nil {
		return nil, nil, err
	}
	pos++ // numOfPictureParameterSets (the first SPS count was 1 in our files)
	pps, err := read()
	return sps, pps, err
}

// feed writes the FLV's frames to the muxer at real time, looping.
func (o *HLSOrigin) feed(ctx context.Context) {
	start := time.Now()
	var last uint32
	for _, t := range o.tags {
		last = max(last, t.Timestamp)
	}
	loopDur := time.Duration(last)*time.Millisecond + 33*time.Millisecond
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for loop := 0; ; loop++ {
		base := time.Duration(loop) * loopDur
		for _, t := range o.tags {
			at := base + time.Duration(t.Timestamp)*time.Millisecond
			if d := time.Until(start.Add(at)); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
			if ctx.Err() != nil {
				return
			}
			_ = o.write(t, start.Add(at), at) // encode errors only drop that frame
		}
	}
}

func (o *HLSOrigin) write(t flv.Tag, ntp time.Time, at time.Duration) error {
	d := t.Data
	switch {
	case t.Type == flv.TagVideo && len(d) > 5 && d[0]&0x0f == 7 && d[1] == 1:
		cts := int32(uint32(d[2])<<16|uint32(d[3])<<8|uint32(d[4])) << 8 >> 8
		var au h264.AVCC
		if err := au.Unmarshal(d[5:]); err != nil {
			return err
		}
		if d[0]>>4 == 1 { // keyframe: parameter sets in band
			au = append([][]byte{o.sps, o.pps}, au...)
		}
		pts := int64(at+time.Duration(cts)*time.Millisecond) * 90000 / int64(time.Second)
		return o.mux.WriteH264(o.video, ntp, pts, au)
	case t.Type == flv.TagAudio && o.audio != nil && len(d) > 2 && d[0]>>4 == 10 && d[1] == 1:
		pts := int64(at) * int64(o.audio.ClockRate) / int64(time.Second)
		return o.mux.WriteMPEG4Audio(o.audio, ntp, pts, [][]byte{d[2:]})
	}
	return nil
}
