package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// TestRestart closes the store and reopens it: apps, members, keys, rooms, tokens
// (including revocations) and the live state survive.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roomcast.db")
	open := func() *storage.Store {
		s, err := storage.Open(path, storage.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	s1 := open()
	e1 := newEnv(t, s1)
	creds, app := e1.newApp("app")
	host := e1.newMember(app, "host")
	revoked := e1.newMember(app, "revoked")
	e1.must(200, "POST", "/v2/apps/me/members/revoked/tokens", app, `{"revokeExisting":true}`)
	room := e1.newRoom(app, "host", "Persist")
	if _, err := e1.c.PublishStarted(ctx, host.Key, "RTMP_CMAF"); err != nil {
		t.Fatal(err)
	}
	before := e1.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil).JSON()
	e1.must(200, "POST", "/v2/members/me/video-rooms/"+idString(room["id"])+"/join", bearer(host.Access), nil)
	e1.srv.Close()
	e1.c.Close()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open()
	t.Cleanup(func() { _ = s2.Close() })
	e2 := newEnv(t, s2)
	if err := e2.c.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	after := e2.must(200, "GET", roomPath(room), basic(creds), nil).JSON()
	checkRoom(t, after, "LIVE_INACTIVE", "INACTIVE_LIVE", 1)
	for _, f := range []string{"uuid", "createdAt", "liveStartedAt", "scheduledAt", "title"} {
		if after[f] != before[f] {
			t.Errorf("%s changed across restart: %v → %v", f, before[f], after[f])
		}
	}
	e2.must(200, "GET", "/v2/members/me", bearer(host.Access), nil)
	if _, err := e2.c.VerifyStreamingToken(host.Streaming); err != nil {
		t.Fatalf("streaming token after restart: %v", err)
	}
	e2.fail(401, "UNAUTHORIZED", "GET", "/v2/members/me", bearer(revoked.Access), nil)
	k := e2.must(200, "GET", "/v2/apps/me/members/host/stream-key", basic(creds), nil).JSON()
	if k["streamKey"] != host.Key {
		t.Fatal("stream key changed across restart")
	}
	if ids, _ := e2.c.ChannelMembers(uint64(room["id"].(float64))); len(ids) != 1 || ids[0] != host.ID {
		t.Fatalf("channel members after restart = %v", ids)
	}
	ps, err := e2.c.PublishStarted(ctx, host.Key, "")
	if err != nil || ps.SessionNo != 2 {
		t.Fatalf("resume after restart = %+v, %v", ps, err)
	}
	// New IDs continue after the old ones.
	r2 := e2.newRoom(basic(creds), "host", "Next")
	if r2["id"].(float64) <= room["id"].(float64) {
		t.Fatalf("room id %v after %v", r2["id"], room["id"])
	}
}

