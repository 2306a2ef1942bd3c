// Package e2e holds the end-to-end suite (`make e2e`, build tag e2e): the real roomcast
// binary on loopback ports, driven only through its API, with the clients people use.
//
//   - Publishers: ffmpeg with OBS's settings and GStreamer's rtmp2sink. Drops are real
//     (SIGKILL of the publisher) and the tests wait for the room state by polling the
//     API against deadlines; publishers run for N seconds of media by their own
//     progress reports, never by sleeping.
//   - Players: hls.js, dash.js and Shaka Player in headless Debian Chromium (play.mjs),
//     GStreamer playbin3 (dashdemux2), ffmpeg on live DASH and on the RTMP relay,
//     ffprobe on live and VOD playlists.
//   - DASH players go through their own counting reverse proxy, so each one's requests
//     (and 404s) are counted while they run side by side, and an edge watcher polls
//     the MPD to tell how far behind the live edge each one asks for segments. A
//     player with more than two duplicate media segment downloads fails, except
//     ffmpeg's dashdec, whose live reload logic re-reads the window (see
//     checkedDuplicates), and GStreamer's immediate re-downloads; the failure
//     message lists every request the player made.
//
// Every scenario starts its own server. The ones that play in Chromium or decode run
// one after the other: on two cores, side by side they starve the publishers (ffmpeg
// -re falls behind real time) and the browsers, which skews every number measured.
// The light VOD scenarios run in parallel (t.Parallel) at the end. Measured numbers are
// logged as `E2E-REPORT key=value …` lines for grep; latencies are reported, not
// asserted.
package e2e
