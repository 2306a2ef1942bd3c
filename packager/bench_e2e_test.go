package packager

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
)

// BenchmarkPackagedFrame is the whole per-frame path of a live stream without the
// RTMP socket, one op per frame (video or audio): the message body copied once out
// of the (simulated) go-rtmp buffer as ingest does, FLV demux to a hub.Unit,
// hub.Stream.Write, the packager's hub.Reader goroutine, the segmenter, parts
// appended to the segment files of a bound session, snapshots published and the
// session index appended. allocs/op is the number to drive to zero
// ("allocations per packaged frame"); it counts every goroutine.
func BenchmarkPackagedFrame(b *testing.B) {
	tags, err := flv.ReadFile(testdataPrefix + "h264_aac.flv")
	if err != nil {
		b.Fatal(err)
	}
	var header, body []flv.Tag
	for _, t := range tags {
		if t.Type == flv.TagScript {
			continue
		}
		if len(body) == 0 && isSequenceHeader(t) {
			header = append(header, t)
			continue
		}
		body = append(body, t)
	}
	span := body[len(body)-1].Timestamp + 33

	p := &Packager{Dir: b.TempDir(), VerifyToken: verifyTestToken}
	if err := p.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer p.Close()

	dmx := &flv.Demuxer{VideoTrackID: 1, AudioTrackID: 2}
	for _, t := range header {
		if _, err := dmx.Push(t); err != nil {
			b.Fatal(err)
		}
	}
	hs := &hub.Stream{Key: "1", Tracks: dmx.Tracks()}
	if err := hs.Initialize(); err != nil {
		b.Fatal(err)
	}
	st := newStream(p, "1", hs, b.TempDir())
	st.bind(Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: 1})
	var done atomic.Int64
	r := &hub.Reader{SkipToKeyframe: true, Name: "packager", OnUnit: func(u *hub.Unit) error {
		err := st.seg.write(u)
		done.Add(1)
		return err
	}}
	if err := hs.AddReader(r); err != nil {
		b.Fatal(err)
	}

	var written, skipped int64 // skipped: units before the first key frame
	push := func(i int) {
		t := body[i%len(body)]
		t.Timestamp += uint32(i/len(body)) * span
		t.Data = bytes.Clone(t.Data) // ingest's one copy out of go-rtmp's buffer
		u, err := dmx.Push(t)
		if err != nil {
			b.Fatal(err)
		}
		if u == nil {
			return
		}
		hs.Write(u)
		written++
		for written-skipped-done.Load() > 256 { // stay far from the reader's queue limit
			runtime.Gosched()
		}
	}
	for i := range len(body) { // warm up: one loop of the file
		push(i)
	}
	for { // the reader is idle once done stops moving
		n := done.Load()
		time.Sleep(20 * time.Millisecond)
		if done.Load() == n {
			skipped = written - n
			break
		}
	}
	b.ReportAllocs()
	b.SetBytes(0)
	b.ResetTimer()
	for i := range b.N {
		push(len(body) + i)
	}
	for written-skipped > done.Load() {
		runtime.Gosched()
	}
	b.StopTimer()
	if n := r.Dropped(); n > 0 {
		b.Fatalf("%d units dropped", n)
	}
	hs.Close()
	<-r.Err()
	hs.RemoveReader(r)
	st.end(nil)
}

// isSequenceHeader reports whether an audio/video tag carries a decoder
// configuration (AVC/AAC packet type 0) rather than media.
func isSequenceHeader(t flv.Tag) bool {
	return len(t.Data) >= 2 && t.Data[1] == 0 &&
		(t.Type == flv.TagVideo && t.Data[0]&0x0f == 7 || t.Type == flv.TagAudio && t.Data[0]>>4 == 10)
}
