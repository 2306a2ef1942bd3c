package headroom

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// gauge reads a gauge from what reg exposes.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1024", 1024, true}, {"1KiB", 1024, true}, {"512MiB", 512 << 20, true},
		{"1 GB", 1 << 30, true}, {"1.5g", 3 << 29, true}, {"2TiB", 2 << 40, true}, {" 7b ", 7, true},
		{"", 0, false}, {"-1", 0, false}, {"1XB", 0, false}, {"GB", 0, false}, {"1e30GB", 0, false}, {"NaN", 0, false},
	} {
		got, err := ParseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	for _, n := range []int64{0, 1023, 1024, 5 << 20, 3 << 30} {
		if s := FormatBytes(n); s == "" {
			t.Errorf("FormatBytes(%d) empty", n)
		}
	}
}

// TestWatcher samples the real file system and descriptor table: a reserve larger
// than the disk fails with a message naming the directory, a tiny one passes, and a
// descriptor reserve as large as the limit fails.
func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	w := &Watcher{Dir: dir, MinFreeBytes: 1, Registerer: reg}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	st := w.Status()
	if err := w.Check(); err != nil || st.DiskFree <= 0 || st.DiskTotal < st.DiskFree {
		t.Fatalf("status %+v, check %v", st, err)
	}
	if st.FDsLimit > 0 && (st.FDsOpen < 3 || st.FDsOpen > st.FDsLimit) {
		t.Fatalf("descriptors %d of %d", st.FDsOpen, st.FDsLimit)
	}
	if got := gauge(t, reg, "roomcast_media_disk_free_bytes"); got != float64(st.DiskFree) {
		t.Fatalf("free gauge %v, status %d", got, st.DiskFree)
	}

	w.MinFreeBytes = st.DiskTotal + 1
	w.Refresh()
	err := w.Check()
	if !errors.Is(err, ErrLow) || !strings.Contains(err.Error(), dir) || gauge(t, reg, "roomcast_headroom_low") != 1 {
		t.Fatalf("disk reserve above the disk: %v", err)
	}
	w.MinFreeBytes = 1
	w.Refresh()
	if err := w.Check(); err != nil {
		t.Fatalf("recovered: %v", err)
	}
	if st.FDsLimit > 0 {
		w.MinFreeFDs = st.FDsLimit
		w.Refresh()
		if err := w.Check(); !errors.Is(err, ErrLow) || !strings.Contains(err.Error(), "descriptors") {
			t.Fatalf("descriptor reserve = limit: %v", err)
		}
	}
	bad := &Watcher{Dir: dir + "/missing"}
	if err := bad.Initialize(); err == nil {
		bad.Close()
		t.Fatal("missing directory accepted")
	}
}
