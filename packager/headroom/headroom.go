// Package headroom watches the resources a live stream needs to be written: free
// space on the media directory's file system and free file descriptors of the
// process. Below a reserve it reports an error, so that new publishers are refused
// (with that error as the reason) and /readyz says why, before the disk or the
// descriptor table is full and a live stream fails to write.
//
// Ownership rules: a Watcher owns one goroutine that samples every Interval;
// Initialize starts it and Close stops it and waits. Check and Status only read the
// last sample (one atomic load), so they are safe on any hot path.
//
// Caveats: descriptors are counted from /proc/self/fd (Linux); elsewhere the
// descriptor check is off. Free space is what statfs reports as available to an
// unprivileged user (f_bavail).
package headroom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrLow wraps every error Check returns: a resource is below its reserve.
var ErrLow = errors.New("not enough headroom")

// Defaults of the Watcher's optional fields.
const (
	DefaultInterval = time.Second
	DefaultMinFDs   = 64
)

// Status is one sample.
type Status struct {
	// DiskFree is the space available on Dir's file system, in bytes; DiskTotal its size.
	DiskFree, DiskTotal int64
	// FDsOpen and FDsLimit are the process's open descriptors and RLIMIT_NOFILE
	// (both 0 where they cannot be read).
	FDsOpen, FDsLimit int
	// Err is nil when every resource is above its reserve, else why not (wraps ErrLow).
	Err error
	// At is when the sample was taken.
	At time.Time
}

// Watcher samples the headroom of Dir's file system and of the process's file
// descriptors.
type Watcher struct {
	// Dir is the media directory. Required.
	Dir string
	// MinFreeBytes is the disk reserve: below it Check fails (0 = no disk check).
	MinFreeBytes int64
	// MinFreeFDs is the descriptor reserve: Check fails when fewer descriptors than
	// this are left below RLIMIT_NOFILE (default 64; negative = no check).
	MinFreeFDs int
	// Interval between samples (default 1 s).
	Interval time.Duration
	// Log receives transitions (low / recovered); nil discards.
	Log *slog.Logger
	// Registerer receives roomcast_media_disk_free_bytes, roomcast_media_disk_size_bytes,
	// roomcast_process_fds_open, roomcast_process_fds_limit and roomcast_headroom_low
	// (1 while Check fails). Nil: no metrics.
	Registerer prometheus.Registerer

	last   atomic.Pointer[Status]
	cancel context.CancelFunc
	wg     sync.WaitGroup
	gauges struct {
		free, total, fds, limit, low prometheus.Gauge
	}
}

// Initialize takes a first sample (an unreadable Dir is an error) and starts the
// sampler.
func (w *Watcher) Initialize() error {
	if w.Dir == "" {
		return errors.New("headroom: Dir is required")
	}
	if w.Interval <= 0 {
		w.Interval = DefaultInterval
	}
	if w.MinFreeFDs == 0 {
		w.MinFreeFDs = DefaultMinFDs
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if err := w.register(); err != nil {
		return err
	}
	st := w.sample()
	var pe *os.PathError
	if errors.As(st.Err, &pe) {
		return fmt.Errorf("headroom: %w", st.Err)
	}
	w.store(st)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(1)
	go w.run(ctx)
	return nil
}

// Close stops the sampler and waits for it.
func (w *Watcher) Close() {
	if w.cancel != nil {
		w.cancel()
		w.wg.Wait()
	}
}

// Check returns nil while every resource is above its reserve, else an error
// wrapping ErrLow that says which and by how much (last sample).
func (w *Watcher) Check() error {
	if st := w.last.Load(); st != nil {
		return st.Err
	}
	return nil
}

// Status returns the last sample.
func (w *Watcher) Status() Status {
	if st := w.last.Load(); st != nil {
		return *st
	}
	return Status{}
}

// Refresh samples now (after a write error, so that the next publisher sees it).
func (w *Watcher) Refresh() {
	w.store(w.sample())
}

func (w *Watcher) run(ctx context.Context) {
	defer w.wg.Done()
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.store(w.sample())
		}
	}
}

