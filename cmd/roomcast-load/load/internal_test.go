package load

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/stretchr/testify/require"
	"github.com/yutopp/go-amf0"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Observe(time.Duration(i) * time.Millisecond)
	}
	s := h.Summary()
	require.EqualValues(t, 1000, s.Count)
	require.InEpsilon(t, 500, s.P50, 0.03)
	require.InEpsilon(t, 990, s.P99, 0.03)
	require.Equal(t, 1000.0, s.Max)
	require.Equal(t, 1.0, s.Min)

	var m Histogram
	m.Merge(&h)
	m.Observe(-time.Millisecond) // negative ages (clock skew) are kept in min
	require.EqualValues(t, 1001, m.Summary().Count)
	require.Equal(t, -1.0, m.Summary().Min)
	require.Equal(t, Summary{}, (&Histogram{}).Summary())
}

func TestTimelineAndNextPart(t *testing.T) {
	pdt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body := `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:` + pdt.Format(time.RFC3339Nano) + `
#EXT-X-PART:DURATION=0.2,URI="p7.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="p7.1.m4s"
#EXTINF:0.4,
s7.m4s
#EXT-X-PART:DURATION=0.2,URI="p8.0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p8.1.m4s"
`
	var m playlist.Media
	require.NoError(t, m.Unmarshal([]byte(body)))
	segs, parts := timeline(&m)
	require.Equal(t, []listedSegment{{msn: 7, uri: "s7.m4s", end: pdt.Add(400 * time.Millisecond)}}, segs)
	require.Len(t, parts, 3)
	require.Equal(t, listedPart{ref: partRef{7, 1}, uri: "p7.1.m4s", end: pdt.Add(400 * time.Millisecond)}, parts[1])
	require.Equal(t, listedPart{ref: partRef{8, 0}, uri: "p8.0.m4s", end: pdt.Add(600 * time.Millisecond)}, parts[2])
	require.Equal(t, partRef{8, 1}, nextPart(&m))
	require.True(t, canBlock(&m))
	require.True(t, partRef{8, 0}.after(partRef{7, 5}))
	require.False(t, partRef{7, 1}.after(partRef{7, 1}))
}

func TestParseRTMPURL(t *testing.T) {
	got, err := parseRTMPURL("rtmp://127.0.0.1/live/key?mode=CMAF")
	require.NoError(t, err)
	require.Equal(t, rtmpTarget{addr: "127.0.0.1:1935", app: "live", tcURL: "rtmp://127.0.0.1/live", name: "key?mode=CMAF"}, got)
	got, err = parseRTMPURL("rtmp://h:19350/app/a/b")
	require.NoError(t, err)
	require.Equal(t, "h:19350", got.addr)
	require.Equal(t, "a/b", got.name)
	for _, bad := range []string{"rtmp://h/live", "http://h/live/k", "rtmp:///live/k", "rtmp://h/live/"} {
		_, err := parseRTMPURL(bad)
		require.Error(t, err, bad)
	}
}

func TestStatusFromObjs(t *testing.T) {
	st := statusFromObjs([]any{nil, map[string]any{"level": "error", "code": "NetStream.Publish.BadName", "description": "x"}})
	require.True(t, st.refused())
	require.False(t, st.ok())
	st = statusFromObjs([]any{nil, amf0.ECMAArray{"level": "status", "code": "NetStream.Publish.Start"}})
	require.True(t, st.ok())
	require.False(t, st.refused())
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc(strconv.Itoa(os.Getpid()))
	require.NoError(t, err)
	require.Positive(t, s.rssKiB)
	_, err = readProc("999999999")
	require.Error(t, err)

	sm := newSampler(os.Getpid(), time.Second)
	sm.sample()
	time.Sleep(20 * time.Millisecond)
	sm.sample()
	r := sm.report(os.Getpid(), 2)
	require.Equal(t, 2, r.Samples)
	require.Positive(t, r.RSSEndMiB)
	require.InDelta(t, r.RSSEndMiB/2, r.RSSTotalPerMiB, 0.01)
}

func TestMediaLoop(t *testing.T) {
	m, err := LoadMedia("../../../testdata/h264_aac.flv")
	require.NoError(t, err)
	require.Len(t, m.Header, 3, "onMetaData, AVC and AAC sequence headers")
	require.Zero(t, m.Body[0].Timestamp)
	require.InDelta(t, 10, m.LoopDuration.Seconds(), 0.1)
	last := m.Body[len(m.Body)-1].Timestamp
	require.Greater(t, m.LoopDuration, time.Duration(last)*time.Millisecond, "the next loop starts after the last tag")

	_, err = NewMedia([]flv.Tag{{Type: flv.TagScript, Data: onMetaData}})
	require.ErrorContains(t, err, "no audio or video")
}

func TestRedactURL(t *testing.T) {
	require.Equal(t, "rtmp://h/live/abcd…?mode=CMAF", redactURL("rtmp://h/live/abcdefgh?mode=CMAF", "abcdefgh"))
	require.Equal(t, "http://h/live/u/1/index.m3u8?streamingToken=eyJh…&x=1",
		redactURL("http://h/live/u/1/index.m3u8?streamingToken=eyJhbGciOi&x=1", ""))
}
