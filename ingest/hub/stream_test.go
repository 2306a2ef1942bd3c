package hub

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

var (
	videoTrack = &Track{ID: 1, Codec: &codecs.H264{SPS: []byte{0x67}, PPS: []byte{0x68}}, ClockRate: 90000, FourCC: "avc1"}
	audioTrack = &Track{ID: 2, Codec: &codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{
		Type: 2, SampleRate: 48000, ChannelCount: 2}}, ClockRate: 48000, FourCC: "mp4a"}
)

func newStream(t testing.TB, queue int, tracks ...*Track) *Stream {
	t.Helper()
	s := &Stream{Key: "1", Tracks: tracks, QueueSize: queue}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	return s
}

// unitSeq makes n units: video frames with a key frame every gop, and an audio unit
// after each video frame. Unit i carries i in its DTS.
func unitSeq(n, gop int) []*Unit {
	out := make([]*Unit, 0, n)
	for i := range n {
		u := &Unit{Track: videoTrack, DTS: time.Duration(i), PTS: time.Duration(i), Key: (i/2)%gop == 0, Payload: []byte{byte(i)}}
		if i%2 == 1 {
			u.Track, u.Key = audioTrack, true
		}
		out = append(out, u)
	}
	return out
}

// collector is a reader that records what it got.
type collector struct {
	mu    sync.Mutex
	units []*Unit
	gate  chan struct{} // when non-nil, OnUnit blocks until it is closed
}

func (c *collector) onUnit(u *Unit) error {
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	c.units = append(c.units, u)
	c.mu.Unlock()
	return nil
}

func (c *collector) got() []*Unit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Unit(nil), c.units...)
}

func waitErr(t *testing.T, r *Reader) error {
	t.Helper()
	select {
	case err := <-r.Err():
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not stop")
		return nil
	}
}

func TestFanOutAllReadersGetEverythingInOrder(t *testing.T) {
	s := newStream(t, 1024, videoTrack, audioTrack)
	units := unitSeq(600, 30)
	var cs []*collector
	var rs []*Reader
	for i := range 5 {
		c := &collector{}
		r := &Reader{OnUnit: c.onUnit, Name: fmt.Sprint(i)}
		if err := s.AddReader(r); err != nil {
			t.Fatal(err)
		}
		cs, rs = append(cs, c), append(rs, r)
	}
	for _, u := range units {
		s.Write(u)
	}
	s.Close()
	for i, r := range rs {
		if err := waitErr(t, r); !errors.Is(err, ErrStreamClosed) {
			t.Fatalf("reader %d: %v", i, err)
		}
		s.RemoveReader(r)
		got := cs[i].got()
		if len(got) != len(units) {
			t.Fatalf("reader %d got %d of %d units", i, len(got), len(units))
		}
		for j := range got {
			if got[j] != units[j] {
				t.Fatalf("reader %d unit %d out of order", i, j)
			}
		}
	}
	if n, _ := s.Stats(); n != uint64(len(units)) {
		t.Fatalf("stats %d", n)
	}
}

