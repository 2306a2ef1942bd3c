package packager

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestWatchPage(t *testing.T) {
	e := newTestEnv(t, nil)
	page := e.srv.URL + "/watch/" + testRoom
	cases := []struct {
		name, url string
		want      int
		contains  string
	}{
		{"page", page + "?streamingToken=" + testToken, http.StatusOK, `src="/watch/assets/hls.min.js"`},
		{"page no token", page, http.StatusUnauthorized, ""},
		{"page other app", page + "?streamingToken=" + otherAppToken, http.StatusForbidden, ""},
		{"page unknown room", e.srv.URL + "/watch/0b6f2a52-8d1c-4c1e-9a51-3f1f1c2d3e40?streamingToken=" + testToken, http.StatusNotFound, ""},
		{"page bad room", e.srv.URL + "/watch/..%2f?streamingToken=" + testToken, http.StatusNotFound, ""},
		{"state", page + "/state?streamingToken=" + testToken, http.StatusOK, `"playUrl":"http://x/live/`},
		{"state garbage token", page + "/state?streamingToken=x", http.StatusUnauthorized, ""},
		{"hls.js", e.srv.URL + "/watch/assets/hls.min.js", http.StatusOK, "Hls"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, code := e.get(c.url)
			if code != c.want || !strings.Contains(body, c.contains) {
				t.Fatalf("%d (want %d), body %.200q", code, c.want, body)
			}
		})
	}
	body, _ := e.get(page + "/state?streamingToken=" + testToken)
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); err != nil || st["title"] != "Test room" || st["state"] != "LIVE" {
		t.Fatalf("state %q: %v", body, err)
	}
	if _, ok := st["appId"]; ok {
		t.Fatal("state leaks the app")
	}
}
