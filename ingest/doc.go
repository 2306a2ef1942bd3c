// Package ingest is the RTMP side of Roomcast: the listener publishers (OBS, ffmpeg)
// push to, stream-key checks through OnPublishStart, FLV / Enhanced-RTMP tags turned
// into hub units (package ingest/flv), one hub.Stream per publish, and the RTMP relay
// to players (rtmp://host/play/{roomUUID}?streamingToken=…).
//
// Ownership rules:
//   - Server owns every goroutine it starts: the accept loop, one goroutine per
//     connection (go-rtmp's), one per RTMP player and a watchdog. Close stops them
//     all and waits; OnPublishStop has then been called for every publish.
//   - The callbacks (OnPublishStart, OnStreamReady, OnPublishStop, OnPlay,
//     OnCapacity) run on connection goroutines (OnPublishStop may run on the
//     goroutine of Close); they must not call back into Server.Close.
//   - Each message body is copied once out of go-rtmp into a fresh buffer that the
//     hub.Unit then owns (Payload aliases it); units are immutable once written.
//   - A publish's hub.Stream is registered in Registry under PublishGrant.StreamID
//     when its tracks are known, and unregistered and closed before OnPublishStop.
//
// Caveats: tracks are fixed when the stream starts (a track whose first sequence
// header arrives after the detection window is ignored); parameter-set changes on
// an existing track create a new *hub.Track with the same ID. Nothing in this
// package logs a stream key or streaming token.
package ingest
