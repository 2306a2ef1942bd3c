package control

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGetRoom measures GET /v2/apps/me/video-rooms/{id} through the real HTTP
// stack (loopback listener, Basic auth, bbolt read, JSON), in parallel.
func BenchmarkGetRoom(b *testing.B) {
	e := newEnv(b, nil)
	_, app := e.newApp("bench")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "bench room")
	url := e.srv.URL + roomPath(room)
	client := benchClient()
	b.ReportAllocs()
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
}

// BenchmarkCreateRoom measures POST /v2/apps/me/video-rooms (one bbolt write
// transaction each; the store runs with NoSync as in storagetest).
func BenchmarkCreateRoom(b *testing.B) {
	e := newEnv(b, nil)
	_, app := e.newApp("bench")
	e.newMember(app, "host")
	client := benchClient()
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
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
}