func TestSlowReaderDropsAndSkipsToKeyframe(t *testing.T) {
	s := newStream(t, 8, videoTrack, audioTrack)
	slow := &collector{gate: make(chan struct{})}
	fast := &collector{}
	rs := &Reader{OnUnit: slow.onUnit, Name: "slow"}
	rf := &Reader{OnUnit: fast.onUnit, Name: "fast", QueueSize: 4096}
	for _, r := range []*Reader{rs, rf} {
		if err := s.AddReader(r); err != nil {
			t.Fatal(err)
		}
	}
	units := unitSeq(400, 30) // key frames at units 0, 60, 120, ...
	done := make(chan struct{})
	go func() { // Write must never block even though slow is stuck
		defer close(done)
		for _, u := range units[:100] {
			s.Write(u)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked on a stuck reader")
	}
	close(slow.gate)
	for _, u := range units[100:] { // now at the reader's pace: no more drops
		s.Write(u)
		for deadline := time.Now().Add(10 * time.Second); len(rs.ring) > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Microsecond)
		}
	}
	s.Close()
	waitErr(t, rs)
	waitErr(t, rf)
	s.RemoveReader(rs)
	s.RemoveReader(rf)
	if rs.Dropped() == 0 || rf.Dropped() != 0 {
		t.Fatalf("dropped slow=%d fast=%d", rs.Dropped(), rf.Dropped())
	}
	if len(fast.got()) != len(units) {
		t.Fatalf("fast reader got %d", len(fast.got()))
	}
	// after the queued prefix, the slow reader resumes exactly at a video key frame
	got := slow.got()
	prev := -1
	for _, u := range got {
		i := int(u.DTS)
		if i != prev+1 {
			if !u.Track.IsVideo() || !u.Key {
				t.Fatalf("after a gap the slow reader resumed at unit %d which is not a key frame", i)
			}
		}
		prev = i
	}
	if prev != len(units)-1 {
		t.Fatalf("slow reader ended at %d", prev)
	}
	// The prefix is the 8 queued units (9 when the reader had already taken the first
	// one into OnUnit); the gap after it ends at a key frame (checked above): 120, or
	// 60 when the reader took the first unit only after the drop, freeing a slot.
	k := 0
	for k < len(got) && int(got[k].DTS) == k {
		k++
	}
	if k < 8 || k > 9 || (got[k].DTS != 60 && got[k].DTS != 120) {
		t.Fatalf("slow reader got units 0..%d, then resumed at %d", k-1, got[k].DTS)
	}
}

func TestAddRemoveWhileLive(t *testing.T) {
	s := newStream(t, 256, videoTrack, audioTrack)
	units := unitSeq(3000, 30)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var added atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := &collector{}
				r := &Reader{OnUnit: c.onUnit, SkipToKeyframe: w%2 == 0}
				if err := s.AddReader(r); err != nil {
					if errors.Is(err, ErrStreamClosed) {
						return
					}
					t.Error(err)
					return
				}
				added.Add(1)
				time.Sleep(time.Millisecond)
				s.RemoveReader(r)
				// a SkipToKeyframe reader never starts in the middle of a GOP
				if got := c.got(); w%2 == 0 && len(got) > 0 && (!got[0].Track.IsVideo() || !got[0].Key) {
					t.Error("SkipToKeyframe reader started on a non key frame")
				}
			}
		}()
	}
	for _, u := range units {
		s.Write(u)
		if int(u.DTS)%100 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	close(stop)
	wg.Wait()
	s.Close()
	if s.ReaderCount() != 0 || added.Load() == 0 {
		t.Fatalf("readers left %d, added %d", s.ReaderCount(), added.Load())
	}
	if err := s.AddReader(&Reader{OnUnit: func(*Unit) error { return nil }}); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("AddReader after Close: %v", err)
	}
}

func TestCloseDrainsQueuedUnits(t *testing.T) {
	s := newStream(t, 64, videoTrack)
	c := &collector{gate: make(chan struct{})}
	r := &Reader{OnUnit: c.onUnit}
	if err := s.AddReader(r); err != nil {
		t.Fatal(err)
	}
	units := unitSeq(40, 100)
	for _, u := range units {
		s.Write(u)
	}
	s.Close()
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed")
	}
	close(c.gate)
	if err := waitErr(t, r); !errors.Is(err, ErrStreamClosed) {
		t.Fatal(err)
	}
	s.RemoveReader(r)
	if len(c.got()) != len(units) {
		t.Fatalf("drained %d of %d", len(c.got()), len(units))
	}
}

func TestReaderErrorStopsReader(t *testing.T) {
	s := newStream(t, 16, videoTrack)
	boom := errors.New("boom")
	r := &Reader{OnUnit: func(*Unit) error { return boom }}
	if err := s.AddReader(r); err != nil {
		t.Fatal(err)
	}
	s.Write(unitSeq(1, 1)[0])
	if err := waitErr(t, r); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	s.RemoveReader(r)
	s.RemoveReader(&Reader{}) // never added: no-op
	s.Close()
}

