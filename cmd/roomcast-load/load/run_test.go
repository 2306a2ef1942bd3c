package load_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
	"github.com/roomcast/roomcast/cmd/roomcast-load/load/loadtest"
	"github.com/roomcast/roomcast/internal/testparallel"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const testFLV = "../../../testdata/h264_aac.flv"

func TestMain(m *testing.M) {
	logrus.SetOutput(io.Discard) // go-rtmp logs chunk size changes through logrus' global logger
	raiseDefaultParallel()
	goleak.VerifyTestMain(m)
}

// parallelWallClock is the default -parallel of this package: its parallel tests
// publish and view for fixed wall-clock durations and mostly wait, so GOMAXPROCS
// (the testing default) would serialise them for nothing. An explicit -parallel
// wins.
const parallelWallClock = 8

func raiseDefaultParallel() {
	testparallel.Default(parallelWallClock)
}

func baseConfig() load.Config {
	c := load.DefaultConfig()
	c.File = testFLV
	c.Progress = 0
	return c
}

func TestRunPublishCountsMatchServer(t *testing.T) {
	t.Parallel()
	srv := loadtest.StartRTMP(t)
	c := baseConfig()
	c.PublishURL = "rtmp://" + srv.Addr + "/live/{key}?mode=CMAF"
	c.Keys = []string{"alpha", "bravo", "charlie"}
	c.Duration = 2500 * time.Millisecond
	rep, err := (&load.Runner{Config: c}).Run(t.Context())
	require.NoError(t, err)
	require.True(t, srv.WaitIdle(10*time.Second), "publishers did not close their connections")

	require.False(t, rep.Interrupted)
	require.Equal(t, 3, rep.Publish.Published)
	require.Equal(t, 3, rep.Publish.KeptRealtime)
	require.Equal(t, 3, rep.Publish.PublishingAtEnd)
	var total int64
	for i, s := range rep.Streams {
		got := srv.Counts(c.Keys[i])
		p := s.Publish
		require.NotNil(t, p)
		require.EqualValues(t, 1, p.Publishes, "stream %d", i)
		require.Equal(t, []string{c.Keys[i] + "?mode=CMAF"}, got.Names)
		require.EqualValues(t, got.Tags(), p.Tags, "stream %d tags", i)
		require.Equal(t, got.Bytes, p.Bytes, "stream %d bytes", i)
		require.Equal(t, 1, got.Data, "one onMetaData")
		require.Greater(t, got.Video, 60, "2.5 s of 30 fps video")
		require.InDelta(t, 2.5, p.MediaSeconds, 0.5)
		require.Less(t, p.MaxLagMS, 1000.0)
		require.Zero(t, p.Disconnects+p.Refused+p.ConnectFailures+p.WriteErrors)
		require.NotContains(t, s.PublishURL, c.Keys[i], "keys are redacted")
		total += p.Bytes
	}
	require.Equal(t, total, rep.Publish.Bytes)
}

func TestRunFastLoopsFile(t *testing.T) {
	t.Parallel()
	srv := loadtest.StartRTMP(t)
	c := baseConfig()
	c.PublishURL = "rtmp://" + srv.Addr + "/live/fast{i}"
	c.Streams = 1
	c.Fast = true
	c.Duration = 1500 * time.Millisecond
	rep, err := (&load.Runner{Config: c}).Run(t.Context())
	require.NoError(t, err)
	require.True(t, srv.WaitIdle(10*time.Second))
	p := rep.Streams[0].Publish
	require.Greater(t, p.MediaSeconds, 12.0, "--fast replays the 10 s file more than once")
	got := srv.Counts("fast0")
	require.EqualValues(t, got.Tags(), p.Tags)
	require.Equal(t, got.Bytes, p.Bytes)
	require.False(t, p.KeptRealtime, "real time is not judged with --fast")
}

