package publish

import (
	"testing"
)

func TestCapacityEvent(t *testing.T) {
	if !CapacityNearLimit.Valid() || !CapacityLimited.Valid() || CapacityEvent("bogus").Valid() {
		t.Fatal("Valid")
	}
	if CapacityNearLimit.String() != "ingest.concurrency_near_limit" || CapacityLimited.String() != "ingest.concurrency_limited" {
		t.Fatalf("names %q %q", CapacityNearLimit, CapacityLimited)
	}
}
