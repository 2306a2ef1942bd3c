package publish

// CapacityEvent names a crossing of the publisher limit; it is also the name of
// the server-wide event and webhook that records it.
type CapacityEvent string

// Capacity events: near the limit (80 % of the maximum number of publishers, or
// admission control's load pressure at 0.8), and at it (new publishers refused).
const (
	CapacityNearLimit CapacityEvent = "ingest.concurrency_near_limit"
	CapacityLimited   CapacityEvent = "ingest.concurrency_limited"
)

// Valid reports whether e is one of the Capacity* values.
func (e CapacityEvent) Valid() bool { return e == CapacityNearLimit || e == CapacityLimited }

// String returns the event name.
func (e CapacityEvent) String() string { return string(e) }
