package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/internal/testwait"
	"github.com/roomcast/roomcast/packager/viewers"
	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// liveViewers is the LiveStats of a real viewers.Counter, as cmd wires it.
type liveViewers struct{ *viewers.Counter }

func (liveViewers) IngestHealth(uint64) *publish.Health         { return nil }
func (liveViewers) IngestHistory(uint64) []publish.HealthSample { return nil }

// TestPeakViewersKept: the room JSON shows the live viewer counts; the peak is
// stored with the room when it leaves LIVE (LIVE_INACTIVE, ENDED), raised by a
// resumed session, shown after the end with viewerCount 0, and still there
// after a restart of the control plane over the same bbolt file.
func TestPeakViewersKept(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t)
	counter := &viewers.Counter{}
	if err := counter.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer counter.Close()
	e := newEnvWith(t, store, func(c *control.Control) { c.Live = liveViewers{counter} })
	ctx := context.Background()
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	room := e.newRoom(app, "host", "Peak")
	uuid := room["uuid"].(string)
	stats := func(e *env) (int, int) {
		s := e.must(200, "GET", roomPath(room), app, nil).JSON()["stats"].(map[string]any)
		return int(s["viewerCount"].(float64)), int(s["peakViewerCount"].(float64))
	}
	waitStats := func(cur, peak int) {
		t.Helper()
		testwait.Until(t, 10*time.Second, fmt.Sprintf("viewerCount %d and peakViewerCount %d", cur, peak), func() bool {
			c, p := stats(e) // the counter samples once per second
			return c == cur && p == peak
		})
	}
	stored := func() int {
		t.Helper()
		var peak int
		if err := store.View(func(tx *storageTx) error {
			r, err := tx.Room(uint64(room["id"].(float64)))
			peak = r.PeakViewerCount
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return peak
	}

	ps, err := e.c.PublishStarted(ctx, host.Key, "CMAF")
	if err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	counter.Begin(uuid) // cmd: OnSessionLive
	for m := range uint64(4) {
		counter.See(uuid, 100+m)
	}
	waitStats(4, 4)
	if stored() != 0 {
		t.Fatal("peak stored while LIVE (a store write per count)")
	}
	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	if p := stored(); p != 4 {
		t.Fatalf("stored peak at LIVE_INACTIVE: %d, want 4", p)
	}
	waitStats(4, 4) // LIVE_INACTIVE still shows the viewers (RTMP players wait, HLS viewers linger)

	// The broadcast resumes with two more viewers: peak 6, stored at the end.
	if _, err := e.c.PublishStarted(ctx, host.Key, "CMAF"); err != nil {
		t.Fatal(err)
	}
	counter.Begin(uuid)
	counter.See(uuid, 104)
	counter.See(uuid, 105)
	waitStats(6, 6)
	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/ended", app, nil)
	if peak := counter.End(uuid); peak != 6 { // cmd: OnRoomEnded
		t.Fatalf("counter peak %d", peak)
	}
	if p := stored(); p != 6 {
		t.Fatalf("stored peak at ENDED: %d, want 6", p)
	}
	if c, p := stats(e); c != 0 || p != 6 {
		t.Fatalf("ended room: viewerCount %d peakViewerCount %d, want 0 and 6", c, p)
	}

	// A restart: a new Control over the same file, without a counter.
	e.srv.Close()
	e.c.Close()
	e2 := newEnv(t, store)
	if c, p := stats(e2); c != 0 || p != 6 {
		t.Fatalf("after restart: viewerCount %d peakViewerCount %d, want 0 and 6", c, p)
	}
}

// TestPeakViewersSurviveCrash: while a room is LIVE the counter reports its
// rising peak (OnPeaks → RecordPeakViewers, here every second), so a process
// that dies without any transition still leaves the peak in the store: the next
// process recovers the room to LIVE_INACTIVE and shows it.
func TestPeakViewersSurviveCrash(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t)
	var e *env
	counter := &viewers.Counter{PeakInterval: time.Second, OnPeaks: func(p map[string]int) {
		if err := e.c.RecordPeakViewers(context.Background(), p); err != nil {
			t.Errorf("RecordPeakViewers: %v", err)
		}
	}}
	e = newEnvWith(t, store, func(c *control.Control) { c.Live = liveViewers{counter} })
	if err := counter.Initialize(); err != nil {
		t.Fatal(err)
	}
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	room := e.newRoom(app, "host", "Crash")
	uuid := room["uuid"].(string)
	if _, err := e.c.PublishStarted(context.Background(), host.Key, "CMAF"); err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	counter.Begin(uuid)
	for m := range uint64(3) {
		counter.See(uuid, 100+m)
	}
	testwait.Until(t, 10*time.Second, "peak 3 stored while LIVE", func() bool {
		var stored int
		if err := store.View(func(tx *storageTx) error {
			r, err := tx.RoomByUUID(uuid)
			stored = r.PeakViewerCount
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return stored == 3
	})
	// The crash: no transition, no End; a new control plane over the same file.
	counter.Close()
	e.srv.Close()
	e.c.Close()
	e2 := newEnv(t, store)
	if err := e2.c.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := e2.must(200, "GET", roomPath(room), app, nil).JSON()
	s := got["stats"].(map[string]any)
	if got["videoRoomState"] != "LIVE_INACTIVE" || s["peakViewerCount"] != float64(3) || s["viewerCount"] != float64(0) {
		t.Fatalf("after the crash: %v %v", got["videoRoomState"], s)
	}
}
