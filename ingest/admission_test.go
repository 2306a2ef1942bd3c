package ingest

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// loadKnob is an injected overload signal: a CPU fraction the test sets, and how
// many times the admission goroutine sampled it.
type loadKnob struct {
	cpu   atomic.Uint64 // float64 bits
	calls atomic.Int64
}

func (k *loadKnob) set(cpu float64) { k.cpu.Store(math.Float64bits(cpu)) }

func (k *loadKnob) source() Load {
	k.calls.Add(1)
	return Load{CPU: math.Float64frombits(k.cpu.Load())}
}

// waitSamples waits until the admission goroutine has taken n more samples.
func (k *loadKnob) waitSamples(h *harness, n int64) {
	from := k.calls.Load()
	h.wait(fmt.Sprintf("%d admission samples", n), func() bool { return k.calls.Load() >= from+n })
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return 0
}

// TestAdmissionRefusesNewPublishersLiveOnesKeepEveryUnit drives admission with an
// injected load over a real server: under overload a new publisher is refused
// (BadName, connection closed, events, counter) while the live one keeps
// publishing and the hub gets every one of its units; within the hysteresis band it
// stays closed, and it reopens once the load falls.
func TestAdmissionRefusesNewPublishersLiveOnesKeepEveryUnit(t *testing.T) {
	t.Parallel()
	knob := &loadKnob{}
	knob.set(0.1)
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(s *Server) {
		s.Admission = &Admission{MaxCPU: 0.5, Interval: 5 * time.Millisecond, Hold: 20 * time.Millisecond,
			Source: knob.source, Registerer: reg}
	})
	adm := h.s.Admission
	tags := readTags(t, "h264_aac.flv")
	head, rest := splitHeaders(t, tags)
	live := publishClient(t, h, "key1?mode=CMAF")
	if err := live.sendTags(head, false); err != nil {
		t.Fatal(err)
	}
	st := h.stream("1")

	knob.set(0.6) // pressure 1.2
	h.wait("admission closed", adm.Refusing)
	done := make(chan error, 1)
	go func() { done <- sendScaled(live, rest, 5) }()

	refused := dialRTMP(t, h.addr())
	if !refused.connect("live") {
		t.Fatal("connect")
	}
	if code := refused.publish("key2?mode=CMAF"); code != "NetStream.Publish.BadName" {
		t.Fatalf("publisher under overload: %s", code)
	}
	if err := refused.waitClosed(); err == nil {
		t.Fatal("refused connection still open")
	}
	if got := counterValue(t, reg, "roomcast_ingest_publishers_refused_total", "overload"); got != 1 {
		t.Fatalf("refused counter %v", got)
	}

	// Within the band (pressure 0.96 ≥ Resume 0.9) it stays closed however long.
	knob.set(0.48)
	knob.waitSamples(h, 20)
	if !adm.Refusing() {
		t.Fatal("admission reopened above the resume level")
	}
	again := dialRTMP(t, h.addr())
	if !again.connect("live") {
		t.Fatal("connect")
	}
	if code := again.publish("key3"); code != "NetStream.Publish.BadName" {
		t.Fatalf("publisher in the hysteresis band: %s", code)
	}

	if err := <-done; err != nil {
		t.Fatalf("live publisher broken: %v", err)
	}
	all := countUnits(t, tags)
	h.wait("every unit of the live publisher", func() bool { n, _ := st.Stats(); return int(n) == all })
	if s := h.stopsOf("1"); len(s) != 0 {
		t.Fatalf("live publisher stopped: %v", s)
	}

	knob.set(0.1)
	h.wait("admission reopened", func() bool { return !adm.Refusing() })
	publishClient(t, h, "key4")

	h.mu.Lock()
	got := slices.Clone(h.capacity)
	h.mu.Unlock()
	want := []string{EventConcurrencyNearLimit + " 1/1", EventConcurrencyLimited + " 1/1"}
	if !slices.Equal(got, want) {
		t.Fatalf("capacity events %v, want %v", got, want)
	}
	live.unpublish()
	if r := h.waitStop("1"); r != StopClientUnpublish {
		t.Fatal(r)
	}
}

