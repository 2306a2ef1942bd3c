package admission

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/publish"
)

// fakeHost is a Host whose slot count the test sets; it records capacity events.
type fakeHost struct {
	publishing int
	lags       []time.Duration
	events     []string
}

func (h *fakeHost) Publishers() int { return h.publishing }

func (h *fakeHost) AppendLags(dst []time.Duration) []time.Duration { return append(dst, h.lags...) }

func (h *fakeHost) Capacity(e publish.CapacityEvent, current, limit int) {
	h.events = append(h.events, fmt.Sprintf("%s %d/%d", e, current, limit))
}

// TestAdmissionHysteresis steps the state machine through samples with synthetic
// times: closes at pressure 1, stays closed in the band, reopens after Hold below
// Resume, and sends each event once per upward crossing.
func TestAdmissionHysteresis(t *testing.T) {
	h := &fakeHost{}
	a := &Controller{MaxCPU: 0.8, MaxSchedLatency: 100 * time.Millisecond, MaxLag: time.Second,
		Source: func() Load { return Load{} }}
	if err := a.init(h, nil); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	step := func(sec float64, l Load, publishing int, wantRefusing bool) {
		t.Helper()
		h.publishing = publishing
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
		publish.CapacityNearLimit.String() + " 160/197",
		publish.CapacityLimited.String() + " 175/175",
		publish.CapacityLimited.String() + " 180/180", // not near again: the pressure never fell under 0.7 while open
		publish.CapacityNearLimit.String() + " 150/172",
	}
	if !slices.Equal(h.events, want) {
		t.Fatalf("events\n%v\nwant\n%v", h.events, want)
	}
}

func TestAdmissionValidation(t *testing.T) {
	for _, a := range []*Controller{{MaxCPU: 1.5}, {MaxCPU: -0.1}, {MaxLag: -1}, {MaxCPU: 0.5, Resume: 2}} {
		if err := a.Start(t.Context(), &fakeHost{}, nil); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
	var off *Controller
	if off.Refusing() || off.Start(t.Context(), &fakeHost{}, nil) != nil || off.Admit(3) != nil {
		t.Fatal("nil Controller must admit everything")
	}
	off.RefusedAtLimit()
	off.Wait()
}

// TestAdmitCountsRefusals: Admit refuses with ErrOverloaded while refusing, and
// the refusal counter has one series per reason.
func TestAdmitCountsRefusals(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := &Controller{MaxCPU: 0.5, Source: func() Load { return Load{} }, Registerer: reg}
	if err := a.init(&fakeHost{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(0); err != nil {
		t.Fatalf("idle: %v", err)
	}
	a.update(Load{CPU: 0.6}, time.Unix(1000, 0))
	if err := a.Admit(1); !errors.Is(err, ErrOverloaded) || err.Error() != "server at capacity" {
		t.Fatalf("overloaded: %v", err)
	}
	a.RefusedAtLimit()
	a.RefusedAtLimit()
	if got := refusals(t, reg, overloadReason); got != 1 {
		t.Fatalf("overload refusals %v", got)
	}
	if got := refusals(t, reg, limitReason); got != 2 {
		t.Fatalf("max_publishers refusals %v", got)
	}
}

// refusals reads roomcast_ingest_publishers_refused_total{reason} from reg.
func refusals(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "roomcast_ingest_publishers_refused_total" {
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
	t.Fatalf("no refusal series for %q", reason)
	return 0
}
