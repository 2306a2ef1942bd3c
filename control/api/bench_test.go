package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control"
)

// BenchmarkGetRoom measures GET /v2/apps/me/video-rooms/{id} through the real HTTP
// stack (loopback listener, Basic auth, bbolt read, JSON), in parallel.
func BenchmarkGetRoom(b *testing.B) {
	e := newEnv(b, nil)
	_, app := e.newApp("bench")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "bench room")
	url := e.srv.URL + roomPath(room)
	client := benchClient(b)
	b.ReportAllocs()
	before := e.c.Store.EngineStats()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", string(app))
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64(e.c.Store.EngineStats().Reads-before.Reads)/float64(b.N), "etcd-reads/op")
}

// BenchmarkCreateRoom measures POST /v2/apps/me/video-rooms (one bbolt write
// transaction each; the store runs with NoSync as in storagetest).
func BenchmarkCreateRoom(b *testing.B) {
	e := newEnv(b, nil)
	_, app := e.newApp("bench")
	e.newMember(app, "host")
	client := benchClient(b)
	url := e.srv.URL + "/v2/apps/me/video-rooms"
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"appUserId":"host","type":"BROADCAST_RTMP","title":"r%d","scheduledAt":"2025-03-01T13:00:00Z"}`, n.Add(1))
			req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", string(app))
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 201 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// benchClient keeps enough idle connections for RunParallel.
func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// BenchmarkGetRoomHandler is GET room through echo's ServeHTTP without the network:
// the server's own cost per request (auth cache, one bbolt View, JSON).
func BenchmarkGetRoomHandler(b *testing.B) {
	e := newEnv(b, nil)
	_, app := e.newApp("bench")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "bench room")
	h := e.api.Handler()
	path := roomPath(room)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", string(app))
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

// BenchmarkCreateRoomStore creates rooms through createRoom (no HTTP) and reports
// the database file size per room; run with -benchtime=100000x for the 100 000-room
// figure.
func BenchmarkCreateRoomStore(b *testing.B) {
	e := newEnv(b, nil)
	creds, app := e.newApp("bench")
	e.newMember(app, "host")
	spec := control.RoomSpec{AppUserID: "host", Type: control.VideoRoomTypeBroadcastRTMP, Title: "a typical room title",
		Description: "a description of moderate length for the room", AccessLevel: control.AccessLevelPublic,
		ScheduledAt: time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)}
	owner := func(tx *storageTx) (storageMember, error) { return tx.MemberByAppUserID(creds.AppID, "host") }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.c.CreateRoom(creds.AppID, spec, owner, creatorApp, creds.AppID); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(e.store.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/float64(b.N), "dbbytes/room")
	b.ReportMetric(float64(fi.Size())/(1<<20), "dbMiB")
}

// BenchmarkBroadcast runs whole broadcasts through the real HTTP API and the
// ingest's transitions: create a room, publish (preview), go LIVE, drop, resume
// (session 2), drop, end — six store transactions that change state, five of
// them room or key transitions. It reports the mean latency of a transition
// and, on etcd (ROOMCAST_TEST_STORE=etcd), the etcd requests per broadcast.
func BenchmarkBroadcast(b *testing.B) {
	e := newEnv(b, nil)
	_, app := e.newApp("bench")
	host := e.newMember(app, "host")
	ctx := context.Background()
	before := e.c.Store.EngineStats()
	var transitions time.Duration
	b.ResetTimer()
	for i := range b.N {
		room := e.newRoom(app, "host", fmt.Sprintf("broadcast %d", i))
		path := roomPath(room)
		t0 := time.Now()
		ps, err := e.c.PublishStarted(ctx, host.Key, "CMAF")
		if err != nil {
			b.Fatal(err)
		}
		e.must(200, "POST", path+"/rtmp-broadcast/state/live", app, nil)
		for _, step := range []func() error{
			func() error { return e.c.PublishStopped(ctx, ps.KeyID, "CONNECTION_ERROR") },
			func() error { _, err := e.c.PublishStarted(ctx, host.Key, "CMAF"); return err },
			func() error { return e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH") },
		} {
			if err := step(); err != nil {
				b.Fatal(err)
			}
		}
		e.must(200, "POST", path+"/rtmp-broadcast/state/ended", app, nil)
		transitions += time.Since(t0)
	}
	b.StopTimer()
	after := e.c.Store.EngineStats()
	n := float64(b.N)
	b.ReportMetric(float64(transitions.Microseconds())/1000/(6*n), "ms/transition")
	b.ReportMetric(float64(after.Reads-before.Reads)/n, "etcd-reads/broadcast")
	b.ReportMetric(float64(after.Commits-before.Commits)/n, "etcd-txns/broadcast")
}