// TestAdmissionHysteresis steps the state machine through samples with synthetic
// times: closes at pressure 1, stays closed in the band, reopens after Hold below
// Resume, and sends each event once per upward crossing.
func TestAdmissionHysteresis(t *testing.T) {
	var events []string
	s := &Server{Log: slog.New(slog.DiscardHandler), publishers: map[string]*publisher{},
		OnCapacity: func(e string, cur, limit int) { events = append(events, fmt.Sprintf("%s %d/%d", e, cur, limit)) }}
	a := &Admission{MaxCPU: 0.8, MaxSchedLatency: 100 * time.Millisecond, MaxLag: time.Second,
		Source: func() Load { return Load{} }}
	if err := a.init(s); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	step := func(sec float64, l Load, publishing int, wantRefusing bool) {
		t.Helper()
		s.publishing = publishing
		a.update(l, t0.Add(time.Duration(sec*float64(time.Second))))
		if a.Refusing() != wantRefusing {
			_, p := a.Last()
			t.Fatalf("t=%vs load %+v (pressure %.2f): refusing=%v", sec, l, p, a.Refusing())
		}
	}
	step(0, Load{CPU: 0.4}, 100, false)
	step(1, Load{CPU: 0.65, SchedLatency: 10 * time.Millisecond}, 160, false) // 0.8: near limit, ~197
	step(2, Load{CPU: 0.7, SchedLatency: 100 * time.Millisecond}, 175, true)  // sched latency at its limit
	step(3, Load{CPU: 0.75}, 175, true)                                       // 0.94: in the band
	step(60, Load{CPU: 0.75}, 175, true)
	step(61, Load{CPU: 0.7}, 175, true) // 0.875 < 0.9: the hold starts
	step(63, Load{Lag: 800 * time.Millisecond}, 175, true)
	step(64, Load{CPU: 0.8}, 175, true) // back to 1: the hold starts over
	step(65, Load{CPU: 0.6}, 170, true) // 0.75: under Resume, over the re-arm level
	step(69.9, Load{CPU: 0.6}, 170, true)
	step(70, Load{CPU: 0.6}, 170, false) // 5 s below Resume
	step(71, Load{Lag: 2 * time.Second}, 180, true)
	step(80, Load{CPU: 0.1}, 100, true)
	step(85, Load{CPU: 0.1}, 100, false)
	step(86, Load{CPU: 0.7}, 150, false) // 0.875: re-armed near-limit event
	want := []string{
		EventConcurrencyNearLimit + " 160/197",
		EventConcurrencyLimited + " 175/175",
		EventConcurrencyLimited + " 180/180", // not near again: the pressure never fell under 0.7 while open
		EventConcurrencyNearLimit + " 150/172",
	}
	if !slices.Equal(events, want) {
		t.Fatalf("events\n%v\nwant\n%v", events, want)
	}
}

