package viewers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the Counter's optional fields.
const (
	DefaultWindow     = 30 * time.Second
	DefaultInterval   = time.Second
	DefaultExactLimit = 1024
	// DefaultPeakInterval is how often rising peaks are reported (OnPeaks).
	DefaultPeakInterval = 30 * time.Second
)

const (
	// sketchBuckets cut the window in sketch mode; one more bucket is in progress.
	sketchBuckets = 6
	// sketchPrecision: 2^14 one-byte registers (16 KiB), standard error 0.81 %.
	sketchPrecision = 14
)

// Counter counts the concurrent viewers of live rooms (package doc). Set the
// exported fields, call Initialize, Begin a room when its broadcast goes live and
// End it when the broadcast is over, and Close at shutdown.
type Counter struct {
	// Window is how long a viewer counts after its last request (default 30 s).
	Window time.Duration
	// Interval is the sampling period and the clock's resolution (default 1 s).
	Interval time.Duration
	// ExactLimit is the number of distinct viewers in the window a room counts
	// exactly before it switches to HyperLogLog sketches (default 1024).
	ExactLimit int
	// Log receives a room's switch to sketch mode and its peak at End; nil
	// discards.
	Log *slog.Logger
	// OnPeaks receives, at most once per PeakInterval, the rooms whose peak rose
	// since it was last reported, with that peak (cmd stores them, so a crash
	// loses at most PeakInterval of a rising peak). It runs on the sampler
	// goroutine; nil: peaks are not reported.
	OnPeaks func(peaks map[string]int)
	// PeakInterval is how often OnPeaks may be called (default 30 s).
	PeakInterval time.Duration
	// Registerer receives roomcast_room_viewers{room}, the concurrent viewers of
	// each live room (one series per room between Begin and End). Nil: no metrics.
	Registerer prometheus.Registerer

	// now is the clock (tests inject one); default time.Now.
	now func() time.Time

	start       time.Time
	tick        atomic.Uint32 // Intervals since start, advanced by sample
	windowTicks uint32
	bucketTicks uint32
	rooms       sync.Map // room UUID → *room
	gauge       *prometheus.GaugeVec
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	sampling sync.Mutex // one sample at a time
	scratch  *hyperloglog.Sketch
	peakTick uint32 // tick of the last OnPeaks (sampler only)
	peakN    uint32 // PeakInterval in ticks

	mu    sync.Mutex
	conns map[string]int // room → connected viewers (Join − Leave)
}

// room is the state of one live room.
type room struct {
	current, peak atomic.Int64 // published by the sampler
	reported      int64        // the peak last given to OnPeaks (sampler only)

	mu      sync.Mutex
	seen    map[uint64]uint32 // exact mode: viewer → tick of its last request
	buckets []bucket          // sketch mode (sketchBuckets+1 long), nil in exact mode
	ended   bool
}

// bucket is one time slice of a room in sketch mode.
type bucket struct {
	epoch uint32 // tick / bucketTicks of the requests it holds
	hll   *hyperloglog.Sketch
}

// Initialize applies the defaults, registers the gauge and starts the sampler.
func (c *Counter) Initialize() error {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Window < c.Interval {
		return fmt.Errorf("viewers: window %v shorter than interval %v", c.Window, c.Interval)
	}
	if c.ExactLimit <= 0 {
		c.ExactLimit = DefaultExactLimit
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.PeakInterval <= 0 {
		c.PeakInterval = DefaultPeakInterval
	}
	c.peakN = uint32(max((c.PeakInterval+c.Interval-1)/c.Interval, 1))
	c.windowTicks = uint32((c.Window + c.Interval - 1) / c.Interval)
	c.bucketTicks = max(c.windowTicks/sketchBuckets, 1)
	c.start = c.now()
	scratch, err := hyperloglog.NewSketch(sketchPrecision, false)
	if err != nil {
		return fmt.Errorf("viewers: %w", err)
	}
	c.scratch = scratch
	if c.Registerer != nil {
		c.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "roomcast_room_viewers",
			Help: "Concurrent viewers of a live room: HLS/DASH viewers seen in the last 30 s (one per member) plus RTMP relay players.",
		}, []string{"room"})
		if err := c.Registerer.Register(c.gauge); err != nil {
			return fmt.Errorf("viewers: register metrics: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go c.run(ctx)
	return nil
}

// Close stops the sampler and waits for it. The counts stay readable.
func (c *Counter) Close() {
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
	}
}

func (c *Counter) run(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.sample()
		}
	}
}

// Begin starts counting the viewers of room (its broadcast went live). A room
// already counted (a resumed broadcast) keeps its viewers and peak.
func (c *Counter) Begin(roomUUID string) {
	if _, ok := c.rooms.Load(roomUUID); !ok {
		c.rooms.LoadOrStore(roomUUID, &room{seen: make(map[uint64]uint32)})
	}
}

// End stops counting room (its broadcast is over), removes its gauge series and
// returns its peak.
func (c *Counter) End(roomUUID string) (peak int) {
	v, ok := c.rooms.LoadAndDelete(roomUUID)
	if !ok {
		return 0
	}
	r := v.(*room)
	r.mu.Lock()
	r.ended = true
	if c.gauge != nil {
		c.gauge.DeleteLabelValues(roomUUID)
	}
	r.mu.Unlock()
	peak = int(r.peak.Load())
	c.Log.Info("broadcast viewers", "room", roomUUID, "peak", peak)
	return peak
}

