package api

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roomcast/roomcast/storage"
)

// A full store (here bounded with Options.MaxSize, as a full file system would
// refuse the write) answers 507 STORAGE_FULL; reads go on.
func TestStorageFullAnswers507(t *testing.T) {
	st, err := storage.Open(filepath.Join(t.TempDir(), "roomcast.db"), storage.Options{NoSync: true, MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := newEnv(t, st)
	_, app := e.newApp("full")
	e.newMember(app, "host")
	desc := strings.Repeat("d", 1900)
	var last resp
	for i := range 2000 {
		last = e.do("POST", "/v2/apps/me/video-rooms", app,
			fmt.Sprintf(`{"appUserId":"host","type":"WEBINAR","title":"r%d","description":%q}`, i, desc))
		if last.Status != 201 {
			break
		}
	}
	if last.Status != 507 || last.Code() != "STORAGE_FULL" {
		t.Fatalf("last create: %d %s", last.Status, last.Body)
	}
	e.must(200, "GET", "/v2/apps/me/video-rooms", app, nil)
}

// Invalid UTF-8 in a body, a path identifier or the keyword is refused, not
// replaced by U+FFFD (which made two different appUserIds one member).
func TestInvalidUTF8Refused(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("utf8")
	for _, body := range []string{"{\"appUserId\":\"a\xff\"}", "{\"appUserId\":\"a\xfe\"}"} {
		e.fail(400, "INVALID_REQUEST", "POST", "/v2/apps/me/members", app, []byte(body))
	}
	// escaped halves of surrogate pairs would decode to U+FFFD as well
	for _, body := range []string{`{"appUserId":"a\udc00"}`, `{"appUserId":"a\ud800"}`, `{"appUserId":"a\ud800\u0041"}`} {
		e.fail(400, "INVALID_REQUEST", "POST", "/v2/apps/me/members", app, []byte(body))
	}
	// a pair, an escaped backslash before "u", and U+FFFD itself are fine
	e.must(201, "POST", "/v2/apps/me/members", app, []byte(`{"appUserId":"pair\ud83d\ude00"}`))
	e.must(201, "POST", "/v2/apps/me/members", app, []byte(`{"appUserId":"slash\\udc00"}`))
	e.must(201, "POST", "/v2/apps/me/members", app, []byte(`{"appUserId":"r\ufffd"}`))
	e.fail(400, "INVALID_REQUEST", "GET", "/v2/apps/me/members/a%FF", app, nil)
	e.fail(400, "INVALID_REQUEST", "GET", "/v2/apps/me/video-rooms?keyword=%FF", app, nil)
	e.newMember(app, "host")
	e.fail(400, "INVALID_REQUEST", "POST", "/v2/apps/me/video-rooms", app,
		[]byte("{\"appUserId\":\"host\",\"type\":\"WEBINAR\",\"title\":\"t\xc3\"}"))
	// Valid UTF-8 beyond ASCII is kept as sent.
	m := e.newMember(app, "Ünïcode-✓")
	if m.AppUserID != "Ünïcode-✓" {
		t.Fatalf("member %q", m.AppUserID)
	}
}
