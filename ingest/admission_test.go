package ingest

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/ingest/admission"
	"github.com/roomcast/roomcast/publish"
)

// loadKnob is an injected overload signal: a CPU fraction the test sets, and how
// many times the admission goroutine sampled it.
type loadKnob struct {
	cpu   atomic.Uint64 // float64 bits
	calls atomic.Int64
}

func (k *loadKnob) set(cpu float64) { k.cpu.Store(math.Float64bits(cpu)) }

func (k *loadKnob) source() admission.Load {
	k.calls.Add(1)
	return admission.Load{CPU: math.Float64frombits(k.cpu.Load())}
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
		s.Admission = &admission.Controller{MaxCPU: 0.5, Interval: 5 * time.Millisecond, Hold: 20 * time.Millisecond,
			Source: knob.source, Registerer: reg}
	})
	adm := h.s.Admission.(*admission.Controller)
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
	want := []string{publish.CapacityNearLimit.String() + " 1/1", publish.CapacityLimited.String() + " 1/1"}
	if !slices.Equal(got, want) {
		t.Fatalf("capacity events %v, want %v", got, want)
	}
	live.unpublish()
	if r := h.waitStop("1"); r != publish.StopClientUnpublish {
		t.Fatal(r)
	}
}

// TestAdmissionRealLagSignal runs the real sampler (ingest backlog only) over a
// real server: two publishers whose media stops arriving for 600 ms and then
// resumes with its own timestamps are behind by that much, which closes admission.
func TestAdmissionRealLagSignal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *Server) {
		s.Admission = &admission.Controller{MaxLag: 200 * time.Millisecond, Interval: 10 * time.Millisecond}
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
	adm := h.s.Admission.(*admission.Controller)
	if adm.Refusing() {
		t.Fatal("refusing before any lag")
	}
	time.Sleep(600 * time.Millisecond) // the stall
	for _, c := range pubs {
		if err := c.sendTags(rest[20:30], false); err != nil {
			t.Fatal(err)
		}
	}
	h.wait("admission closed by the ingest lag", adm.Refusing)
	l, p := adm.Last()
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
