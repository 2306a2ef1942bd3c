package vod

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"
	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/packager/timeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// TestBuildTwoSessionsWithBrokenFilesAndCrashTail: session 1 is whole; session 2
// lost a segment file in the middle, had one truncated, and crashed while writing
// segment 5 (not indexed, its last part torn). The archive keeps everything
// playable, in order, with discontinuities where time does not continue.
func TestBuildTwoSessionsWithBrokenFilesAndCrashTail(t *testing.T) {
	room := filepath.Join(t.TempDir(), testRoom)
	s := &synth{t: t, roomDir: room, segments: 3}
	s.session(1, t0)
	s.noEnd, s.segments = true, 5
	d2 := s.session(2, t0.Add(time.Minute))
	os.Remove(filepath.Join(d2, "audio2_1.m4s"))        // missing
	os.Truncate(filepath.Join(d2, "video1_3.m4s"), 100) // truncated
	// the segment in progress at the crash: 7 whole parts, then half a part
	tail := s.segment(d2, 5, t0.Add(time.Minute+10*time.Second))
	for i, tr := range tail.Tracks {
		b, _ := os.ReadFile(filepath.Join(d2, tr.File))
		frags, err := scanFragments(bytes.NewReader(b), int64(len(b)), false)
		if err != nil || len(frags) != 10 {
			t.Fatalf("track %d: %d fragments, %v", i, len(frags), err)
		}
		cut := frags[7].offset + (frags[7].end-frags[7].offset)/2
		os.WriteFile(filepath.Join(d2, tr.File), b[:cut], 0o644)
	}
	os.Mkdir(filepath.Join(room, "3"), 0o755) // a session that never got a segment

	m, err := Build(context.Background(), DirStore(filepath.Dir(room)), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	// session 1: 0 1 2; session 2: 0 2 4 5(recovered, 7 parts of 200 ms)
	want := []struct {
		disc bool
		dur  time.Duration
	}{{false, 2 * time.Second}, {false, 2 * time.Second}, {false, 2 * time.Second},
		{true, 2 * time.Second}, {true, 2 * time.Second}, {true, 2 * time.Second}, {false, 1400 * time.Millisecond}}
	if len(m.Segments) != len(want) {
		t.Fatalf("%d segments, want %d: %+v", len(m.Segments), len(want), m.Sessions)
	}
	for i, w := range want {
		sg := m.Segments[i]
		if sg.MSN != uint64(i) || sg.Discontinuity != w.disc || sg.Duration != w.dur {
			t.Errorf("segment %d: msn %d disc %v dur %v, want disc %v dur %v", i, sg.MSN, sg.Discontinuity, sg.Duration, w.disc, w.dur)
		}
	}
	if r := m.Sessions[1]; r.Skipped != 2 || r.Recovered != 1 || len(r.Notes) < 3 {
		t.Errorf("session 2 report %+v", r)
	}
	if r := m.Sessions[2]; r.Segments != 0 || len(r.Notes) == 0 {
		t.Errorf("session 3 report %+v", r)
	}
	if len(m.Versions) != 2 || m.Versions[1].Tracks[0].Init != "video1_init1.mp4" || m.Inits[1][0] != filepath.Join("2", "video1_init0.mp4") {
		t.Errorf("versions %+v inits %v", m.Versions, m.Inits)
	}
	if got := m.Sources[6][1]; got != filepath.Join("2", "audio2_5.m4s") || m.Segments[6].Tracks[1].File != "audio2_6.m4s" {
		t.Errorf("recovered segment source %s file %s", got, m.Segments[6].Tracks[1].File)
	}
	// DASH: a period per continuous run, back to back in media time.
	dtl := m.DASHTimeline()
	if dtl.Segments[3].PeriodStart != 6*time.Second || dtl.Segments[6].Period != 5 || !dtl.Segments[6].PDT.Equal(dashEpoch.Add(12*time.Second)) {
		t.Errorf("dash periods: %+v", dtl.Segments[6])
	}
	if err := m.save(context.Background(), DirStore(filepath.Dir(room))); err != nil {
		t.Fatal(err)
	}
	back, err := LoadManifest(context.Background(), DirStore(filepath.Dir(room)), testRoom)
	if err != nil || len(back.Segments) != 7 || back.Segments[6].Tracks[0].Size != m.Segments[6].Tracks[0].Size {
		t.Fatalf("manifest round trip: %v", err)
	}
}

func TestBuildNothingPlayable(t *testing.T) {
	room := filepath.Join(t.TempDir(), testRoom)
	s := &synth{t: t, roomDir: room, segments: 2}
	d := s.session(1, t0)
	for _, f := range []string{"video1_0.m4s", "video1_1.m4s"} {
		os.Remove(filepath.Join(d, f))
	}
	if _, err := Build(context.Background(), DirStore(filepath.Dir(room)), testRoom); !errors.Is(err, ErrNothingPlayable) {
		t.Fatalf("err %v, want ErrNothingPlayable", err)
	}
	if _, err := Build(context.Background(), DirStore(filepath.Join(t.TempDir(), "none")), testRoom); !errors.Is(err, ErrNothingPlayable) {
		t.Fatalf("no media: err %v", err)
	}
}

// TestMP4Layout reads the whole progressive MP4 through mp4File and checks it with
// mp4ff: sample counts, durations, and that every chunk offset lands on the
// samples of its own track.
func TestMP4Layout(t *testing.T) {
	room := filepath.Join(t.TempDir(), testRoom)
	s := &synth{t: t, roomDir: room, segments: 3}
	s.session(1, t0)
	s.session(2, t0.Add(time.Minute))
	m, err := Build(context.Background(), DirStore(filepath.Dir(room)), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	l, err := buildMP4(context.Background(), DirStore(filepath.Dir(room)), m)
	if err != nil {
		t.Fatal(err)
	}
	f := newMP4File(context.Background(), DirStore(filepath.Dir(room)), l)
	defer f.Close()
	all, err := io.ReadAll(f)
	if err != nil || int64(len(all)) != l.size {
		t.Fatalf("read %d of %d bytes: %v", len(all), l.size, err)
	}
	dec, err := mp4ff.DecodeFile(bytes.NewReader(all))
	if err != nil {
		t.Fatal(err)
	}
	if len(dec.Moov.Traks) != 2 {
		t.Fatalf("%d traks", len(dec.Moov.Traks))
	}
	wantSamples := []int{6 * 60, 6 * 95}
	prefix := [][]byte{{0, 0, 0, 2, 0x09}, {0x21, 0x10, 0x04}}
	for i, trak := range dec.Moov.Traks {
		stbl := trak.Mdia.Minf.Stbl
		n := int(stbl.Stsz.SampleNumber)
		if n != wantSamples[i] {
			t.Errorf("track %d: %d samples, want %d", i, n, wantSamples[i])
		}
		var dur uint64
		for j, c := range stbl.Stts.SampleCount {
			dur += uint64(c) * uint64(stbl.Stts.SampleTimeDelta[j])
		}
		if got := timeline.TicksToDuration(dur, trak.Mdia.Mdhd.Timescale); got < 12*time.Second || got > 12300*time.Millisecond {
			t.Errorf("track %d lasts %v", i, got)
		}
		// walk chunks: every sample payload starts with its track's pattern
		sample := 0
		chunks := len(stbl.Stco.ChunkOffset)
		for c := 0; c < chunks; c++ {
			spc := 0
			for _, e := range stbl.Stsc.Entries {
				if int(e.FirstChunk) <= c+1 {
					spc = int(e.SamplesPerChunk)
				}
			}
			off := int64(stbl.Stco.ChunkOffset[c])
			for k := 0; k < spc; k++ {
				size := int64(stbl.Stsz.GetSampleSize(sample + 1))
				if !bytes.HasPrefix(all[off:off+size], prefix[i]) {
					t.Fatalf("track %d sample %d at %d: % x", i, sample, off, all[off:off+size])
				}
				off += size
				sample++
			}
		}
		if sample != n {
			t.Errorf("track %d: chunks hold %d samples of %d", i, sample, n)
		}
	}
	// Seek + Read agrees with the whole read anywhere
	for _, at := range []int64{0, int64(len(l.header)) - 3, int64(len(l.header)) + 17, l.size - 5} {
		f.Seek(at, io.SeekStart)
		buf := make([]byte, 64)
		n, _ := io.ReadFull(f, buf)
		if !bytes.Equal(buf[:n], all[at:at+int64(n)]) {
			t.Errorf("read at %d differs", at)
		}
	}
}

// testArchiver runs an Archiver over dir; outcomes and expiries arrive on
// finished and expired.
type testArchiver struct {
	*Archiver
	finished chan error
	expired  chan string
}

func newTestArchiver(t *testing.T, dir string) *testArchiver {
	ta := &testArchiver{finished: make(chan error, 10), expired: make(chan string, 10)}
	ta.Archiver = &Archiver{
		Dir: dir,
		Finished: func(_ context.Context, room string, err error) error {
			ta.finished <- err
			return nil
		},
		Expired: func(_ context.Context, room string) error {
			ta.expired <- room
			return nil
		},
	}
	if err := ta.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ta.Close)
	return ta
}

func (ta *testArchiver) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-ta.finished:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("archive job did not finish")
		return nil
	}
}

