// Package health measures the health of one publish from the media it delivers:
// bitrate, frame rate, keyframe interval, timestamp jumps, ingest lag, the codec
// parameters of its tracks, and the warnings derived from them (publish.Health,
// publish.HealthWarning).
//
// A Meter is fed every hub unit of its publish (Unit) on the publisher's
// connection goroutine, and sampled once a second (Sample) by one sampling
// goroutine the ingest server owns for all publishes:
//
//	unit ──Unit──▶ counters (cumulative bytes, frames, last DTS, key frames, lag baseline)
//	tick ──Sample─▶ ring of 300 one-second records ─▶ Health snapshot, warnings
//
// Ownership rules:
//   - Unit is O(1) and allocates nothing: it updates a few counters under the
//     Meter's mutex (held for tens of nanoseconds; the sampler takes it once a
//     second). Codec parameters (SPS, AudioSpecificConfig) are parsed by Sample,
//     once per new *hub.Track, never per unit.
//   - Every window is measured in the sampler's clock (the now passed to Sample)
//     or in media time (unit DTS), never by counting samples: a late tick does not
//     skew a rate. Tests drive Sample with a fake clock.
//   - The history is a fixed ring of HistorySize records allocated with the
//     Meter: memory per publish is bounded (about 20 KiB) whatever its length.
//   - Warnings have hysteresis: a warning is raised when its measure has been
//     beyond the threshold for its raise delay, and resolved only when the measure
//     has been back inside a tighter bound for ClearAfter. Sample and Stop return
//     the changes; the caller turns them into events (publish.HealthChange).
//   - A Meter knows nothing of rooms, events or metrics; package ingest looks
//     meters up by stream and exports them.
package health