func (w *Watcher) store(st *Status) {
	prev := w.last.Swap(st)
	switch {
	case st.Err != nil && (prev == nil || prev.Err == nil):
		w.Log.Warn("headroom low: new publishers are refused", "err", st.Err)
	case st.Err == nil && prev != nil && prev.Err != nil:
		w.Log.Info("headroom recovered: publishers accepted again",
			"disk_free", st.DiskFree, "fds_open", st.FDsOpen, "fds_limit", st.FDsLimit)
	}
	if w.gauges.free != nil {
		w.gauges.free.Set(float64(st.DiskFree))
		w.gauges.total.Set(float64(st.DiskTotal))
		w.gauges.fds.Set(float64(st.FDsOpen))
		w.gauges.limit.Set(float64(st.FDsLimit))
		low := 0.0
		if st.Err != nil {
			low = 1
		}
		w.gauges.low.Set(low)
	}
}

// sample measures both resources.
func (w *Watcher) sample() *Status {
	st := &Status{At: time.Now()}
	var errs []error
	var fs syscall.Statfs_t
	if err := syscall.Statfs(w.Dir, &fs); err != nil {
		errs = append(errs, &os.PathError{Op: "statfs", Path: w.Dir, Err: err})
	} else {
		st.DiskFree = int64(fs.Bavail) * int64(fs.Bsize)
		st.DiskTotal = int64(fs.Blocks) * int64(fs.Bsize)
		if w.MinFreeBytes > 0 && st.DiskFree < w.MinFreeBytes {
			errs = append(errs, fmt.Errorf("%w: media disk %s has %s free, reserve %s",
				ErrLow, w.Dir, FormatBytes(st.DiskFree), FormatBytes(w.MinFreeBytes)))
		}
	}
	st.FDsOpen, st.FDsLimit = openFDs()
	if w.MinFreeFDs > 0 && st.FDsLimit > 0 && st.FDsLimit-st.FDsOpen < w.MinFreeFDs {
		errs = append(errs, fmt.Errorf("%w: %d of %d file descriptors open, reserve %d",
			ErrLow, st.FDsOpen, st.FDsLimit, w.MinFreeFDs))
	}
	st.Err = errors.Join(errs...)
	return st
}

// openFDs counts the process's open descriptors and reads its soft limit.
func openFDs() (open, limit int) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0, 0
	}
	d, err := os.Open("/proc/self/fd")
	if errors.Is(err, syscall.EMFILE) {
		return int(rl.Cur), int(rl.Cur) // not even one left to count them with
	}
	if err != nil {
		return 0, 0
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, 0
	}
	return len(names) - 1, int(rl.Cur) // minus the descriptor reading the directory
}

func (w *Watcher) register() error {
	if w.Registerer == nil {
		return nil
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	w.gauges.free = g("roomcast_media_disk_free_bytes", "Space available on the media directory's file system.")
	w.gauges.total = g("roomcast_media_disk_size_bytes", "Size of the media directory's file system.")
	w.gauges.fds = g("roomcast_process_fds_open", "File descriptors open in the process.")
	w.gauges.limit = g("roomcast_process_fds_limit", "RLIMIT_NOFILE of the process (soft).")
	w.gauges.low = g("roomcast_headroom_low", "1 while disk space or descriptors are below their reserve (new publishers refused).")
	for _, c := range []prometheus.Collector{w.gauges.free, w.gauges.total, w.gauges.fds, w.gauges.limit, w.gauges.low} {
		if err := w.Registerer.Register(c); err != nil {
			return fmt.Errorf("headroom: register metrics: %w", err)
		}
	}
	return nil
}

// FormatBytes renders n with a binary unit (KiB, MiB, GiB), as ParseBytes reads it.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