func TestStartWithGOP(t *testing.T) {
	s := newStream(t, 512, videoTrack, audioTrack)
	s.GOPCache = true
	units := unitSeq(150, 30) // key frames at 0, 60, 120
	for _, u := range units {
		s.Write(u)
	}
	c := &collector{}
	r := &Reader{OnUnit: c.onUnit, StartWithGOP: true}
	if err := s.AddReader(r); err != nil {
		t.Fatal(err)
	}
	more := unitSeq(160, 30)[150:]
	for _, u := range more {
		s.Write(u)
	}
	s.Close()
	waitErr(t, r)
	s.RemoveReader(r)
	got := c.got()
	if len(got) != 40 || got[0] != units[120] || got[len(got)-1] != more[len(more)-1] {
		t.Fatalf("got %d units starting at %d", len(got), got[0].DTS)
	}
}

func TestMaxReaders(t *testing.T) {
	s := newStream(t, 16, videoTrack)
	s.MaxReaders = 1
	r := &Reader{OnUnit: func(*Unit) error { return nil }}
	if err := s.AddReader(r); err != nil {
		t.Fatal(err)
	}
	if err := s.AddReader(&Reader{OnUnit: r.OnUnit}); !errors.Is(err, ErrTooManyReaders) {
		t.Fatal(err)
	}
	s.RemoveReader(r)
	s.Close()
}

func TestRegistry(t *testing.T) {
	var g Registry
	a := newStream(t, 16, videoTrack)
	b := newStream(t, 16, videoTrack)
	if err := g.Publish(a); err != nil {
		t.Fatal(err)
	}
	if err := g.Publish(b); !errors.Is(err, ErrStreamInUse) {
		t.Fatal(err)
	}
	if g.Lookup("1") != a || g.Len() != 1 {
		t.Fatal("lookup")
	}
	g.Unpublish(b) // not the registered one: no effect
	if g.Lookup("1") != a {
		t.Fatal("unpublish of another stream removed the first")
	}
	g.Unpublish(a)
	if g.Lookup("1") != nil || g.Len() != 0 {
		t.Fatal("unpublish")
	}
	ch := g.Changed()
	select {
	case <-ch:
		t.Fatal("changed before a publish")
	default:
	}
	if err := g.Publish(b); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("publish did not close the channel of Changed")
	}
}

func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) {
			s := newStream(b, 1024, videoTrack, audioTrack)
			var rs []*Reader
			for range n {
				r := &Reader{OnUnit: func(*Unit) error { return nil }}
				if err := s.AddReader(r); err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
			units := unitSeq(1024, 30)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				s.Write(units[i%len(units)])
			}
			b.StopTimer()
			s.Close()
			var dropped uint64
			for _, r := range rs {
				<-r.Err()
				s.RemoveReader(r)
				dropped += r.Dropped()
			}
			b.ReportMetric(float64(dropped)/float64(b.N*n), "dropped/delivery")
		})
	}
}

// TestMaxBlockBackPressure: a reader with MaxBlock loses nothing when it is slower
// than the writer — Write waits for it (the writer is slowed to its pace) — while a
// plain reader of the same stream, stalled, drops. A stalled MaxBlock reader costs
// Write at most MaxBlock per unit, then drops as usual.
func TestMaxBlockBackPressure(t *testing.T) {
	s := newStream(t, 4, videoTrack, audioTrack)
	slow := &collector{gate: make(chan struct{})}
	rec := &Reader{MaxBlock: time.Minute, OnUnit: slow.onUnit}
	go func() { // the recorder is stalled until Write has had to wait for it
		for rec.Blocked() == 0 {
			time.Sleep(time.Millisecond)
		}
		close(slow.gate)
	}()
	stalled := &collector{gate: make(chan struct{})}
	player := &Reader{OnUnit: stalled.onUnit}
	for _, r := range []*Reader{rec, player} {
		if err := s.AddReader(r); err != nil {
			t.Fatal(err)
		}
	}
	units := unitSeq(400, 10)
	for _, u := range units {
		s.Write(u)
	}
	s.Close()
	if err := <-rec.Err(); !errors.Is(err, ErrStreamClosed) {
		t.Fatal(err)
	}
	if len(slow.units) != len(units) || rec.Dropped() != 0 || rec.Blocked() == 0 {
		t.Fatalf("MaxBlock reader got %d of %d units, dropped %d, blocked %d", len(slow.units), len(units), rec.Dropped(), rec.Blocked())
	}
	for i, u := range slow.units {
		if u != units[i] {
			t.Fatalf("unit %d out of order", i)
		}
	}
	if player.Dropped() == 0 {
		t.Fatal("the stalled plain reader dropped nothing: Write waited for it")
	}
	close(stalled.gate)
	s.RemoveReader(player)

	// a MaxBlock reader that never reads: Write gives up after MaxBlock each time
	s2 := newStream(t, 2, videoTrack)
	gate := make(chan struct{})
	stuck := &Reader{MaxBlock: 10 * time.Millisecond, OnUnit: func(*Unit) error { <-gate; return nil }}
	if err := s2.AddReader(stuck); err != nil {
		t.Fatal(err)
	}
	for _, u := range unitSeq(20, 5) {
		if u.Track == videoTrack {
			s2.Write(u)
		}
	}
	if stuck.Dropped() == 0 {
		t.Fatal("a stuck MaxBlock reader blocked forever instead of dropping")
	}
	close(gate)
	s2.Close()
	s2.RemoveReader(stuck)
}

