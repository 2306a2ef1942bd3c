// Package publish is the vocabulary the RTMP ingest, the control plane and the
// binary that wires them share about a publish: its output Mode (with the one
// ParseMode rule for the "?mode=" parameter), the StopReason of its end, the
// CapacityEvent names of the publisher limit, and the StreamID of a publishing
// stream key.
//
// It is a leaf: it imports nothing of Roomcast's, so that every side can import it.
// Values are spelled as they are stored and sent in events and webhooks.
package publish
