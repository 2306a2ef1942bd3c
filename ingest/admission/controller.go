package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/publish"
)

// Defaults of the Controller's optional fields.
const (
	DefaultInterval = time.Second
	DefaultResume   = 0.9
	DefaultHold     = 5 * time.Second
)

// ErrOverloaded is Admit's answer while new publishers are refused for load; its
// text is what the refused publisher is told.
var ErrOverloaded = errors.New("server at capacity")

// Host is the server a Controller guards, as the Controller sees it: how many
// publish slots are taken, how far behind each live publisher is, and where
// capacity events go. Its methods are called on the sampling goroutine.
type Host interface {
	// Publishers is the number of publish slots in use.
	Publishers() int
	// AppendLags appends each live publisher's Backlog value to dst.
	AppendLags(dst []time.Duration) []time.Duration
	// Capacity reports a capacity event (see Controller).
	Capacity(event publish.CapacityEvent, current, limit int)
}

// Pressure levels (fractions of the thresholds) of the capacity events.
const (
	nearPressure   = 0.8 // publish.CapacityNearLimit, like 80 % of the publisher cap
	rearmPressure  = 0.7 // the near-limit event fires again after falling below this
	overloadReason = "overload"
	limitReason    = "max_publishers"
)

// Load is one sample of the signals a Controller watches. A zero field is "no load".
type Load struct {
	// CPU is the process's CPU time over the last interval as a fraction of the CPU
	// available to it (min of GOMAXPROCS and the cgroup CPU quota).
	CPU float64
	// SchedLatency is the 99th percentile of the time goroutines spent runnable
	// before running over the last interval (runtime/metrics /sched/latencies:seconds).
	SchedLatency time.Duration
	// Lag is the ingest backlog of the publishers: how far their media timestamps
	// fell behind the wall clock since they published, the value exceeded by 5 % of
	// them and by at least 2 (a single slow uplink does not count).
	Lag time.Duration
}

// Controller refuses new publishers while the process is overloaded, so that the
// live ones keep real time (Envoy's overload manager, for one action: "stop
// accepting publishers"). Every Interval it samples a Load and turns each enabled
// signal into a pressure (value / threshold); the pressure is the largest of them.
// At pressure ≥ 1 Admit refuses new publishers until the pressure has stayed below
// Resume for Hold: the hysteresis keeps it from flapping. It never stops a live
// publisher; a hard cap on publishers is its Host's.
//
// Crossings are reported to Host.Capacity: publish.CapacityNearLimit when the
// pressure reaches 0.8 (again only after it fell below 0.7 while admitting), with
// an estimate of the publishers at which it would reach 1; publish.CapacityLimited
// when it starts refusing.
//
// Start runs the sampling goroutine, Wait waits for it. With every threshold 0 it
// samples nothing and admits all. A nil *Controller admits all.
type Controller struct {
	// MaxCPU is the CPU utilisation, as a fraction of the CPU available to the
	// process, at which new publishers are refused (e.g. 0.85); 0 = not watched.
	MaxCPU float64
	// MaxSchedLatency is the p99 goroutine scheduling latency at which new publishers
	// are refused; 0 = not watched.
	MaxSchedLatency time.Duration
	// MaxLag is the ingest backlog (see Load.Lag) at which new publishers are
	// refused; 0 = not watched.
	MaxLag time.Duration
	// Interval between samples (default 1 s).
	Interval time.Duration
	// Resume is the pressure below which admission reopens (default 0.9) once it
	// has stayed there for Hold (default 5 s).
	Resume float64
	Hold   time.Duration
	// Source replaces the real signals (tests); nil measures the process.
	Source func() Load
	// Registerer, if set, receives roomcast_ingest_publishers_refused_total{reason},
	// roomcast_ingest_admission_pressure, roomcast_ingest_admission_refusing and the
	// latest sample: roomcast_ingest_cpu_utilisation_ratio,
	// roomcast_ingest_sched_latency_p99_seconds, roomcast_ingest_backlog_seconds.
	Registerer prometheus.Registerer

	host     Host
	log      *slog.Logger
	sample   func() Load
	done     chan struct{}
	refusing atomic.Bool

	mu         sync.Mutex
	last       Load
	pressure   float64
	belowSince time.Time // first sample below Resume while refusing
	nearFired  bool

	refused   *prometheus.CounterVec
	pressureG prometheus.Gauge
	refusingG prometheus.Gauge
	signalG   [3]prometheus.Gauge // cpu, sched latency, backlog
}