// TestArchiveWaitsUntilWritten: an archive job starts once WaitWritten says the
// room's sessions are written to the end (the packager's streams ended), not before.
func TestArchiveWaitsUntilWritten(t *testing.T) {
	dir := t.TempDir()
	s := &synth{t: t, roomDir: filepath.Join(dir, testRoom), segments: 2}
	s.session(1, t0)
	written := make(chan struct{})
	asked := make(chan struct{})
	ta := newTestArchiverConfig(t, dir, func(a *Archiver) {
		a.WaitWritten = func(ctx context.Context, room string) error {
			close(asked)
			select {
			case <-written:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	ta.Archive(testRoom)
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("WaitWritten not called")
	}
	if _, err := os.Stat(filepath.Join(dir, testRoom, ManifestFile)); !os.IsNotExist(err) {
		t.Fatalf("archived while still written: %v", err)
	}
	select {
	case err := <-ta.finished:
		t.Fatalf("finished while still written: %v", err)
	default:
	}
	close(written)
	if err := ta.wait(t); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, testRoom, ManifestFile)); err != nil {
		t.Fatal(err)
	}
}

// TestOpenNotListed: names the VOD does not list are fs.ErrNotExist.
func TestOpenNotListed(t *testing.T) {
	dir := t.TempDir()
	s := &synth{t: t, roomDir: filepath.Join(dir, testRoom), segments: 2}
	s.session(1, t0)
	ta := newTestArchiver(t, dir)
	ta.Archive(testRoom)
	if err := ta.wait(t); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"video1_2.m4s", "video1_01.m4s", "video9_1.m4s", "video1_init1.mp4", "video1_x.m4s",
		"video9.m3u8", "../vod.json", "vod.json"} {
		if f, err := ta.Open(context.Background(), testRoom, name, ""); !errors.Is(err, fs.ErrNotExist) {
			if f != nil {
				f.Close()
			}
			t.Errorf("%s: %v", name, err)
		}
	}
	f, err := ta.Open(context.Background(), testRoom, "video1_1.m4s", "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f.Content)
	st, _ := os.Stat(filepath.Join(dir, testRoom, "1", "video1_1.m4s"))
	if err != nil || int64(len(b)) != st.Size() || f.ContentType != "video/mp4" || f.Body != nil {
		t.Fatalf("segment: %d bytes, %v, %s", len(b), err, f.ContentType)
	}
}

func TestArchiveFailsWhenNothingPlayable(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, testRoom, "1"), 0o755)
	ta := newTestArchiver(t, dir)
	ta.Archive(testRoom)
	if err := ta.wait(t); !errors.Is(err, ErrNothingPlayable) {
		t.Fatalf("err %v", err)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	s := &synth{t: t, roomDir: filepath.Join(dir, testRoom), segments: 1}
	s.session(1, t0)
	m, err := Build(context.Background(), DirStore(filepath.Dir(s.roomDir)), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	m.ArchivedAt = time.Now().Add(-49 * time.Hour)
	if err := m.save(context.Background(), DirStore(dir)); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-49 * time.Hour) // the manifest's mtime is the archive time
	if err := os.Chtimes(filepath.Join(s.roomDir, ManifestFile), old, old); err != nil {
		t.Fatal(err)
	}
	ta := newTestArchiverConfig(t, dir, func(a *Archiver) { a.Retention = 48 * time.Hour })
	select {
	case room := <-ta.expired:
		if room != testRoom {
			t.Fatalf("expired %s", room)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not expired")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(s.roomDir); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("media not deleted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTestArchiverConfig(t *testing.T, dir string, conf func(*Archiver)) *testArchiver {
	ta := newTestArchiver(t, dir)
	ta.Close()
	conf(ta.Archiver)
	if err := ta.Initialize(); err != nil {
		t.Fatal(err)
	}
	return ta
}

func FuzzScanFragments(f *testing.F) {
	s := &synth{t: &testing.T{}, roomDir: f.TempDir(), segments: 1}
	d := s.session(1, t0)
	b, _ := os.ReadFile(filepath.Join(d, "video1_0.m4s"))
	f.Add(b[:300])
	f.Add([]byte{0, 0, 0, 8, 'm', 'o', 'o', 'f'})
	f.Fuzz(func(t *testing.T, data []byte) {
		frags, _ := scanFragments(bytes.NewReader(data), int64(len(data)), true)
		for _, fr := range frags {
			if fr.dataOff < 0 || fr.dataOff+fr.dataSize > int64(len(data)) || fr.end > int64(len(data)) {
				t.Fatalf("fragment outside the data: %+v", fr)
			}
		}
	})
}

func BenchmarkBuild(b *testing.B) {
	room := filepath.Join(b.TempDir(), testRoom)
	s := &synth{t: &testing.T{}, roomDir: room, segments: 300} // 10 minutes
	s.session(1, t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(context.Background(), DirStore(filepath.Dir(room)), testRoom); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMP4Layout(b *testing.B) {
	room := filepath.Join(b.TempDir(), testRoom)
	s := &synth{t: &testing.T{}, roomDir: room, segments: 300}
	s.session(1, t0)
	m, err := Build(context.Background(), DirStore(filepath.Dir(room)), testRoom)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildMP4(context.Background(), DirStore(filepath.Dir(room)), m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuildRecoversSessionWithNothingIndexed: a crash before the first segment of
// a session was indexed leaves segment files numbered after the stream's preview
// (a session bound mid-stream does not start at MSN 0); they are recovered.
func TestBuildRecoversSessionWithNothingIndexed(t *testing.T) {
	room := filepath.Join(t.TempDir(), testRoom)
	s := &synth{t: t, roomDir: room, segments: 0, noEnd: true}
	d := s.session(1, t0)
	s.segment(d, 7, t0)
	s.segment(d, 8, t0.Add(2*time.Second))
	m, err := Build(context.Background(), DirStore(filepath.Dir(room)), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) != 2 || m.Sessions[0].Recovered != 2 || m.Duration() != 4*time.Second {
		t.Fatalf("%d segments, %v, report %+v", len(m.Segments), m.Duration(), m.Sessions[0])
	}
	if m.Sources[0][0] != filepath.Join("1", "video1_7.m4s") || m.Sources[1][1] != filepath.Join("1", "audio2_8.m4s") {
		t.Errorf("sources %v", m.Sources)
	}
}