func TestRunRefusedAndUnreachableAreCounted(t *testing.T) {
	t.Parallel()
	srv := loadtest.StartRTMP(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more

	c := baseConfig()
	c.PublishURL = "rtmp://{key}?mode=CMAF"
	c.Keys = []string{srv.Addr + "/live/ok", srv.Addr + "/live/" + loadtest.RefusePrefix + "-me", dead + "/live/x"}
	c.Duration = 1500 * time.Millisecond
	rep, err := (&load.Runner{Config: c}).Run(t.Context())
	require.NoError(t, err)

	require.Equal(t, 1, rep.Publish.Published)
	require.Equal(t, 1, rep.Publish.PublishingAtEnd)
	require.EqualValues(t, 1, rep.Publish.Refused)
	require.EqualValues(t, 1, rep.Publish.ConnectFailures)
	refused := rep.Streams[1].Publish
	require.EqualValues(t, 1, refused.Refused)
	require.Contains(t, refused.LastError, "NetStream.Publish")
	require.Contains(t, rep.Streams[2].Publish.LastError, "dial")
	require.Zero(t, srv.Counts(loadtest.RefusePrefix+"-me").Tags())
}

// Not parallel: an attempt still in its handshake when the run ends is counted but
// not refused, and CPU contention widens that window.
func TestRunReconnectsAfterRefusal(t *testing.T) {
	srv := loadtest.StartRTMP(t)
	c := baseConfig()
	c.PublishURL = "rtmp://" + srv.Addr + "/live/" + loadtest.RefusePrefix + "{i}"
	c.Streams = 1
	c.Reconnect = 200 * time.Millisecond
	c.Duration = 1500 * time.Millisecond
	rep, err := (&load.Runner{Config: c}).Run(t.Context())
	require.NoError(t, err)
	p := rep.Streams[0].Publish
	require.Greater(t, p.Attempts, int64(2))
	require.Equal(t, p.Attempts, p.Refused)
}

func TestRunCancelStillReports(t *testing.T) {
	t.Parallel()
	srv := loadtest.StartRTMP(t)
	c := baseConfig()
	c.PublishURL = "rtmp://" + srv.Addr + "/live/c{i}"
	c.Streams = 2
	c.Duration = time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	rep, err := (&load.Runner{Config: c}).Run(ctx)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 20*time.Second, "cancel stops the run")
	require.True(t, rep.Interrupted)
	require.Equal(t, 2, rep.Publish.Published)
	require.True(t, srv.WaitIdle(10*time.Second), "publishers closed cleanly")
	require.Equal(t, srv.Counts("c0").Bytes, rep.Streams[0].Publish.Bytes)
	var b strings.Builder
	load.WriteTable(&b, rep)
	require.Contains(t, b.String(), "(interrupted)")
	require.Contains(t, b.String(), "2/2 published")
}

func TestRunViewers(t *testing.T) {
	t.Parallel()
	origin := loadtest.StartHLS(t, testFLV)
	for _, mode := range []load.ViewerMode{load.ViewerLL, load.ViewerPlain} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel() // 5 s of viewing each, side by side
			c := baseConfig()
			c.NoPublish = true
			c.File = ""
			c.Streams = 1
			c.Viewers = 2
			c.Viewer = mode
			c.ViewURL = origin.URL
			c.Duration = 5 * time.Second
			rep, err := (&load.Runner{Config: c}).Run(t.Context())
			require.NoError(t, err)
			v := rep.View
			require.Zero(t, v.Errors, "last error: %s", v.LastError)
			require.Zero(t, v.StartFailures)
			require.Equal(t, 2, v.Viewers)
			require.EqualValues(t, 2, v.Requests["multivariant"].OK)
			require.Greater(t, v.Requests["init"].OK, uint64(0))
			require.Greater(t, v.SegmentAge.Count, uint64(0), "new segments were listed")
			if mode == load.ViewerLL {
				require.Greater(t, v.Requests["playlist_blocking"].OK, uint64(10))
				require.Greater(t, v.Requests["part"].OK, uint64(10))
				require.Greater(t, v.PartAge.Count, uint64(10))
				require.Less(t, v.PartAge.P50, 1000.0, "parts are listed soon after they end")
			} else {
				require.NotContains(t, v.Requests, "part")
				require.Greater(t, v.Requests["segment"].OK, uint64(2))
			}
			t.Log("\n" + tableOf(rep))
		})
	}
}

func tableOf(rep *load.Report) string {
	var b strings.Builder
	load.WriteTable(&b, rep)
	return b.String()
}