// enabled reports whether any signal is watched.
func (a *Controller) enabled() bool {
	return a != nil && (a.MaxCPU > 0 || a.MaxSchedLatency > 0 || a.MaxLag > 0)
}

// Start validates a, applies the defaults, registers the metrics and, when a
// signal is watched, starts sampling until ctx ends (Wait waits for it). host is
// the guarded server; log receives state changes (nil discards). A nil Controller
// does nothing.
func (a *Controller) Start(ctx context.Context, host Host, log *slog.Logger) error {
	if a == nil {
		return nil
	}
	if err := a.init(host, log); err != nil {
		return err
	}
	if a.enabled() {
		a.done = make(chan struct{})
		go a.run(ctx)
	}
	return nil
}

// init validates, applies defaults and registers the metrics.
func (a *Controller) init(host Host, log *slog.Logger) error {
	if a.MaxCPU < 0 || a.MaxCPU > 1 || math.IsNaN(a.MaxCPU) {
		return fmt.Errorf("admission: MaxCPU %v must be within [0, 1]", a.MaxCPU)
	}
	if a.MaxSchedLatency < 0 || a.MaxLag < 0 {
		return errors.New("admission: thresholds must not be negative")
	}
	setDefault(&a.Interval, DefaultInterval)
	setDefault(&a.Resume, DefaultResume)
	setDefault(&a.Hold, DefaultHold)
	if a.Resume <= 0 || a.Resume > 1 {
		return fmt.Errorf("admission: Resume %v must be within (0, 1]", a.Resume)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a.host = host
	a.log = log
	a.sample = a.Source
	if a.sample == nil && a.enabled() {
		m := newLoadMeter(host, a)
		a.sample = m.sample
	}
	if a.Registerer != nil {
		a.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomcast_ingest_publishers_refused_total",
			Help: "New publishers refused for capacity: reason overload (admission control) or max_publishers.",
		}, []string{"reason"})
		a.pressureG = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomcast_ingest_admission_pressure",
			Help: "Largest of the watched load signals as a fraction of its threshold (1 = new publishers refused).",
		})
		a.refusingG = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roomcast_ingest_admission_refusing",
			Help: "1 while admission control refuses new publishers.",
		})
		for i, n := range [3][2]string{
			{"roomcast_ingest_cpu_utilisation_ratio", "Process CPU over the last admission interval, as a fraction of GOMAXPROCS or the cgroup quota."},
			{"roomcast_ingest_sched_latency_p99_seconds", "p99 Go scheduler latency over the last admission interval."},
			{"roomcast_ingest_backlog_seconds", "Ingest backlog exceeded by 5 % of the publishers (at least 2): media behind the wall clock."},
		} {
			a.signalG[i] = prometheus.NewGauge(prometheus.GaugeOpts{Name: n[0], Help: n[1]})
		}
		for _, c := range []prometheus.Collector{a.refused, a.pressureG, a.refusingG, a.signalG[0], a.signalG[1], a.signalG[2]} {
			if err := a.Registerer.Register(c); err != nil {
				return fmt.Errorf("admission: register metrics: %w", err)
			}
		}
		a.refused.WithLabelValues(overloadReason)
		a.refused.WithLabelValues(limitReason)
	}
	return nil
}

