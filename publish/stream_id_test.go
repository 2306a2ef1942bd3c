package publish

import (
	"math"
	"testing"
)

func TestStreamID(t *testing.T) {
	for _, id := range []StreamID{0, 1, 42, math.MaxUint64} {
		got, err := ParseStreamID(id.String())
		if err != nil || got != id {
			t.Errorf("ParseStreamID(%q) = %d, %v", id.String(), got, err)
		}
	}
	if StreamID(42).String() != "42" {
		t.Fatalf("String %q", StreamID(42).String())
	}
	for _, s := range []string{"", "-1", "x", "1.5", "18446744073709551616"} {
		if _, err := ParseStreamID(s); err == nil {
			t.Errorf("ParseStreamID(%q) accepted", s)
		}
	}
}