func TestAdmissionValidation(t *testing.T) {
	s := &Server{Log: slog.New(slog.DiscardHandler)}
	for _, a := range []*Admission{{MaxCPU: 1.5}, {MaxCPU: -0.1}, {MaxLag: -1}, {MaxCPU: 0.5, Resume: 2}} {
		if err := a.init(s); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
	var off *Admission
	if off.Refusing() || off.init(s) != nil {
		t.Fatal("nil Admission must admit everything")
	}
}

// TestCPUMeterMeasuresBusyLoop checks the real CPU signal: a goroutine spinning
// in-process is seen as about one CPU's worth of utilisation, more than the idle
// process. Bounds are generous: the machine may be shared.
func TestCPUMeterMeasuresBusyLoop(t *testing.T) {
	if _, ok := processCPUTime(); !ok {
		t.Skip("no process CPU time on this platform")
	}
	capacity := cpuCapacity()
	if capacity <= 0 || capacity > float64(runtime.GOMAXPROCS(0)) {
		t.Fatalf("capacity %v with GOMAXPROCS %d", capacity, runtime.GOMAXPROCS(0))
	}
	m := newCPUMeter()
	start, _ := processCPUTime()
	var stop atomic.Bool
	spun := make(chan struct{})
	go func() {
		defer close(spun)
		x := 0
		for !stop.Load() {
			x++
		}
		_ = x
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		time.Sleep(20 * time.Millisecond)
		if now, _ := processCPUTime(); now-start >= 300*time.Millisecond || time.Now().After(deadline) {
			break
		}
	}
	busy := m.sample(time.Now())
	stop.Store(true)
	<-spun
	time.Sleep(200 * time.Millisecond)
	idle := m.sample(time.Now())
	t.Logf("capacity %.2f CPUs: busy %.3f, idle %.3f of it", capacity, busy, idle)
	if cpus := busy * capacity; cpus < 0.05 || cpus > capacity+0.25 {
		t.Fatalf("busy loop measured as %.2f CPUs", cpus)
	}
	if idle >= busy || idle < 0 {
		t.Fatalf("idle %.3f not below busy %.3f", idle, busy)
	}
}

func TestCPUQuotaParsing(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := dir + "/" + name
		if err := writeFile(p, data); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if q, ok := parseCPUMax(write("a", "150000 100000\n")); !ok || q != 1.5 {
		t.Fatalf("cpu.max 1.5: %v %v", q, ok)
	}
	if _, ok := parseCPUMax(write("b", "max 100000\n")); ok {
		t.Fatal("unlimited cpu.max read as a quota")
	}
	write("cpu.cfs_quota_us", "-1\n")
	write("cpu.cfs_period_us", "100000\n")
	if _, ok := parseCFSQuota(dir); ok {
		t.Fatal("cfs quota -1 read as a quota")
	}
	write("cpu.cfs_quota_us", "50000\n")
	if q, ok := parseCFSQuota(dir); !ok || q != 0.5 {
		t.Fatalf("cfs 0.5: %v %v", q, ok)
	}
}

// TestSchedMeterSeesRunQueue checks the real scheduler-latency signal: with many
// more spinning goroutines than Ps the p99 wait is longer than when idle.
func TestSchedMeterSeesRunQueue(t *testing.T) {
	m := newSchedMeter(100 * time.Millisecond)
	m.minEvents = 1 // spinning goroutines are rescheduled only every 10 ms
	few := newSchedMeter(time.Second)
	few.minEvents = 1 << 40
	time.Sleep(100 * time.Millisecond)
	idle := m.sample()
	var stop atomic.Bool
	n := 4 * runtime.GOMAXPROCS(0)
	done := make(chan struct{}, n)
	for range n {
		go func() {
			for !stop.Load() {
			}
			done <- struct{}{}
		}()
	}
	// The runtime records the latency of one scheduling in 8 (gTrackingPeriod): a
	// 300 ms window can now and then hold no tracked wait; measure further windows
	// (each a fresh sample) until one does, within a bound.
	var busy time.Duration
	for deadline := time.Now().Add(5 * time.Second); busy <= idle && time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		busy = m.sample()
	}
	stop.Store(true)
	for range n {
		<-done
	}
	t.Logf("sched p99: idle %v, %d spinning goroutines %v", idle, n, busy)
	if busy <= idle {
		t.Fatalf("p99 under a full run queue %v not above idle %v", busy, idle)
	}
	if v := few.sample(); v != 0 {
		t.Fatalf("p99 %v taken from fewer schedulings than the minimum", v)
	}
}

