package api

import (
	"net/http"
	"testing"
)

// TestMemberAPICORS: a browser page on another origin may call the Member API
// (preflight answered, Access-Control-Allow-Origin on answers, errors included);
// the App API gets no CORS headers.
func TestMemberAPICORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	m := e.newMember(app, "viewer")
	send := func(method, path, token string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+path, nil)
		req.Header.Set("Origin", "https://app.example")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	pre := send("OPTIONS", "/v2/members/me/video-rooms", "", map[string]string{
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization, content-type",
	})
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{m.Access, 200}, {"", 401}} {
		if res := send("GET", "/v2/members/me", tc.token, nil); res.StatusCode != tc.want || res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET /v2/members/me (token %v): %d, ACAO %q", tc.token != "", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	if res := send("GET", "/v2/apps/me/video-rooms", "", nil); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("App API answers with CORS: %v", res.Header)
	}
	if res := send("OPTIONS", "/v2/apps/me/video-rooms", "", map[string]string{"Access-Control-Request-Method": "POST"}); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("App API preflight allowed: %d %v", res.StatusCode, res.Header)
	}
}
