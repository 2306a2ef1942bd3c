//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// The VOD of an RTMP-only broadcast (relay, no live CMAF) holds everything published
// while the room was LIVE.
func TestVODRTMPOnly(t *testing.T) {
	t.Parallel()
	requireTools(t, "ffmpeg", "ffprobe")
	b := newBroadcast(t, startServer(t), "rtmp-only", "RTMP")
	b.publishFor(t, 12*time.Second)
	b.checkVOD(t, "rtmp")
}

// The VOD of a CMAF broadcast dropped and resumed three times holds all four sessions.
func TestVODCMAFThreeDrops(t *testing.T) {
	t.Parallel()
	requireTools(t, "ffmpeg", "ffprobe")
	b := newBroadcast(t, startServer(t), "cmaf-drops", "CMAF")
	for i := 0; i < 4; i++ {
		b.publishFor(t, 8*time.Second)
	}
	b.checkVOD(t, "cmaf_3_drops")
}
