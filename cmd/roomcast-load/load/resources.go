package load

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every
// Linux architecture Go supports; sysconf is out of reach without cgo).
const clockTicks = 100

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	at     time.Time
	cpu    time.Duration // utime + stime
	rssKiB int64
}

// readProc reads /proc/<pid>/stat fields 14 and 15 and /proc/<pid>/status VmRSS.
func readProc(pid string) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, fmt.Errorf("read /proc/%s/stat: %w", pid, err)
	}
	// comm (field 2) may hold spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%s/stat: no comm field", pid)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f)+2)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%s/stat: bad utime/stime", pid)
	}
	s.cpu = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, fmt.Errorf("read /proc/%s/status: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			s.rssKiB = kib
		}
	}
	return s, nil
}

// sampler samples one process every interval until its context ends.
type sampler struct {
	pid      string
	interval time.Duration

	mu      sync.Mutex
	first   procSample
	last    procSample
	prev    procSample
	maxRSS  int64
	maxCPU  float64 // % of one core over one interval
	curCPU  float64
	samples int
	lastErr string
}

func newSampler(pid int, interval time.Duration) *sampler {
	return &sampler{pid: strconv.Itoa(pid), interval: interval}
}

func (s *sampler) run(ctx context.Context) {
	s.sample()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.sample()
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *sampler) sample() {
	p, err := readProc(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err.Error()
		return
	}
	if s.samples == 0 {
		s.first = p
	} else if dt := p.at.Sub(s.prev.at); dt < s.interval/2 {
		// Too short for 10 ms clock ticks (the final sample right after a tick):
		// it counts for the mean, not for the per-interval figures.
		s.last = p
		s.maxRSS = max(s.maxRSS, p.rssKiB)
		s.samples++
		return
	} else {
		s.curCPU = pct(p.cpu-s.prev.cpu, dt)
		s.maxCPU = max(s.maxCPU, s.curCPU)
	}
	s.prev, s.last = p, p
	s.maxRSS = max(s.maxRSS, p.rssKiB)
	s.samples++
}

func pct(cpu, wall time.Duration) float64 {
	return float64(cpu) / float64(wall) * 100
}

// ResourceReport is what the sampler measured, CPU in % of one core.
type ResourceReport struct {
	PID             int     `json:"pid"`
	Samples         int     `json:"samples"`
	CPUPercent      float64 `json:"cpu_percent"`     // mean over the run
	CPUPercentMax   float64 `json:"cpu_percent_max"` // worst 1 s interval
	CPUPerStream    float64 `json:"cpu_percent_per_stream"`
	RSSStartMiB     float64 `json:"rss_start_mib"` // first sample (before publishing)
	RSSEndMiB       float64 `json:"rss_end_mib"`
	RSSMaxMiB       float64 `json:"rss_max_mib"`
	RSSPerStreamMiB float64 `json:"rss_per_stream_mib"` // (end − start) / streams
	RSSTotalPerMiB  float64 `json:"rss_total_per_stream_mib"`
	Error           string  `json:"error,omitempty"`
}

// report summarises the samples for streams concurrent streams.
func (s *sampler) report(pid, streams int) ResourceReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := ResourceReport{PID: pid, Samples: s.samples, Error: s.lastErr}
	if s.samples == 0 {
		return r
	}
	if dt := s.last.at.Sub(s.first.at); dt > 0 {
		r.CPUPercent = round2(pct(s.last.cpu-s.first.cpu, dt))
	}
	r.CPUPercentMax = round2(s.maxCPU)
	r.RSSStartMiB = mib(s.first.rssKiB)
	r.RSSEndMiB = mib(s.last.rssKiB)
	r.RSSMaxMiB = mib(s.maxRSS)
	if streams > 0 {
		r.CPUPerStream = round3(r.CPUPercent / float64(streams))
		r.RSSPerStreamMiB = round3(mib(s.last.rssKiB-s.first.rssKiB) / float64(streams))
		r.RSSTotalPerMiB = round3(mib(s.last.rssKiB) / float64(streams))
	}
	return r
}

// current returns the last interval's CPU % and the RSS in MiB (for progress lines).
func (s *sampler) current() (float64, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.curCPU, mib(s.last.rssKiB)
}

func mib(kib int64) float64 { return round2(float64(kib) / 1024) }

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
