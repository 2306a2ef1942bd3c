// Package loadtest holds real servers for the load tool's tests: a go-rtmp server
// that accepts publishes and counts what it receives per stream, and an LL-HLS origin
// (gohlslib's Muxer) fed in real time from an FLV file. Each starts on 127.0.0.1:0
// and is stopped by t.Cleanup, which waits for its goroutines.
package loadtest