// TestMaxBytesBoundsQueue: with MaxBytes, the queue holds at most that many
// payload bytes however many units would fit: a MaxBlock reader makes Write wait
// (and loses nothing), a plain reader drops — long before QueueSize units.
func TestMaxBytesBoundsQueue(t *testing.T) {
	const unitBytes, maxBytes = 1000, 10_000
	units := unitSeq(300, 10)
	for _, u := range units {
		u.Payload = make([]byte, unitBytes)
	}
	s := newStream(t, 1000, videoTrack, audioTrack)
	slow := &collector{gate: make(chan struct{})}
	rec := &Reader{MaxBlock: time.Minute, MaxBytes: maxBytes, OnUnit: slow.onUnit}
	stalled := &collector{gate: make(chan struct{})}
	player := &Reader{MaxBytes: maxBytes, OnUnit: stalled.onUnit}
	for _, r := range []*Reader{rec, player} {
		if err := s.AddReader(r); err != nil {
			t.Fatal(err)
		}
	}
	go func() { // the recorder is stalled until Write has had to wait for it
		for rec.Blocked() == 0 {
			time.Sleep(time.Millisecond)
		}
		close(slow.gate)
	}()
	var most int64
	for _, u := range units {
		s.Write(u)
		most = max(most, rec.QueuedBytes(), player.QueuedBytes())
	}
	if most > maxBytes {
		t.Fatalf("%d bytes queued, MaxBytes %d", most, maxBytes)
	}
	if player.Dropped() == 0 {
		t.Fatal("the stalled plain reader dropped nothing: its queue grew past MaxBytes")
	}
	s.Close()
	if err := <-rec.Err(); !errors.Is(err, ErrStreamClosed) {
		t.Fatal(err)
	}
	got := slow.got()
	if len(got) != len(units) || rec.Dropped() != 0 || rec.Blocked() == 0 {
		t.Fatalf("MaxBlock reader got %d of %d units, dropped %d, blocked %d", len(got), len(units), rec.Dropped(), rec.Blocked())
	}
	for i, u := range got {
		if u != units[i] {
			t.Fatalf("unit %d out of order", i)
		}
	}
	if q := rec.QueuedBytes(); q != 0 {
		t.Fatalf("%d bytes still counted as queued after the reader drained", q)
	}
	close(stalled.gate)
	s.RemoveReader(player)

	// one unit larger than MaxBytes still passes through an empty queue
	s2 := newStream(t, 8, videoTrack)
	big := &collector{}
	r2 := &Reader{MaxBlock: time.Minute, MaxBytes: 10, OnUnit: big.onUnit}
	if err := s2.AddReader(r2); err != nil {
		t.Fatal(err)
	}
	huge := &Unit{Track: videoTrack, Key: true, Payload: make([]byte, 100)}
	s2.Write(huge)
	s2.Write(huge)
	s2.Close()
	<-r2.Err()
	if n := len(big.got()); n != 2 || r2.Dropped() != 0 {
		t.Fatalf("units larger than MaxBytes: got %d of 2, dropped %d", n, r2.Dropped())
	}
}
