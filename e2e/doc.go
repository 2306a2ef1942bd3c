// Package e2e holds the end-to-end suite (`make e2e`, build tag e2e): the real roomcast
// binary on loopback ports, ffmpeg publishing like OBS, ffprobe reading the play URLs,
// and hls.js / dash.js playing them in headless Debian Chromium through play.mjs.
package e2e