// TestRequestLocked holds the start of a room inside its OnSessionLive hook and checks
// that concurrent actions on that room get REQUEST_LOCKED while other rooms proceed.
func TestRequestLocked(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	other := e.newMember(app, "other")
	room := e.newRoom(app, "host", "Locked")
	free := e.newRoom(app, "other", "Free")
	if _, err := e.c.PublishStarted(ctx, host.Key, ""); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	e.c.OnSessionLive = func(s control.SessionInfo) {
		if s.RoomUUID == room["uuid"] {
			close(entered)
			<-release
		}
	}
	done := make(chan resp, 1)
	go func() { done <- e.do("POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("start did not reach the hook")
	}
	var wg sync.WaitGroup
	for _, p := range []string{"/rtmp-broadcast/state/live", "/rtmp-broadcast/state/ended", "/rtmp-broadcast/state/cancelled"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", roomPath(room)+p, app, nil)
			if r.Status != 400 || r.Code() != "REQUEST_LOCKED" {
				t.Errorf("%s during start: %d %s", p, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	e.fail(400, "REQUEST_LOCKED", "DELETE", roomPath(room), app, nil)
	e.fail(400, "REQUEST_LOCKED", "POST", "/v2/members/me/video-rooms/"+idString(room["id"])+"/start", bearer(host.Access), nil)
	e.must(200, "POST", roomPath(free)+"/rtmp-broadcast/state/cancelled", app, nil)
	_ = other
	close(release)
	select {
	case r := <-done:
		if r.Status != 200 {
			t.Fatalf("held start: %d %s", r.Status, r.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held start did not finish")
	}
}

// TestConcurrentStarts fires many starts at once: exactly one wins, the others get
// REQUEST_LOCKED or (when they came after it) VIDEO_ROOM_STATE_NOT_SCHEDULED.
func TestConcurrentStarts(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	room := e.newRoom(app, "host", "Race")
	if _, err := e.c.PublishStarted(context.Background(), host.Key, ""); err != nil {
		t.Fatal(err)
	}
	const n = 16
	results := make(chan resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results <- e.do("POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	wins := 0
	for r := range results {
		switch {
		case r.Status == 200:
			wins++
		case r.Code() == "REQUEST_LOCKED" || r.Code() == "VIDEO_ROOM_STATE_NOT_SCHEDULED":
		default:
			t.Errorf("unexpected answer %d %s", r.Status, r.Body)
		}
	}
	if wins != 1 {
		t.Fatalf("%d starts won", wins)
	}
	if got := len(e.rec.lives); got != 1 {
		t.Fatalf("OnSessionLive called %d times", got)
	}
}

// TestConcurrentPublishers: two publishers on one key at once, one wins.
func TestConcurrentPublishers(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.c.PublishStarted(context.Background(), host.Key, "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, control.ErrAlreadyPublishing):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d publishers accepted", ok)
	}
}

// TestStoreInconsistencies drives the error codes only reachable when the stored
// states disagree (a room whose key vanished, a key that is not bound).
func TestStoreInconsistencies(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "Broken")
	id := uint64(room["id"].(float64))
	edit := func(fn func(*storage.Room)) {
		t.Helper()
		err := e.store.Update(func(tx *storage.Tx) error {
			r, err := tx.Room(id)
			if err != nil {
				return err
			}
			fn(&r)
			return tx.PutRoom(&r)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	edit(func(r *storage.Room) { r.StreamKeyID = 999 })
	e.fail(404, "STREAM_KEY_NOT_FOUND", "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	e.fail(404, "STREAM_KEY_NOT_FOUND", "POST", roomPath(room)+"/rtmp-broadcast/state/ended", app, nil)
	edit(func(r *storage.Room) { r.StreamKeyID = 1; r.VideoRoomState = "LIVE_INACTIVE" })
	e.fail(400, "STREAM_KEY_STATE_NOT_INACTIVE_LIVE", "POST", roomPath(room)+"/rtmp-broadcast/state/ended", app, nil)
}

func TestEnsureDefaultApp(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	ctx := context.Background()
	created, creds, err := e.c.EnsureDefaultApp(ctx, dir, "fixed-key", "fixed-secret")
	if err != nil || !created || creds.AppID != 1 || creds.APIKey != "fixed-key" || creds.APISecret != "fixed-secret" {
		t.Fatalf("EnsureDefaultApp = %v %+v %v", created, creds, err)
	}
	path := filepath.Join(dir, control.CredentialsFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(path)
	var onDisk control.Credentials
	if err := json.Unmarshal(raw, &onDisk); err != nil || onDisk != creds {
		t.Fatalf("credentials.json = %s", raw)
	}
	e.must(http.StatusOK, "GET", "/v2/apps/me/video-rooms", basic(creds), nil)
	created, _, err = e.c.EnsureDefaultApp(ctx, dir, "", "")
	if err != nil || created {
		t.Fatalf("second EnsureDefaultApp: %v %v", created, err)
	}
	// Generated credentials for a new app.
	c2, err := e.c.CreateApp(ctx, "second")
	if err != nil || c2.AppID != 2 || len(c2.APISecret) < 32 || c2.APIKey == "" {
		t.Fatalf("CreateApp = %+v %v", c2, err)
	}
	e.must(http.StatusOK, "GET", "/v2/apps/me/video-rooms", basic(c2), nil)
	if _, err := e.c.CreateApp(ctx, ""); err == nil {
		t.Fatal("CreateApp accepted an empty name")
	}
	// The stored app keeps only the hash.
	_ = e.store.View(func(tx *storage.Tx) error {
		a, _ := tx.App(1)
		if string(a.APISecretHash) == "fixed-secret" || len(a.APISecretHash) != 32 {
			t.Errorf("stored secret = %x", a.APISecretHash)
		}
		return nil
	})
	// Fresh generated defaults.
	e2 := newEnv(t, nil)
	created, c3, err := e2.c.EnsureDefaultApp(ctx, t.TempDir(), "", "")
	if err != nil || !created || c3.APIKey == "" || c3.APISecret == "" {
		t.Fatalf("generated default = %+v %v", c3, err)
	}
}

func TestAutoEnd(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	room := e.must(201, "POST", "/v2/apps/me/video-rooms", app, map[string]any{
		"appUserId": "host", "type": "BROADCAST_RTMP", "scheduledAt": "2025-03-01T13:00:00Z",
		"autoEnd": map[string]any{"inactiveSeconds": 1}}).JSON()
	ps, err := e.c.PublishStarted(ctx, host.Key, "")
	if err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	// A drop followed by a resume disarms the timer.
	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PublishStarted(ctx, host.Key, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.must(200, "GET", roomPath(room), app, nil).JSON()
		if got["videoRoomState"] == "ENDED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("room not auto-ended: %v", got["videoRoomState"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIngestCapacity(t *testing.T) {
	e := newEnv(t, nil)
	e.c.IngestCapacity(events.EventIngestNearLimit, 8, 10)
	e.c.IngestCapacity("bogus", 1, 1)
	names := e.rec.names()
	if len(names) != 1 || names[0] != events.EventIngestNearLimit {
		t.Fatalf("events = %v", names)
	}
	ev := e.rec.last()
	if ev.AppID != 0 || ev.Seq == 0 || !contains(ev.Webhook, `"payload":{"current":8,"limit":10}`) || ev.Message != nil {
		t.Fatalf("capacity event = %+v %s", ev, ev.Webhook)
	}
}
