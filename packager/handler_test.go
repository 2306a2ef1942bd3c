package packager

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roomcast/roomcast/packager/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestAuthorization(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, true)
	base := e.srv.URL + "/live/" + testRoom + "/1/"
	cases := []struct {
		name string
		url  string
		want int
	}{
		{"no token", base + "index.m3u8", http.StatusUnauthorized},
		{"empty token", base + "index.m3u8?streamingToken=", http.StatusUnauthorized},
		{"garbage token", base + "index.m3u8?streamingToken=garbage", http.StatusUnauthorized},
		{"other app", base + "index.m3u8?streamingToken=" + otherAppToken, http.StatusForbidden},
		{"other app segment", base + "video1_0.m4s?streamingToken=" + otherAppToken, http.StatusForbidden},
		{"no token segment", base + "video1_0.m4s", http.StatusUnauthorized},
		{"good", base + "index.m3u8?streamingToken=" + testToken, http.StatusOK},
		{"good mpd", base + "index.mpd?streamingToken=" + testToken, http.StatusOK},
		{"good init", base + "video1_init0.mp4?streamingToken=" + testToken, http.StatusOK},
		{"good segment", base + "audio2_1.m4s?streamingToken=" + testToken, http.StatusOK},
		{"unknown session", e.srv.URL + "/live/" + testRoom + "/2/index.m3u8?streamingToken=" + testToken, http.StatusNotFound},
		{"unknown room", e.srv.URL + "/live/0b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e40/1/index.m3u8?streamingToken=" + testToken, http.StatusNotFound},
		{"unknown room no token", e.srv.URL + "/live/0b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e40/1/index.m3u8", http.StatusUnauthorized},
		{"unknown track", base + "video9.m3u8?streamingToken=" + testToken, http.StatusNotFound},
		{"unknown segment", base + "video1_99.m4s?streamingToken=" + testToken, http.StatusNotFound},
		{"vod not yet", e.srv.URL + "/vod/" + testRoom + "/index.m3u8?streamingToken=" + testToken, http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, code := e.get(c.url)
			if code != c.want {
				t.Fatalf("status %d, want %d (%q)", code, c.want, body)
			}
			if code == http.StatusUnauthorized || code == http.StatusForbidden {
				if strings.Contains(body, "app") || strings.Contains(body, "token") && len(body) > 20 {
					t.Fatalf("error body leaks detail: %q", body)
				}
			}
		})
	}
}

func TestPathTraversal(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, true)
	if err := os.WriteFile(filepath.Join(e.p.Dir, "secret.txt"), []byte("root:secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := "?streamingToken=" + testToken
	paths := []string{
		"/live/" + testRoom + "/1/../../secret.txt" + tok,
		"/live/" + testRoom + "/1/..%2f..%2fsecret.txt" + tok,
		"/live/" + testRoom + "/1/%2e%2e%2f%2e%2e%2fsecret.txt" + tok,
		"/live/..%2f..%2f/1/secret.txt" + tok,
		"/live/" + testRoom + "/..%2f1/index.m3u8" + tok,
		"/live/" + testRoom + "/01/index.m3u8" + tok,
		"/live/" + testRoom + "/-1/index.m3u8" + tok,
		"/live/" + strings.ToUpper(testRoom) + "/1/index.m3u8" + tok,
		"/live/" + testRoom + "/1/video1_..m4s" + tok,
		"/live/" + testRoom + "/1/video1_-1.m4s" + tok,
		"/live/" + testRoom + "/1/video1_01.m4s" + tok,
		"/live/" + testRoom + "/1/video1_init0.mp4%00" + tok,
		"/live/" + testRoom + "/1/index.jsonl" + tok,
		"/live/" + testRoom + "/1/video1_p99999999999999999999.m4s" + tok,
		"/watch/../live/" + testRoom + "/1/index.m3u8",
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range paths {
		res, err := client.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK || bytes.Contains(b, []byte("root:")) {
			t.Errorf("%s: status %d body %q", p, res.StatusCode, b)
		}
	}
}

func TestSegmentRangesHeadCORS(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, true)
	u := e.liveURL("video1_1.m4s", testToken)
	full, code := e.get(u)
	if code != http.StatusOK || len(full) < 1000 {
		t.Fatalf("segment: %d, %d bytes", code, len(full))
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Range", "bytes=100-199")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || string(b) != full[100:200] {
		t.Fatalf("range: %d, %d bytes", res.StatusCode, len(b))
	}
	if cc := res.Header.Get("Cache-Control"); cc != string(cacheImmutable) {
		t.Fatalf("Cache-Control %q", cc)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header")
	}
	res, err = http.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(b) != 0 || res.ContentLength != int64(len(full)) {
		t.Fatalf("HEAD: %d, body %d, length %d", res.StatusCode, len(b), res.ContentLength)
	}
	req, _ = http.NewRequest(http.MethodOptions, u, nil)
	req.Header.Set("Origin", "http://elsewhere.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || !strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	req, _ = http.NewRequest(http.MethodPost, u, nil)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", res.StatusCode)
	}
}

var (
	rePDT      = regexp.MustCompile(`PROGRAM-DATE-TIME:[0-9T:.\-+Z]+`)
	reHost     = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)
	reDateAttr = regexp.MustCompile(`(availabilityStartTime|publishTime)="[^"]+"`)
)

func normalize(s string) string {
	s = rePDT.ReplaceAllString(s, "PROGRAM-DATE-TIME:<pdt>")
	s = reHost.ReplaceAllString(s, "http://<host>")
	return reDateAttr.ReplaceAllString(s, `$1="<time>"`)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "testdata", "golden", name)
	got = normalize(got)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenManifests(t *testing.T) {
	for _, end := range []bool{false, true} {
		name := "live"
		if end {
			name = "ended"
		}
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			tracks, units := loadFLV(t, "h264_aac.flv")
			e.feed(tracks, units, end)
			for _, f := range []string{"index.m3u8", "video1.m3u8", "audio2.m3u8", "index.mpd"} {
				body, code := e.get(e.liveURL(f, testToken))
				if code != http.StatusOK {
					t.Fatalf("%s: %d %s", f, code, body)
				}
				if !end && f != "index.mpd" && f != "index.m3u8" && !strings.Contains(body, "#EXT-X-PRELOAD-HINT") {
					t.Fatalf("%s: no preload hint", f)
				}
				golden(t, "packager_"+name+"_"+f, body)
			}
		})
	}
}

func TestTimeEndpoint(t *testing.T) {
	e := newTestEnv(t, nil)
	body, code := e.get(e.srv.URL + "/time")
	if code != http.StatusOK || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(body) {
		t.Fatalf("/time: %d %q", code, body)
	}
	_ = timeline.IndexFile
}
