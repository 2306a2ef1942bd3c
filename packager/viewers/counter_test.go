package viewers

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/roomcast/roomcast/internal/testclock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testRoom = "0b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e4f"

type testCounter struct {
	*Counter
	clk *testclock.Clock
	reg *prometheus.Registry
}

// newCounter is a Counter on an injected clock. Its sampler goroutine runs too
// but reads the same clock, so a sample it takes between two of the test's
// changes only repeats the test's.
func newCounter(t *testing.T, mod func(*Counter)) *testCounter {
	t.Helper()
	clk := testclock.New(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	c := &Counter{Registerer: reg, now: clk.Now}
	if mod != nil {
		mod(c)
	}
	if err := c.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &testCounter{Counter: c, clk: clk, reg: reg}
}

// at advances the clock by d and samples.
func (c *testCounter) at(d time.Duration) *testCounter {
	c.clk.Add(d)
	c.sample()
	return c
}

func (c *testCounter) want(t *testing.T, what string, cur, peak int) {
	t.Helper()
	if gc, gp := c.Viewers(testRoom); gc != cur || gp != peak {
		t.Fatalf("%s: viewers %d peak %d, want %d peak %d", what, gc, gp, cur, peak)
	}
}

func TestCountsDistinctViewers(t *testing.T) {
	for _, n := range []int{0, 1, 50} {
		t.Run(fmt.Sprintf("%d viewers", n), func(t *testing.T) {
			t.Parallel()
			c := newCounter(t, nil)
			c.Begin(testRoom)
			for range 3 { // a viewer's playlist, part and segment requests
				for v := range n {
					c.See(testRoom, uint64(1000+v))
				}
			}
			c.at(0).want(t, "after requests", n, n)
			c.See("ffffffff-8d1c-4c1e-9a51-3f1f1c2d3e4f", 1) // a room that is not live
			if cur, peak := c.Viewers("ffffffff-8d1c-4c1e-9a51-3f1f1c2d3e4f"); cur != 0 || peak != 0 {
				t.Fatalf("room never begun: %d, %d", cur, peak)
			}
		})
	}
}

// TestViewersExpire: a viewer counts for 30 s after its last request and not
// at 30 s (exact mode: to the second).
func TestViewersExpire(t *testing.T) {
	t.Parallel()
	c := newCounter(t, nil)
	c.Begin(testRoom)
	for v := range uint64(3) {
		c.See(testRoom, v)
	}
	c.at(0).want(t, "t0", 3, 3)
	c.at(10 * time.Second)
	c.See(testRoom, 0) // still watching at t0+10s
	c.at(19*time.Second).want(t, "t0+29s", 3, 3)
	c.at(time.Second).want(t, "t0+30s: viewers 1 and 2 stopped 30 s ago", 1, 3)
	c.at(9*time.Second).want(t, "t0+39s", 1, 3)
	c.at(time.Second).want(t, "t0+40s: everyone stopped", 0, 3)
	c.See(testRoom, 7)
	c.at(time.Second).want(t, "a new viewer", 1, 3)
}

func TestConnectedViewers(t *testing.T) {
	t.Parallel()
	c := newCounter(t, nil)
	c.Join(testRoom) // a player whose OnPlay raced the room's Begin
	c.Begin(testRoom)
	for range 4 {
		c.Join(testRoom)
	}
	c.See(testRoom, 1)
	c.See(testRoom, 2)
	c.at(0).want(t, "5 players + 2 HLS viewers", 7, 7)
	c.Leave(testRoom)
	c.Leave(testRoom)
	c.at(time.Second).want(t, "2 players left", 5, 7)
	for range 3 {
		c.Leave(testRoom)
	}
	c.at(30*time.Second).want(t, "all gone", 0, 7)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.conns) != 0 {
		t.Fatalf("connection counts left: %v", c.conns)
	}
}

// TestSketchMode: past ExactLimit a room counts with HyperLogLog buckets; the
// viewers seen before the switch stay counted, the estimate is within 2 %, and
// a viewer counts for 30 to 35 s after its last request.
func TestSketchMode(t *testing.T) {
	t.Parallel()
	c := newCounter(t, func(c *Counter) { c.ExactLimit = 100 })
	c.Begin(testRoom)
	for v := range uint64(90) {
		c.See(testRoom, v)
	}
	c.at(0).want(t, "exact", 90, 90)
	c.at(10 * time.Second)
	const n = 5000
	for v := range uint64(n) {
		c.See(testRoom, v)
	}
	c.at(0)
	if cur, _ := c.Viewers(testRoom); cur < n*98/100 || cur > n*102/100 {
		t.Fatalf("estimate %d of %d viewers", cur, n)
	}
	const active = 10
	for range 5 { // 10 viewers go on, every 5 s, for 25 s
		c.at(5 * time.Second)
		for v := range uint64(active) {
			c.See(testRoom, n+v)
		}
	}
	c.at(0) // t0+35s: the 5000 were last seen 25 s ago
	if cur, _ := c.Viewers(testRoom); cur < n*98/100 {
		t.Fatalf("viewers seen 25 s ago dropped: %d", cur)
	}
	c.at(4 * time.Second) // 29 s after the 5000 were last seen
	if cur, _ := c.Viewers(testRoom); cur < n*98/100 {
		t.Fatalf("viewers seen 29 s ago dropped: %d", cur)
	}
	c.at(6 * time.Second) // 35 s
	if cur, peak := c.Viewers(testRoom); cur < active-1 || cur > active+1 || peak < n*98/100 {
		t.Fatalf("35 s after: %d viewers (want %d±1), peak %d", cur, active, peak)
	}
}

