package packager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
	"github.com/roomcast/roomcast/packager/vod"
	"github.com/roomcast/roomcast/packager/vod/vodtest"
)

// vodEnv is a packager whose rooms' VOD state comes from the archive outcomes
// it reports (as control records them), read at every request.
type vodEnv struct {
	*testEnv
	mu       sync.Mutex
	archived bool
	failRoom error // RoomInfo fails with it when set
	finished chan error
}

func newVODEnv(t *testing.T) *vodEnv { return newVODEnvWith(t, nil) }

// newVODEnvWith is newVODEnv with more configuration.
func newVODEnvWith(t *testing.T, mod func(*Packager)) *vodEnv {
	v := &vodEnv{finished: make(chan error, 10)}
	v.testEnv = newTestEnv(t, func(p *Packager) {
		if mod != nil {
			mod(p)
		}
		p.VODFinished = func(_ context.Context, room string, err error) error {
			v.mu.Lock()
			v.archived = room == testRoom && err == nil
			v.mu.Unlock()
			v.finished <- err
			return nil
		}
		p.RoomInfo = func(_ context.Context, room string) (RoomInfo, error) {
			v.mu.Lock()
			defer v.mu.Unlock()
			if v.failRoom != nil {
				return RoomInfo{}, v.failRoom
			}
			if room != testRoom {
				return RoomInfo{}, ErrRoomNotFound
			}
			info := RoomInfo{AppID: testAppID, State: "ENDED"}
			if v.archived {
				info.VODURL = "http://x/vod/" + room + "/index.m3u8"
			}
			return info, nil
		}
	})
	return v
}

func (v *vodEnv) archive(t *testing.T) {
	t.Helper()
	v.p.Archive(testRoom)
	select {
	case err := <-v.finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("archive job did not finish")
	}
}

