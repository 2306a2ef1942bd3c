// Package hub is the meeting point of ingest and its readers (packager, RTMP relay,
// recorders): one Stream per live publish fans Units out to any number of Readers.
//
// Ownership rules:
//   - Units are immutable after Write; payload slices are shared by all readers and
//     must never be modified or retained past their use by a reader that does not own
//     a copy.
//   - Tracks are immutable. When a publisher changes codec parameters mid-stream,
//     ingest creates a new *Track with the same ID; readers notice the change by
//     pointer comparison (Unit.Track != last track).
//   - Stream.Write never blocks for a slow player: each Reader has a queue bounded
//     in units (QueueSize) and optionally in payload bytes (MaxBytes);
//     when it is full the unit is dropped and counted, and the reader skips to the
//     next video keyframe so that it never decodes a broken GOP. A Reader with
//     MaxBlock (the packager: the recording) makes Write wait up to that long for
//     room instead: back pressure that slows the publisher's socket rather than
//     losing units or growing memory when the process falls behind.
//
// The package imports nothing of Roomcast (stdlib and mediacommon codec types only).
package hub