// See records a live playback request of viewer (a member ID) in room; a room
// that is not counted is ignored. O(1): one map write, or one register update in
// sketch mode.
func (c *Counter) See(roomUUID string, viewer uint64) {
	v, ok := c.rooms.Load(roomUUID)
	if !ok {
		return
	}
	r := v.(*room)
	tick := c.tick.Load()
	r.mu.Lock()
	if r.buckets == nil {
		if _, known := r.seen[viewer]; known || len(r.seen) < c.ExactLimit {
			r.seen[viewer] = tick
			r.mu.Unlock()
			return
		}
		c.toSketch(roomUUID, r, tick)
	}
	c.bucket(r, tick).InsertHash(mix(viewer))
	r.mu.Unlock()
}

// Join counts a connected viewer of room (an RTMP relay player) until Leave.
func (c *Counter) Join(roomUUID string) {
	c.mu.Lock()
	if c.conns == nil {
		c.conns = make(map[string]int)
	}
	c.conns[roomUUID]++
	c.mu.Unlock()
}

// Leave ends a Join.
func (c *Counter) Leave(roomUUID string) {
	c.mu.Lock()
	if c.conns[roomUUID]--; c.conns[roomUUID] <= 0 {
		delete(c.conns, roomUUID)
	}
	c.mu.Unlock()
}

// Total returns the concurrent viewers of every counted room at the last sample.
func (c *Counter) Total() int {
	n := 0
	c.rooms.Range(func(_, v any) bool {
		n += int(v.(*room).current.Load())
		return true
	})
	return n
}

// Viewers returns the concurrent viewers of room at the last sample and their
// peak since Begin; 0, 0 for a room that is not counted.
func (c *Counter) Viewers(roomUUID string) (current, peak int) {
	v, ok := c.rooms.Load(roomUUID)
	if !ok {
		return 0, 0
	}
	r := v.(*room)
	return int(r.current.Load()), int(r.peak.Load())
}

// sample advances the clock and counts every room.
func (c *Counter) sample() {
	c.sampling.Lock()
	defer c.sampling.Unlock()
	tick := uint32(c.now().Sub(c.start) / c.Interval)
	c.tick.Store(tick)
	c.rooms.Range(func(k, v any) bool {
		c.count(k.(string), v.(*room), tick)
		return true
	})
	if c.OnPeaks != nil && tick-c.peakTick >= c.peakN {
		c.peakTick = tick
		c.reportPeaks()
	}
}

// reportPeaks calls OnPeaks with the rooms whose peak rose since the last call.
func (c *Counter) reportPeaks() {
	var risen map[string]int
	c.rooms.Range(func(k, v any) bool {
		r := v.(*room)
		if p := r.peak.Load(); p > r.reported {
			r.reported = p
			if risen == nil {
				risen = map[string]int{}
			}
			risen[k.(string)] = int(p)
		}
		return true
	})
	if risen != nil {
		c.OnPeaks(risen)
	}
}

// count updates r's current value, peak and gauge series.
func (c *Counter) count(roomUUID string, r *room, tick uint32) {
	c.mu.Lock()
	conns := c.conns[roomUUID]
	c.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	n := int64(conns)
	if r.buckets == nil {
		for v, last := range r.seen {
			if tick-last >= c.windowTicks {
				delete(r.seen, v)
			}
		}
		n += int64(len(r.seen))
	} else {
		n += int64(c.estimate(r, tick))
	}
	r.current.Store(n)
	if n > r.peak.Load() {
		r.peak.Store(n)
	}
	if c.gauge != nil {
		c.gauge.WithLabelValues(roomUUID).Set(float64(n))
	}
}

// toSketch moves r to sketch mode: every viewer still in the window goes into the
// bucket of its last request. r.mu is held.
func (c *Counter) toSketch(roomUUID string, r *room, tick uint32) {
	r.buckets = make([]bucket, sketchBuckets+1)
	for i := range r.buckets {
		r.buckets[i].hll, _ = hyperloglog.NewSketch(sketchPrecision, false) // the precision is valid
		r.buckets[i].epoch = ^uint32(0)
	}
	for v, last := range r.seen {
		if tick-last < c.windowTicks {
			c.bucket(r, last).InsertHash(mix(v))
		}
	}
	r.seen = nil
	c.Log.Info("room past the exact viewer limit, counting with HyperLogLog", "room", roomUUID, "limit", c.ExactLimit)
}

// bucket returns r's sketch for tick, emptied first when it held an older
// epoch. r.mu is held.
func (c *Counter) bucket(r *room, tick uint32) *hyperloglog.Sketch {
	e := tick / c.bucketTicks
	b := &r.buckets[e%uint32(len(r.buckets))]
	if b.epoch != e {
		b.hll.Reset()
		b.epoch = e
	}
	return b.hll
}

// estimate merges the buckets of the window (the one in progress and the
// sketchBuckets before it) and estimates their distinct viewers. r.mu and
// c.sampling are held.
func (c *Counter) estimate(r *room, tick uint32) uint64 {
	cur := tick / c.bucketTicks
	c.scratch.Reset()
	for i := range r.buckets {
		b := &r.buckets[i]
		if b.epoch <= cur && cur-b.epoch <= sketchBuckets {
			if err := c.scratch.Merge(b.hll); err != nil {
				c.Log.Error("merge viewer sketch", "err", err) // same precision: cannot happen
			}
		}
	}
	return c.scratch.Estimate()
}

// mix spreads a member ID over 64 bits (SplitMix64's finalizer): HyperLogLog
// needs uniformly distributed hashes, and member IDs are small sequential
// numbers.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
