package admission

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loadMeter measures the real signals of a Controller; sample runs on its
// sampling goroutine only.
type loadMeter struct {
	host  Host
	a     *Controller
	cpu   *cpuMeter
	sched *schedMeter
	lags  []time.Duration // reused
}

func newLoadMeter(host Host, a *Controller) *loadMeter {
	m := &loadMeter{host: host, a: a}
	if a.MaxCPU > 0 {
		m.cpu = newCPUMeter()
	}
	if a.MaxSchedLatency > 0 {
		m.sched = newSchedMeter(a.Interval)
	}
	return m
}

func (m *loadMeter) sample() Load {
	var l Load
	if m.cpu != nil {
		l.CPU = m.cpu.sample(time.Now())
	}
	if m.sched != nil {
		l.SchedLatency = m.sched.sample()
	}
	if m.a.MaxLag > 0 {
		m.lags = m.host.AppendLags(m.lags[:0])
		l.Lag = lagQuantile(m.lags)
	}
	return l
}

// lagQuantile is the backlog exceeded by 5 % of the publishers and by at least 2
// of them (0 with fewer than 2). It sorts lags.
func lagQuantile(lags []time.Duration) time.Duration {
	k := max(2, int(math.Ceil(float64(len(lags))*0.05)))
	if len(lags) < k {
		return 0
	}
	slices.Sort(lags)
	return lags[len(lags)-k]
}

// cpuMeter is the process CPU utilisation between two samples, as a fraction of
// the CPU available to the process.
type cpuMeter struct {
	capacity float64 // CPUs
	lastCPU  time.Duration
	lastWall time.Time
}

func newCPUMeter() *cpuMeter {
	m := &cpuMeter{capacity: cpuCapacity()}
	m.lastCPU, _ = processCPUTime()
	m.lastWall = time.Now()
	return m
}

// sample returns the utilisation since the previous sample (0 if the CPU time
// cannot be read).
func (m *cpuMeter) sample(now time.Time) float64 {
	cpu, ok := processCPUTime()
	if !ok {
		return 0
	}
	wall := now.Sub(m.lastWall)
	used := cpu - m.lastCPU
	m.lastCPU, m.lastWall = cpu, now
	if wall <= 0 {
		return 0
	}
	return float64(used) / float64(wall) / m.capacity
}

// cpuCapacity is the number of CPUs the process may use: GOMAXPROCS, or the
// cgroup CPU quota when it is lower (it may be fractional, e.g. 1.5).
func cpuCapacity() float64 {
	c := float64(runtime.GOMAXPROCS(0))
	if q, ok := cgroupCPUQuota(); ok && q < c {
		c = q
	}
	return max(c, 0.01)
}

// cgroupCPUQuota reads the CPU quota of the process's cgroup (v2 cpu.max, v1
// cpu.cfs_quota_us / cpu.cfs_period_us), in CPUs; false when unlimited or unknown.
func cgroupCPUQuota() (float64, bool) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			if q, ok := parseCPUMax(filepath.Join("/sys/fs/cgroup", parts[2], "cpu.max")); ok {
				return q, true
			}
		case slices.Contains(strings.Split(parts[1], ","), "cpu"):
			for _, dir := range []string{"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"} {
				if q, ok := parseCFSQuota(filepath.Join(dir, parts[2])); ok {
					return q, true
				}
			}
		}
	}
	return 0, false
}

// parseCPUMax reads a cgroup v2 cpu.max: "max 100000" or "150000 100000".
func parseCPUMax(path string) (float64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) != 2 || f[0] == "max" {
		return 0, false
	}
	return quotaRatio(f[0], f[1])
}

// parseCFSQuota reads cgroup v1 cpu.cfs_quota_us (-1 = unlimited) and cpu.cfs_period_us.
func parseCFSQuota(dir string) (float64, bool) {
	q, err1 := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us"))
	p, err2 := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return quotaRatio(strings.TrimSpace(string(q)), strings.TrimSpace(string(p)))
}

func quotaRatio(quota, period string) (float64, bool) {
	q, err1 := strconv.ParseFloat(quota, 64)
	p, err2 := strconv.ParseFloat(period, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false
	}
	return q / p, true
}

// schedMeter is the p99 of the Go scheduler latency between two samples, from the
// cumulative runtime/metrics histogram. An interval with fewer than minEvents
// goroutine schedulings reads 0: the p99 of a nearly idle process is its one or two
// slowest wake-ups (seen at 0.1–0.9 s on a shared machine with no publisher), not
// a run queue; a loaded server schedules goroutines millions of times a second.
type schedMeter struct {
	samples   []metrics.Sample
	prev      []uint64
	minEvents uint64
}

const (
	schedLatencies = "/sched/latencies:seconds"
	// minSchedEventsPerSecond: schedulings per second below which the p99 is not
	// taken (a few publishers already cause tens of thousands).
	minSchedEventsPerSecond = 200
)

func newSchedMeter(interval time.Duration) *schedMeter {
	m := &schedMeter{samples: []metrics.Sample{{Name: schedLatencies}},
		minEvents: uint64(max(100, minSchedEventsPerSecond*interval.Seconds()))}
	m.sample()
	return m
}

func (m *schedMeter) sample() time.Duration {
	metrics.Read(m.samples)
	if m.samples[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := m.samples[0].Value.Float64Histogram()
	if len(m.prev) != len(h.Counts) {
		m.prev = make([]uint64, len(h.Counts))
		copy(m.prev, h.Counts)
		return 0
	}
	var total uint64
	for i, c := range h.Counts {
		total += c - m.prev[i]
	}
	var p99 time.Duration
	if total >= m.minEvents {
		want := total - total/100 // the 99th percentile: first bucket reaching 99 %
		var seen uint64
		for i, c := range h.Counts {
			seen += c - m.prev[i]
			if seen >= want {
				upper := h.Buckets[i+1]
				if math.IsInf(upper, 1) {
					upper = h.Buckets[i]
				}
				p99 = time.Duration(upper * float64(time.Second))
				break
			}
		}
	}
	copy(m.prev, h.Counts)
	return p99
}
