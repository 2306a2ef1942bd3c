package packager

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
)

// received collects what gohlslib's client decoded, per track kind.
type received struct {
	mu      sync.Mutex
	tracks  []*gohlslib.Track
	pts     map[timeline.Kind][]int64
	urls    []string
	badURLs []string
}

func (rc *received) onRequest(r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	u := r.URL.String()
	rc.urls = append(rc.urls, u)
	if r.URL.Query().Get("streamingToken") != testToken || strings.Count(u, "streamingToken") != 1 {
		rc.badURLs = append(rc.badURLs, u)
	}
}

// readHLS plays url with gohlslib's client until it stops (the client plays in real
// time). It may run in a goroutine of its own: it only reports with t.Errorf.
func readHLS(t *testing.T, url string, timeout time.Duration) (*received, error) {
	rc := &received{pts: map[timeline.Kind][]int64{}}
	c := &gohlslib.Client{
		URI: url, OnRequest: rc.onRequest,
		OnDownloadPrimaryPlaylist: func(string) {}, OnDownloadStreamPlaylist: func(string) {},
		OnDownloadSegment: func(string) {}, OnDownloadPart: func(string) {},
		OnDecodeError: func(err error) { t.Errorf("decode error: %v", err) },
	}
	c.OnTracks = func(tracks []*gohlslib.Track) error {
		rc.tracks = tracks
		for _, tr := range tracks {
			switch tr.Codec.(type) {
			case *codecs.H264, *codecs.H265:
				c.OnDataH26x(tr, func(pts, _ int64, _ [][]byte) {
					rc.mu.Lock()
					rc.pts[timeline.KindVideo] = append(rc.pts[timeline.KindVideo], pts)
					rc.mu.Unlock()
				})
			case *codecs.AV1:
				c.OnDataAV1(tr, func(pts int64, _ [][]byte) {
					rc.mu.Lock()
					rc.pts[timeline.KindVideo] = append(rc.pts[timeline.KindVideo], pts)
					rc.mu.Unlock()
				})
			case *codecs.MPEG4Audio:
				c.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) {
					rc.mu.Lock()
					for i := range aus {
						rc.pts[timeline.KindAudio] = append(rc.pts[timeline.KindAudio], pts+int64(i)*1024)
					}
					rc.mu.Unlock()
				})
			}
		}
		return nil
	}
	if err := c.Start(); err != nil {
		return rc, err
	}
	defer c.Close()
	select {
	case err := <-c.Wait():
		return rc, err
	case <-time.After(timeout):
		return rc, nil
	}
}

// publishedPTS returns the PTS of the published units of a kind, in ticks.
func publishedPTS(units []*hub.Unit, kind timeline.Kind) []int64 {
	var out []int64
	for _, u := range units {
		if kindOf(u.Track) == kind {
			out = append(out, timeline.DurationToTicks(u.PTS, uint32(u.Track.ClockRate)))
		}
	}
	return out
}

// subsetTimeline checks that every received timestamp, up to a constant offset, is
// a published one, in order (a live client may skip parts, never invent them).
func subsetTimeline(t *testing.T, kind timeline.Kind, got, want []int64) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("%s: nothing received", kind)
	}
	set := make(map[int64]bool, len(want))
	for _, w := range want {
		set[w] = true
	}
	for _, w0 := range want {
		ok := true
		for i := 1; i < len(got) && ok; i++ {
			ok = got[i] > got[i-1] && set[got[i]-got[0]+w0]
		}
		if ok {
			return
		}
	}
	t.Fatalf("%s: received timestamps are not a subset of the published ones", kind)
}

// sameTimeline checks that got is a contiguous run of want, up to a constant offset.
func sameTimeline(t *testing.T, kind timeline.Kind, got, want []int64, whole bool) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("%s: nothing received", kind)
	}
	if whole && len(got) != len(want) {
		t.Fatalf("%s: received %d access units, published %d", kind, len(got), len(want))
	}
	// find the first received unit among the published ones by relative spacing
	off := -1
	for k := range want {
		if k+len(got) > len(want) {
			break
		}
		ok := true
		for i := 1; i < len(got) && ok; i++ {
			ok = got[i]-got[0] == want[k+i]-want[k]
		}
		if ok {
			off = k
			break
		}
	}
	if off < 0 {
		t.Fatalf("%s: received timestamps (%d) are not a contiguous run of the published ones (%d); first received %v, published %v",
			kind, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
	}
}

func TestHLSClientReadsEverything(t *testing.T) {
	t.Parallel() // real time
	cases := []struct {
		file   string
		tracks int
		// perTrack reads each media playlist on its own (gohlslib's client does not
		// accept av01 in a multivariant playlist)
		perTrack bool
	}{
		{"h264_aac.flv", 2, false},
		{"h264.flv", 1, false},
		{"aac.flv", 1, false},
		{"hevc_aac.flv", 2, false},
		{"av1_aac.flv", 2, true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, nil)
			tracks, units := loadFLV(t, c.file)
			s := e.startStream(tracks, true)
			publish(s, units, 0)
			s.Close()
			name := timeline.TrackName(kindOf(tracks[0]), tracks[0].ID)
			e.waitEnded(name)

			urls := []string{e.liveURL("index.m3u8", testToken)}
			if c.perTrack {
				urls = nil
				for _, tr := range tracks {
					urls = append(urls, e.liveURL(timeline.TrackName(kindOf(tr), tr.ID)+".m3u8", testToken))
				}
			}
			// the client plays in real time: read the playlists side by side
			type read struct {
				rc  *received
				err error
			}
			reads := make([]read, len(urls))
			var wg sync.WaitGroup
			for i, u := range urls {
				wg.Go(func() { reads[i].rc, reads[i].err = readHLS(t, u, 30*time.Second) })
			}
			wg.Wait()
			got := map[timeline.Kind][]int64{}
			ntracks := 0
			for _, r := range reads {
				rc, err := r.rc, r.err
				if !errors.Is(err, gohlslib.ErrClientEOS) {
					t.Fatalf("client ended with %v, want end of stream", err)
				}
				if len(rc.badURLs) > 0 {
					t.Fatalf("requests without the token: %v", rc.badURLs)
				}
				ntracks += len(rc.tracks)
				for k, v := range rc.pts {
					got[k] = append(got[k], v...)
				}
			}
			if ntracks != c.tracks {
				t.Fatalf("tracks %d, want %d", ntracks, c.tracks)
			}
			for _, tr := range tracks {
				k := kindOf(tr)
				sameTimeline(t, k, got[k], publishedPTS(packaged(units), k), true)
			}
		})
	}
}
