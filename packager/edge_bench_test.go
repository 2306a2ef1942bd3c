package packager

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkEdgeHop serves the same live requests from the node that packages
// the session (holder) and through another node (edge: Upstream = the holder),
// over real loopback HTTP with 8 concurrent viewers: a signed part (immutable:
// the edge serves it from its cache after one fetch) and a media playlist
// (per-viewer: the edge fetches it each time). It reports req/s, p99 latency
// and the process CPU per request (client, edge and holder share the process:
// the edge's cost is the difference between the two).
func BenchmarkEdgeHop(b *testing.B) {
	key := []byte("bench signing key................")
	holder, _ := benchEnvWith(b, func(p *Packager) { p.SignKey = key })
	hsrv := httptest.NewServer(holder.Handler())
	b.Cleanup(hsrv.Close)
	edge := &Packager{Dir: b.TempDir(), VerifyToken: verifyTestToken, SignKey: key,
		Upstream: func(context.Context, string, int) (string, error) { return hsrv.URL, nil }}
	if err := edge.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(edge.Close)
	esrv := httptest.NewServer(edge.Handler())
	b.Cleanup(esrv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	playlist := "/live/" + testRoom + "/1/video1.m3u8?streamingToken=" + testToken
	res, err := client.Get(hsrv.URL + playlist)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	parts := regexp.MustCompile(`URI="([^"]+_p\d+\.m4s[^"]*)"`).FindAllStringSubmatch(string(body), -1)
	if len(parts) == 0 {
		b.Fatalf("no part in:\n%s", body)
	}
	part := "/live/" + testRoom + "/1/" + parts[0][1] // the preload hint, last, does not exist yet
	for _, c := range []struct{ name, base, path string }{
		{"holder/part", hsrv.URL, part},
		{"edge/part", esrv.URL, part},
		{"holder/playlist", hsrv.URL, playlist},
		{"edge/playlist", esrv.URL, playlist},
	} {
		b.Run(c.name, func(b *testing.B) {
			var mu sync.Mutex
			var lat []time.Duration
			cpu0 := cpuTime()
			start := time.Now()
			b.SetParallelism(4) // 8 viewers on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					t0 := time.Now()
					res, err := client.Get(c.base + c.path)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			slices.Sort(lat)
			n := float64(b.N)
			b.ReportMetric(n/time.Since(start).Seconds(), "req/s")
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/n, "cpu-µs/req")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
