// Package admission is the RTMP server's admission control: a Controller refuses
// new publishers while the process is overloaded, so that the live ones keep real
// time. It watches three signals — process CPU (getrusage against GOMAXPROCS or
// the cgroup CPU quota), the p99 Go scheduler latency (runtime/metrics) and the
// publishers' ingest Backlog — and never stops a live publisher.
//
// It knows the server it guards only as a Host (publish slots in use, each
// publisher's backlog, a sink for publish.CapacityEvent values) and is asked
// Admit before a new publisher takes a slot.
//
// Ownership: Start starts one sampling goroutine (none when no signal is
// watched), which alone reads the signals and calls the Host; it ends with
// Start's context, and Wait waits for it. Admit, Refusing and Last may be called
// from any goroutine; a Backlog is written by one publisher's goroutine and read
// by the sampler.
package admission
