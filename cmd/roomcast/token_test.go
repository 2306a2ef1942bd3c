package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/member/membertest"
)

// TestPlaybackRefusesTokenRespellings: the play URLs of a live room (LL-HLS, DASH,
// the player page) take the streamingToken only as it was issued; the other
// spellings of its bytes (trailing bits, padding, line breaks, the standard
// alphabet) are 401.
func TestPlaybackRefusesTokenRespellings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	defer s.Close()
	a := newAPI(t, s, dir)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	p := publish(t, b.rtmp, b.key)
	defer p.stop()
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	var r roomJSON
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, &r); code != 200 || r.HLS == nil || r.DASH == nil {
		t.Fatalf("start: %d %+v", code, r)
	}
	local := func(public string) string {
		return regexp.MustCompile(`^https?://[^/]+`).ReplaceAllString(public, a.base)
	}
	urls := []string{local(*r.HLS), local(*r.DASH), a.base + "/watch/" + b.uuid}
	status := func(u, token string) int {
		resp, _ := httpGet(t, u+"?streamingToken="+url.QueryEscape(token), nil)
		return resp.StatusCode
	}
	for _, u := range urls {
		eventually(t, 10*time.Second, u+" served", func() bool { return status(u, b.token) == http.StatusOK })
	}
	others := membertest.Respellings(b.token)
	if len(others) < 5 {
		t.Fatalf("only %d respellings", len(others))
	}
	for _, tok := range others {
		for _, u := range urls {
			if c := status(u, tok); c != http.StatusUnauthorized {
				t.Errorf("%s with %q: %d, want 401", u, tok, c)
			}
		}
	}
	for _, u := range urls {
		if c := status(u, b.token); c != http.StatusOK {
			t.Errorf("%s with the issued token: %d", u, c)
		}
	}
}
