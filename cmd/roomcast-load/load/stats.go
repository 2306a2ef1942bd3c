package load

import (
	"math"
	"sync"
	"time"
)

// histogram bucket layout: log-linear with ~2 % relative error from 1 µs to ~18 h.
const (
	histGrowth  = 1.02
	histBuckets = 1700
)

var histLogGrowth = math.Log(histGrowth)

// Histogram records durations in logarithmic buckets (bounded memory, ~2 % error).
// It is safe for concurrent use.
type Histogram struct {
	mu      sync.Mutex
	counts  []uint32
	n       uint64
	sum     time.Duration
	max     time.Duration
	min     time.Duration
	nonPos  uint64 // samples ≤ 1 µs (including negative ages from clock skew)
	negSeen bool
}

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return -1
	}
	b := int(math.Log(us) / histLogGrowth)
	if b >= histBuckets {
		b = histBuckets - 1
	}
	return b
}

func bucketValue(b int) time.Duration {
	// Geometric middle of the bucket.
	return time.Duration(math.Pow(histGrowth, float64(b)+0.5) * float64(time.Microsecond))
}

// Observe adds one sample.
func (h *Histogram) Observe(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = make([]uint32, histBuckets)
		h.min = d
	}
	h.n++
	h.sum += d
	h.max = max(h.max, d)
	h.min = min(h.min, d)
	if d < 0 {
		h.negSeen = true
	}
	if b := bucketOf(d); b < 0 {
		h.nonPos++
	} else {
		h.counts[b]++
	}
}

// Merge adds all samples of o into h.
func (h *Histogram) Merge(o *Histogram) {
	o.mu.Lock()
	counts := append([]uint32(nil), o.counts...)
	n, sum, mx, mn, nonPos, neg := o.n, o.sum, o.max, o.min, o.nonPos, o.negSeen
	o.mu.Unlock()
	if n == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = make([]uint32, histBuckets)
		h.min = mn
	}
	for i, c := range counts {
		h.counts[i] += c
	}
	h.n += n
	h.sum += sum
	h.max = max(h.max, mx)
	h.min = min(h.min, mn)
	h.nonPos += nonPos
	h.negSeen = h.negSeen || neg
}

// Quantile returns the q-quantile (0 < q ≤ 1); 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.quantileLocked(q)
}

func (h *Histogram) quantileLocked(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank <= h.nonPos {
		return min(h.max, max(h.min, time.Microsecond))
	}
	seen := h.nonPos
	for b, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return min(h.max, bucketValue(b))
		}
	}
	return h.max
}

// Summary is the JSON form of a Histogram, in milliseconds.
type Summary struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summary returns count, quantiles, min, max and mean.
func (h *Histogram) Summary() Summary {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.n,
		P50:   ms(h.quantileLocked(0.50)),
		P90:   ms(h.quantileLocked(0.90)),
		P99:   ms(h.quantileLocked(0.99)),
		Max:   ms(h.max),
		Min:   ms(h.min),
		Mean:  ms(h.sum / time.Duration(h.n)),
	}
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}