// Wait waits for the sampling goroutine, which ends with Start's ctx.
func (a *Controller) Wait() {
	if a != nil && a.done != nil {
		<-a.done
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (a *Controller) run(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(a.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			a.update(a.sample(), now)
		}
	}
}

// Admit answers a new publisher while current publish slots are taken: nil, or
// ErrOverloaded (logged and counted) while the process is overloaded. It does not
// call the Host.
func (a *Controller) Admit(current int) error {
	if !a.Refusing() {
		return nil
	}
	l, p := a.Last()
	a.log.Warn(ErrOverloaded.Error()+": refusing publisher", "publishers", current, "pressure", round2(p),
		"cpu", round2(l.CPU), "sched_p99", l.SchedLatency, "ingest_lag", l.Lag)
	a.count(overloadReason)
	return ErrOverloaded
}

// RefusedAtLimit counts a publisher its Host refused at its hard cap (the
// max_publishers reason of the refusal counter).
func (a *Controller) RefusedAtLimit() { a.count(limitReason) }

// Refusing reports whether new publishers are being refused for load.
func (a *Controller) Refusing() bool { return a != nil && a.refusing.Load() }

// Last returns the latest sample and its pressure.
func (a *Controller) Last() (Load, float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last, a.pressure
}

// pressureOf is the largest signal / threshold ratio of l.
func (a *Controller) pressureOf(l Load) float64 {
	p := 0.0
	if a.MaxCPU > 0 {
		p = max(p, l.CPU/a.MaxCPU)
	}
	if a.MaxSchedLatency > 0 {
		p = max(p, float64(l.SchedLatency)/float64(a.MaxSchedLatency))
	}
	if a.MaxLag > 0 {
		p = max(p, float64(l.Lag)/float64(a.MaxLag))
	}
	return p
}

// update applies one sample: state changes, logs, capacity events, metrics.
func (a *Controller) update(l Load, now time.Time) {
	p := a.pressureOf(l)
	current := a.host.Publishers()
	var events []capacityEvent
	a.mu.Lock()
	a.last, a.pressure = l, p
	refusing := a.refusing.Load()
	switch {
	case !refusing && p >= 1:
		refusing = true
		a.belowSince = time.Time{}
		a.log.Warn("overloaded: refusing new publishers", "publishers", current,
			"pressure", round2(p), "cpu", round2(l.CPU), "sched_p99", l.SchedLatency, "ingest_lag", l.Lag)
		events = append(events, capacityEvent{publish.CapacityLimited, current, current})
	case refusing && p < a.Resume:
		if a.belowSince.IsZero() {
			a.belowSince = now
		}
		if now.Sub(a.belowSince) >= a.Hold {
			refusing = false
			a.log.Info("load back under the resume level: admitting publishers", "publishers", current,
				"pressure", round2(p), "cpu", round2(l.CPU), "sched_p99", l.SchedLatency, "ingest_lag", l.Lag)
		}
	case refusing:
		a.belowSince = time.Time{}
	}
	if !a.nearFired && p >= nearPressure {
		a.nearFired = true
		// The limit is an estimate: the publishers at which the pressure would reach 1
		// if it grows with their number.
		limit := current
		if p < 1 && p > 0 {
			limit = int(math.Ceil(float64(current) / p))
		}
		events = append([]capacityEvent{{publish.CapacityNearLimit, current, limit}}, events...)
	} else if a.nearFired && p < rearmPressure && !refusing {
		a.nearFired = false
	}
	a.refusing.Store(refusing)
	a.mu.Unlock()
	if a.pressureG != nil {
		a.pressureG.Set(p)
		a.refusingG.Set(b2f(refusing))
		a.signalG[0].Set(l.CPU)
		a.signalG[1].Set(l.SchedLatency.Seconds())
		a.signalG[2].Set(l.Lag.Seconds())
	}
	for _, e := range events {
		a.log.Warn("publisher capacity", "event", e.name, "current", e.current, "limit", e.limit, "signal", "load")
		a.host.Capacity(e.name, e.current, e.limit)
	}
}

type capacityEvent struct {
	name           publish.CapacityEvent
	current, limit int
}

// count adds one refusal with reason to the counter (nil-safe).
func (a *Controller) count(reason string) {
	if a != nil && a.refused != nil {
		a.refused.WithLabelValues(reason).Inc()
	}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