// TestBacklog checks the per-publisher backlog on synthetic arrivals.
func TestBacklog(t *testing.T) {
	var b backlog
	t0 := time.Unix(5000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// real time with jitter: ~0
	for i := range 100 {
		b.observe(uint32(i*33), at(i*33+(i%3)*5))
	}
	if v := time.Duration(b.value.Load()); v > 20*time.Millisecond {
		t.Fatalf("real time: backlog %v", v)
	}
	// arriving at 2/3 of real time: grows with each message
	var prev time.Duration
	for i := 100; i < 200; i++ {
		b.observe(uint32(i*33), at(3300+(i-100)*50))
		v := time.Duration(b.value.Load())
		if v < prev {
			t.Fatalf("backlog fell from %v to %v while arriving late", prev, v)
		}
		prev = v
	}
	if prev < 1500*time.Millisecond || prev > 1800*time.Millisecond {
		t.Fatalf("100 messages 17 ms late each: backlog %v", prev)
	}
	// a burst catches up: back to ~0
	for i := 200; i < 260; i++ {
		b.observe(uint32(i*33), at(8300))
	}
	if v := time.Duration(b.value.Load()); v > 20*time.Millisecond {
		t.Fatalf("after catching up: backlog %v", v)
	}
	// timestamps restart at 0 (discontinuity): no backlog from the jump
	b.observe(0, at(8340))
	b.observe(33, at(8373))
	if v := time.Duration(b.value.Load()); v > 20*time.Millisecond {
		t.Fatalf("after a timestamp reset: backlog %v", v)
	}
	// 32-bit wrap
	var w backlog
	w.observe(math.MaxUint32-16, at(0))
	w.observe(16, at(33))
	if v := time.Duration(w.value.Load()); v > time.Millisecond {
		t.Fatalf("across the wrap: backlog %v", v)
	}
}

func TestLagQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	if q := lagQuantile(ms(5000)); q != 0 {
		t.Fatalf("one publisher: %v", q)
	}
	if q := lagQuantile(ms(5000, 10, 20)); q != 20*time.Millisecond {
		t.Fatalf("one slow uplink among three: %v", q)
	}
	big := make([]int, 100)
	for i := range big {
		big[i] = i
	}
	if q := lagQuantile(ms(big...)); q != 95*time.Millisecond {
		t.Fatalf("100 publishers: %v (want the 5th largest)", q)
	}
}

// TestAdmissionRealLagSignal runs the real sampler (ingest backlog only) over a
// real server: two publishers whose media stops arriving for 600 ms and then
// resumes with its own timestamps are behind by that much, which closes admission.
func TestAdmissionRealLagSignal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) {
		s.Admission = &Admission{MaxLag: 200 * time.Millisecond, Interval: 10 * time.Millisecond}
	})
	tags := readTags(t, "h264_aac.flv")
	head, rest := splitHeaders(t, tags)
	var pubs []*rtmpClient
	for _, key := range []string{"key1", "key2"} {
		c := publishClient(t, h, key)
		if err := c.sendTags(head, false); err != nil {
			t.Fatal(err)
		}
		if err := c.sendTags(rest[:20], false); err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, c)
	}
	h.stream("1")
	h.stream("2")
	if h.s.Admission.Refusing() {
		t.Fatal("refusing before any lag")
	}
	time.Sleep(600 * time.Millisecond) // the stall
	for _, c := range pubs {
		if err := c.sendTags(rest[20:30], false); err != nil {
			t.Fatal(err)
		}
	}
	h.wait("admission closed by the ingest lag", h.s.Admission.Refusing)
	l, p := h.s.Admission.Last()
	t.Logf("lag %v, pressure %.2f", l.Lag, p)
	c := dialRTMP(t, h.addr())
	if !c.connect("live") {
		t.Fatal("connect")
	}
	if code := c.publish("key3"); code != "NetStream.Publish.BadName" {
		t.Fatalf("third publisher: %s", code)
	}
	for i, c := range pubs {
		c.unpublish()
		h.waitStop(fmt.Sprint(i + 1))
	}
}

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o600) }
