package admission

import (
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

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

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o600) }
