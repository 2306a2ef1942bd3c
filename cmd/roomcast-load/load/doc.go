// Package load is the engine of the roomcast-load tool: RTMP publishers replaying an
// FLV file, HLS viewers behaving like hls.js (low-latency) or a plain HLS player, an
// optional setup phase through Roomcast's App API, and a /proc sampler of the server
// under test. Run drives them for a duration (or until its context ends) and returns
// a Report, which the command prints as a table and writes as JSON.
//
// Ownership: Run owns every goroutine it starts (publishers, viewers, samplers,
// progress) and waits for all of them before it returns; cancelling its context
// stops them cleanly, and the Report still describes everything measured so far.
// The FLV tags are read once and shared read-only by all publishers.
//
// Caveats: go-rtmp v0.0.7's client offers no way to wrap its net.Conn, so "bytes
// sent" counts FLV tag payload bytes (RTMP chunk headers add under 1 % at the 4 KiB
// chunk size used). Its Connect/CreateStream wait for the server's reply without a
// timeout; a server that completes the handshake and then never answers leaves that
// one goroutine blocked until the process exits (the publisher itself gives up after
// ConnectTimeout and is reported as failed). Stream keys and streaming tokens are
// redacted in logs and reports.
package load