func TestGaugeAndEnd(t *testing.T) {
	t.Parallel()
	c := newCounter(t, nil)
	c.Begin(testRoom)
	for v := range uint64(4) {
		c.See(testRoom, v)
	}
	c.Join(testRoom)
	c.at(0)
	want := `
# HELP roomcast_room_viewers Concurrent viewers of a live room: HLS/DASH viewers seen in the last 30 s (one per member) plus RTMP relay players.
# TYPE roomcast_room_viewers gauge
roomcast_room_viewers{room="` + testRoom + `"} 5
`
	if err := testutil.GatherAndCompare(c.reg, strings.NewReader(want), "roomcast_room_viewers"); err != nil {
		t.Fatal(err)
	}
	c.Begin(testRoom) // a resume keeps the count
	c.want(t, "resumed", 5, 5)
	if peak := c.End(testRoom); peak != 5 {
		t.Fatalf("End: peak %d", peak)
	}
	c.See(testRoom, 9) // a late request of the ended broadcast
	c.at(time.Second).want(t, "ended", 0, 0)
	if n, err := testutil.GatherAndCount(c.reg, "roomcast_room_viewers"); err != nil || n != 0 {
		t.Fatalf("gauge series after End: %d (%v)", n, err)
	}
	c.Leave(testRoom)
	c.Begin(testRoom) // the next broadcast starts from zero
	c.at(time.Second).want(t, "next broadcast", 0, 0)
}

// TestConcurrentUse runs requests, players, samples and room churn together
// (meant for -race); the rooms live throughout end with exact counts.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newCounter(t, nil)
	live := []string{testRoom, "1b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e4f"}
	const churn = "2b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e4f"
	for _, r := range live {
		c.Begin(r)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				v := uint64(g*100 + i%100)
				c.See(live[i%2], v)
				c.See(churn, v)
				if i%50 == 0 {
					c.Join(churn)
					c.Leave(churn)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if i%2 == 0 {
				c.Begin(churn)
			} else {
				c.End(churn)
			}
			c.sample()
		}
	})
	wg.Wait()
	c.at(0)
	for _, r := range live {
		if cur, peak := c.Viewers(r); cur != 400 || peak != 400 {
			t.Errorf("room %s: %d viewers, peak %d; want 400", r, cur, peak)
		}
	}
}

// BenchmarkSee is the per-request cost: a known viewer of a room in exact mode,
// and in sketch mode, from parallel requests.
func BenchmarkSee(b *testing.B) {
	for _, mode := range []string{"exact", "sketch"} {
		b.Run(mode, func(b *testing.B) {
			c := &Counter{}
			if mode == "sketch" {
				c.ExactLimit = 10
			}
			if err := c.Initialize(); err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			c.Begin(testRoom)
			for v := range uint64(1000) {
				c.See(testRoom, v)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				v := uint64(0)
				for pb.Next() {
					c.See(testRoom, v%1000)
					v++
				}
			})
		})
	}
}

// TestPeaksReported: OnPeaks gets the rooms whose peak rose, at most once per
// PeakInterval, and nothing when no peak rose.
func TestPeaksReported(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []map[string]int
	c := newCounter(t, func(c *Counter) {
		c.PeakInterval = 30 * time.Second
		c.OnPeaks = func(p map[string]int) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		}
	})
	reports := func(want int, what string) map[string]int {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(got) != want {
			t.Fatalf("%s: %d reports %v, want %d", what, len(got), got, want)
		}
		if want == 0 {
			return nil
		}
		return got[want-1]
	}
	c.Begin(testRoom)
	c.See(testRoom, 1)
	c.See(testRoom, 2)
	c.at(0)
	reports(0, "t0")
	c.at(29 * time.Second)
	reports(0, "t0+29s: the interval has not passed")
	if p := c.at(time.Second); reports(1, "t0+30s")[testRoom] != 2 {
		t.Fatalf("first report: %v", p)
	}
	for v := range uint64(3) {
		c.See(testRoom, 10+v)
	}
	c.at(time.Second).want(t, "three new viewers", 3, 3)
	reports(1, "t0+31s: risen, but reported 1 s ago")
	c.at(29 * time.Second)
	if r := reports(2, "t0+60s"); r[testRoom] != 3 || len(r) != 1 {
		t.Fatalf("second report: %v", r)
	}
	c.at(30 * time.Second)
	reports(2, "t0+90s: the peak did not rise")
}
