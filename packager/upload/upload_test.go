package upload

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roomcast/roomcast/internal/s3test"
	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/objstore/objstoretest"
	"github.com/roomcast/roomcast/packager/timeline"
	"github.com/roomcast/roomcast/packager/vod"
	"github.com/roomcast/roomcast/packager/vod/vodtest"
)

const testRoom = "0b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e4f"

// newClient connects to a fresh bucket of srv.
func newClient(t *testing.T, srv *s3test.Server, bucket string) *objstore.Client {
	t.Helper()
	c := objstoretest.Client(t, srv, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func startUploader(t *testing.T, dir string, c *objstore.Client) (*Uploader, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	u := &Uploader{Dir: dir, Objects: c, Registerer: reg}
	if err := u.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u, reg
}

func waitRoom(t *testing.T, u *Uploader, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := u.WaitRoom(ctx, testRoom); err != nil {
		t.Fatal(err)
	}
}

func keys(t *testing.T, c *objstore.Client, prefix string) []string {
	t.Helper()
	infos, err := c.List(context.Background(), prefix, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Key)
	}
	return out
}

// manifestOf builds the archive manifest of the room from st, without its time.
func manifestOf(t *testing.T, st vod.Store) *vod.Manifest {
	t.Helper()
	m, err := vod.Build(context.Background(), st, testRoom)
	if err != nil {
		t.Fatal(err)
	}
	m.ArchivedAt = time.Time{}
	return m
}

// TestUploadSessions: sessions on disk at start are uploaded whole (files,
// index.jsonl, no pieces left), a session written record by record is readable
// from the store at every step (pieces joined), and what the store holds
// archives exactly like the local files.
func TestUploadSessions(t *testing.T) {
	srv := s3test.Start(t)
	c := newClient(t, srv, "sessions")
	dir := t.TempDir()
	synth := &vodtest.Synth{T: t, RoomDir: filepath.Join(dir, testRoom), Segments: 3}
	synth.Session(1, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))

	u, reg := startUploader(t, dir, c)
	waitRoom(t, u, 30*time.Second)
	got := keys(t, c, testRoom+"/1/")
	want := []string{"audio2_0.m4s", "audio2_1.m4s", "audio2_2.m4s", "audio2_init0.mp4", "index.jsonl",
		"video1_0.m4s", "video1_1.m4s", "video1_2.m4s", "video1_init0.mp4"}
	for i := range want {
		want[i] = testRoom + "/1/" + want[i]
	}
	if !slices.Equal(got, want) {
		t.Errorf("stored session 1:\n got %v\nwant %v", got, want)
	}
	if n := testutil.ToFloat64(u.m.objects); n < float64(len(want)) {
		t.Errorf("roomcast_upload_objects_total %v, want ≥ %d", n, len(want))
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}

	// Session 2 grows while it is uploaded: its index is cut after the first
	// record, then restored line by line, the uploader told each time.
	sdir := synth.Session(2, time.Date(2026, 5, 1, 12, 1, 0, 0, time.UTC))
	full, err := os.ReadFile(filepath.Join(sdir, timeline.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(full, []byte("\n"))
	store := vod.ObjectStore{C: c}
	key := testRoom + "/2"
	for n := 1; n < len(lines); n++ {
		if err := os.WriteFile(filepath.Join(sdir, timeline.IndexFile), bytes.Join(lines[:n], nil), 0o644); err != nil {
			t.Fatal(err)
		}
		u.Written(key)
		// the store catches up with the index: every record stored, with its files
		eventually(t, 10*time.Second, "session 2 stored up to its local index", func() bool {
			u.mu.Lock()
			defer u.mu.Unlock()
			s := u.sessions[key]
			return s != nil && s.state.Offset == int64(len(bytes.Join(lines[:n], nil))) && !s.running && !s.queued
		})
	}
	pieces := 0
	for _, k := range keys(t, c, key+"/") {
		if strings.Contains(k, "/index.0") {
			pieces++
		}
	}
	if pieces < 2 {
		t.Errorf("session 2 while written: %d index pieces stored, want one per pass", pieces)
	}
	// Before the session completes the store's archive equals the local one.
	if local, remote := manifestOf(t, vod.DirStore(dir)), manifestOf(t, store); !sameManifest(local, remote) {
		t.Errorf("archive from the pieces differs from the local one:\n local %+v\nremote %+v", local.Sessions, remote.Sessions)
	}
	u.Ended(key)
	waitRoom(t, u, 30*time.Second)
	for _, k := range keys(t, c, key+"/") {
		if strings.Contains(k, "/index.0") {
			t.Errorf("index piece %s left after the session completed", k)
		}
	}
	if local, remote := manifestOf(t, vod.DirStore(dir)), manifestOf(t, store); !sameManifest(local, remote) {
		t.Errorf("archive from the store differs from the local one")
	}

	// A restart does not upload complete sessions again.
	u.Close()
	before := len(keys(t, c, testRoom+"/"))
	u2, _ := startUploader(t, dir, c)
	if st := u2.Stats(); st.Sessions != 0 {
		t.Errorf("after a restart, %d sessions queued again", st.Sessions)
	}
	waitRoom(t, u2, 5*time.Second)
	if testutil.ToFloat64(u2.m.objects) != 0 || len(keys(t, c, testRoom+"/")) != before {
		t.Errorf("a restart uploaded complete sessions again")
	}

	// Forget: nothing of a deleted room is uploaded any more.
	u2.Forget(testRoom)
	synth.Session(3, time.Date(2026, 5, 1, 12, 2, 0, 0, time.UTC))
	u2.Ended(testRoom + "/3")
	if st := u2.Stats(); st.Sessions != 0 {
		t.Errorf("a forgotten room's session was queued")
	}
}

func sameManifest(a, b *vod.Manifest) bool {
	if len(a.Segments) != len(b.Segments) || len(a.Sessions) != len(b.Sessions) {
		return false
	}
	for i := range a.Segments {
		if a.Segments[i].Duration != b.Segments[i].Duration || !slices.Equal(a.Sources[i], b.Sources[i]) ||
			a.Segments[i].Tracks[0].Size != b.Segments[i].Tracks[0].Size {
			return false
		}
	}
	return true
}

// TestUploadOutage: the store is killed with sessions pending; passes fail and
// are retried with backoff; once the store is back everything is stored, the
// crash-cut session's un-indexed segment included.
func TestUploadOutage(t *testing.T) {
	srv := s3test.Start(t)
	c := newClient(t, srv, "outage")
	dir := t.TempDir()
	srv.Kill()
	synth := &vodtest.Synth{T: t, RoomDir: filepath.Join(dir, testRoom), Segments: 2, NoEnd: true}
	synth.Session(1, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	u, _ := startUploader(t, dir, c)
	eventually(t, 20*time.Second, "failed passes", func() bool { return testutil.ToFloat64(u.m.failures) >= 2 })
	if st := u.Stats(); st.Sessions != 1 || st.Failing != 1 {
		t.Errorf("stats during the outage: %+v", st)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitRoom(t, u, 60*time.Second)
	if !slices.Contains(keys(t, c, testRoom+"/1/"), testRoom+"/1/index.jsonl") {
		t.Fatalf("session not complete in the store after the outage: %v", keys(t, c, testRoom+"/1/"))
	}
	if local, remote := manifestOf(t, vod.DirStore(dir)), manifestOf(t, vod.ObjectStore{C: c}); !sameManifest(local, remote) {
		t.Errorf("archive from the store after an outage differs from the local one")
	}
}

// eventually polls cond every 20 ms for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// concurrentPuts wraps the real client and records the most PutFile calls in
// progress at once.
type concurrentPuts struct {
	*objstore.Client
	now, most atomic.Int32
}

func (c *concurrentPuts) PutFile(ctx context.Context, key, path string) (int64, error) {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	return c.Client.PutFile(ctx, key, path)
}

// TestUploadWorkersShareTheQueue: sessions queued together while the workers
// are idle are uploaded by several workers at once, not one after the other.
func TestUploadWorkersShareTheQueue(t *testing.T) {
	srv := s3test.Start(t)
	c := &concurrentPuts{Client: newClient(t, srv, "workers")}
	dir := t.TempDir()
	u := &Uploader{Dir: dir, Objects: c, Workers: 4}
	if err := u.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	synth := &vodtest.Synth{T: t, RoomDir: filepath.Join(dir, testRoom), Segments: 3}
	for no := 1; no <= 12; no++ {
		synth.Session(no, time.Date(2026, 5, 1, 12, no, 0, 0, time.UTC))
	}
	for no := 1; no <= 12; no++ {
		u.Ended(testRoom + "/" + strconv.Itoa(no))
	}
	waitRoom(t, u, 60*time.Second)
	if n := c.most.Load(); n < 2 {
		t.Errorf("at most %d upload in progress at once with 12 sessions queued and 4 workers", n)
	}
	t.Logf("at most %d uploads at once (4 workers)", c.most.Load())
}
