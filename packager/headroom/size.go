package headroom

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseBytes reads a size: a number of bytes, optionally with a unit — B, KB/KiB,
// MB/MiB, GB/GiB, TB/TiB (decimal and binary units both mean powers of 1024, as
// operators of disks mostly expect), case-insensitive, spaces allowed ("512MiB",
// "1 GB", "0").
func ParseBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	num := strings.TrimRight(t, "KMGTIB ")
	unit := strings.TrimSpace(t[len(num):])
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
		"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30,
		"T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, unit)
	}
	if v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(v * mult), nil
}