// get requests path with header pairs hdr and returns status, headers and body.
func (v *vodEnv) getHdr(t *testing.T, path string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", v.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestVODHandler: tokens, 404 before archiving (the room state is read at every
// request, so the archived VOD is served at once), manifests with the token in
// every URI, segments cut at the archived size, cache policies, MP4
// HEAD/Range/416, delete.
func TestVODHandler(t *testing.T) {
	v := newVODEnv(t)
	dir := v.p.Dir
	s := &vodtest.Synth{T: t, RoomDir: filepath.Join(dir, testRoom), Segments: 2}
	s.Session(1, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	s.Session(2, time.Date(2026, 5, 1, 12, 1, 0, 0, time.UTC))
	get := func(path string, hdr ...string) (int, http.Header, string) { return v.getHdr(t, path, hdr...) }
	good, other := "?streamingToken="+testToken, "?streamingToken="+otherAppToken
	base := "/vod/" + testRoom + "/"
	if code, _, _ := get(base + "index.m3u8" + good); code != 404 {
		t.Fatalf("before archiving: %d", code)
	}
	v.archive(t)
	for _, c := range []struct {
		path string
		code int
	}{
		{base + "index.m3u8", 401}, {base + "index.m3u8?streamingToken=bad", 401},
		{base + "index.m3u8" + other, 403}, {"/vod/" + strings.ToUpper(testRoom) + "/index.m3u8" + good, 404},
		{"/vod/0b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e40/index.m3u8" + good, 404},
		{base + "..%2fvod.json" + good, 404}, {base + "video1_99.m4s" + good, 404},
		{base + "video1_01.m4s" + good, 404}, {base + "video9_1.m4s" + good, 404},
		{base + "index.m3u8" + good, 200}, {base + "audio2.m3u8" + good, 200},
		{base + "index.mpd" + good, 200}, {base + "video1_init1.mp4" + good, 200},
		{"/vod/" + testRoom + good, 404},
	} {
		if code, _, body := get(c.path); code != c.code {
			t.Errorf("%s: %d, want %d: %.100s", c.path, code, c.code, body)
		}
	}
	_, hdr, pl := get(base + "video1.m3u8" + good)
	for _, want := range []string{"#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST",
		"#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"video1_init1.mp4" + good + "\"", "video1_3.m4s" + good} {
		if !strings.Contains(pl, want) {
			t.Errorf("media playlist lacks %q:\n%s", want, pl)
		}
	}
	if cc := hdr.Get("Cache-Control"); cc != string(cacheVODManifest) {
		t.Errorf("media playlist Cache-Control %q", cc)
	}
	code, hdr, body := get(base + "video1_2.m4s" + good)
	st, _ := os.Stat(filepath.Join(dir, testRoom, "2", "video1_0.m4s"))
	if code != 200 || int64(len(body)) != st.Size() || hdr.Get("Cache-Control") != string(cacheImmutable) {
		t.Errorf("segment: %d %d bytes", code, len(body))
	}
	code, hdr, body = get(base + "download.mp4" + good)
	if code != 200 || hdr.Get("Content-Length") != fmt.Sprint(len(body)) || !strings.Contains(body[:32], "ftyp") ||
		hdr.Get("Cache-Control") != string(cacheDownload) ||
		hdr.Get("Content-Disposition") != `attachment; filename="`+testRoom+`.mp4"` {
		t.Fatalf("mp4: %d %s", code, hdr)
	}
	if code, _, part := get(base+"download.mp4"+good, "Range", "bytes=100-199"); code != 206 || part != body[100:200] {
		t.Errorf("range: %d", code)
	}
	if code, _, _ := get(base+"download.mp4"+good, "Range", fmt.Sprintf("bytes=%d-", len(body))); code != 416 {
		t.Errorf("range beyond the end: %d", code)
	}
	v.p.DeleteRoom(testRoom)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, testRoom)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("media not deleted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPlaybackRoomChecks: /watch/ and /vod/ share one room check: a failed
// lookup is 503 on both, and a room's VOD state is seen by the next request.
func TestPlaybackRoomChecks(t *testing.T) {
	v := newVODEnv(t)
	s := &vodtest.Synth{T: t, RoomDir: filepath.Join(v.p.Dir, testRoom), Segments: 1}
	s.Session(1, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	v.archive(t)
	good := "?streamingToken=" + testToken
	vodURL := "/vod/" + testRoom + "/index.m3u8" + good
	if code, _, _ := v.getHdr(t, vodURL); code != 200 {
		t.Fatalf("archived: %d", code)
	}
	v.mu.Lock()
	v.archived = false // retention deleted the VOD (vodUrl cleared)
	v.mu.Unlock()
	if code, _, _ := v.getHdr(t, vodURL); code != 404 {
		t.Fatalf("expired: %d, want 404 at once", code)
	}
	v.mu.Lock()
	v.failRoom = errors.New("store unavailable")
	v.mu.Unlock()
	for _, path := range []string{vodURL, "/watch/" + testRoom + good, "/watch/" + testRoom + "/state" + good} {
		if code, hdr, _ := v.getHdr(t, path); code != 503 || hdr.Get("Retry-After") == "" {
			t.Errorf("%s with a failing store: %d", path, code)
		}
	}
}

// TestArchiveWaitsForStreamEnd: Archive while a session of the room is still
// being written: the job waits for the stream's end (the packager's signal, not
// a deadline) and the VOD holds the whole session, its index ended, nothing
// recovered.
func TestArchiveWaitsForStreamEnd(t *testing.T) {
	v := newVODEnv(t)
	tracks, units := loadFLV(t, "h264_aac.flv")
	st := v.feed(tracks, units, false)
	v.p.Archive(testRoom)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := v.p.waitWritten(ctx, testRoom); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waitWritten on a stream being written: %v", err)
	}
	select {
	case err := <-v.finished:
		t.Fatalf("archived while the stream is written: %v", err)
	default:
	}
	st.end(nil)
	v.archive(t)
	if err := v.p.waitWritten(context.Background(), testRoom); err != nil {
		t.Fatal(err)
	}
	m, err := vod.LoadManifest(context.Background(), vod.DirStore(v.p.Dir), testRoom)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := timeline.ReadIndex(filepath.Join(v.p.Dir, testRoom, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sessions) != 1 || m.Sessions[0].Recovered != 0 || m.Sessions[0].Skipped != 0 ||
		len(m.Sessions[0].Notes) != 0 || m.Sessions[0].Segments != len(idx.Segments) || idx.Ended.IsZero() {
		t.Fatalf("VOD %+v of an index of %d segments (end %v)", m.Sessions, len(idx.Segments), idx.Ended)
	}
}
