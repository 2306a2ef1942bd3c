package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roomcast/roomcast/storage"
)

// runStart runs the binary on dataDir until it exits (it must: the store is
// damaged) and returns its exit code and output.
func runStart(t *testing.T, bin, dataDir string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, "--data", dataDir, "--http-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// wantRefusal checks a start refused in exactly one line naming the file.
func wantRefusal(t *testing.T, code int, out, path, reason string) {
	t.Helper()
	want := "roomcast: " + path + ": damaged store: "
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], want) || !strings.Contains(lines[0], reason) ||
		!strings.HasSuffix(lines[0], "; restore a backup (roomcast backup) or move it away") {
		t.Fatalf("exit %d, output:\n%s\nwant exit 1 and one line %q… with %q", code, out, want, reason)
	}
}

// roomsServer starts a server in dir, creates n rooms (long descriptions: a few
// per page) through the API and returns the server, credentials and room IDs.
func roomsServer(t *testing.T, dir string, n int) (*server, credentials, []uint64) {
	t.Helper()
	s := startServer(t, testConfig(t, dir))
	creds := readCredentials(t, dir)
	base := "http://" + s.HTTPAddr() + "/v2/apps/me"
	post := func(path, body string, out any) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.SetBasicAuth(creds.APIKey, creds.APISecret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	post("/members", `{"appUserId":"host"}`, nil)
	var ids []uint64
	for i := range n {
		var room struct {
			ID uint64 `json:"id"`
		}
		post("/video-rooms", fmt.Sprintf(`{"appUserId":"host","type":"WEBINAR","title":"room %d","description":%q}`,
			i, strings.Repeat("d", 1500)), &room)
		ids = append(ids, room.ID)
	}
	return s, creds, ids
}

// roomPage returns the offset of the page holding room id's record (its stored
// JSON starts with {"id":<id>,"uuid":).
func roomPage(t *testing.T, path string, id uint64) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, fmt.Appendf(nil, `{"id":%d,"uuid":`, id))
	if i < 0 {
		t.Fatalf("room %d not found in %s", id, path)
	}
	return int64(i) / int64(os.Getpagesize()) * int64(os.Getpagesize())
}

// smashPage overwrites the header of the page at off (page type 0xffff).
func smashPage(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 16), off); err != nil {
		t.Fatal(err)
	}
}

func TestStartRefusesEmptyStoreAndKeepsCredentials(t *testing.T) {
	t.Parallel()
	bin := buildRoomcast(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "roomcast.db")
	creds := []byte(`{"appId":1,"apiKey":"old-key","apiSecret":"the-only-copy-of-the-old-secret"}` + "\n")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials.json"), creds, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runStart(t, bin, dir)
	wantRefusal(t, code, out, db, "empty file (0 bytes)")
	if got, _ := os.ReadFile(filepath.Join(dir, "credentials.json")); !bytes.Equal(got, creds) {
		t.Fatalf("credentials.json changed: %s", got)
	}
	if fi, _ := os.Stat(db); fi.Size() != 0 {
		t.Fatalf("the empty store was written: %d bytes", fi.Size())
	}
}

// A store that is gone while credentials.json remains (moved away, replaced by a
// fresh file): no new app replaces the old credentials.
func TestStartKeepsCredentialsOfAMissingStore(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	s.Close()
	before, err := os.ReadFile(filepath.Join(dir, "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "roomcast.db"), filepath.Join(dir, "moved.db")); err != nil {
		t.Fatal(err)
	}
	s = &server{Config: testConfig(t, dir), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err = s.Initialize()
	if err == nil || !strings.Contains(err.Error(), "credentials.json exists") {
		t.Fatalf("start with credentials.json and no store: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "credentials.json")); !bytes.Equal(after, before) {
		t.Fatalf("credentials.json replaced")
	}
}

func TestStartRefusesTruncatedStore(t *testing.T) {
	t.Parallel()
	bin := buildRoomcast(t)
	dir := t.TempDir()
	s, _, _ := roomsServer(t, dir, 60)
	s.Close()
	db := filepath.Join(dir, "roomcast.db")
	fi, _ := os.Stat(db)
	if err := os.Truncate(db, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	code, out := runStart(t, bin, dir)
	wantRefusal(t, code, out, db, "truncated")
}

func TestStartRefusesSmashedPages(t *testing.T) {
	t.Parallel()
	bin := buildRoomcast(t)
	dir := t.TempDir()
	s, _, ids := roomsServer(t, dir, 60)
	s.Close()
	db := filepath.Join(dir, "roomcast.db")
	smashPage(t, db, roomPage(t, db, ids[30]))
	code, out := runStart(t, bin, dir)
	wantRefusal(t, code, out, db, "")
	if strings.Contains(out, "panic") || strings.Contains(out, "goroutine") {
		t.Fatalf("raw panic:\n%s", out)
	}
}

// A page damaged while the server runs: the request that reads it gets 500
// STORAGE_CORRUPT, the server goes on serving the others.
func TestBadPageAnswers500AndServerGoesOn(t *testing.T) {
	dir := t.TempDir()
	s, creds, ids := roomsServer(t, dir, 60)
	defer s.Close()
	db := filepath.Join(dir, "roomcast.db")
	bad, good := ids[30], ids[0]
	if roomPage(t, db, bad) == roomPage(t, db, good) {
		t.Fatal("rooms share a page")
	}
	smashPage(t, db, roomPage(t, db, bad))
	base := "http://" + s.HTTPAddr()
	for range 2 {
		code, body := get(t, fmt.Sprintf("%s/v2/apps/me/video-rooms/%d", base, bad), creds.APIKey, creds.APISecret)
		var e struct{ ErrorCode string }
		_ = json.Unmarshal(body, &e)
		if code != 500 || e.ErrorCode != "STORAGE_CORRUPT" {
			t.Fatalf("GET damaged room: %d %s", code, body)
		}
		if code, body := get(t, fmt.Sprintf("%s/v2/apps/me/video-rooms/%d", base, good), creds.APIKey, creds.APISecret); code != 200 {
			t.Fatalf("GET intact room: %d %s", code, body)
		}
		if code, _ := get(t, base+"/healthz", "", ""); code != 200 {
			t.Fatalf("healthz: %d", code)
		}
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	s, _, ids := roomsServer(t, dir, 60)
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"check", "--data", dir}, noEnv, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "in use by a running server") {
		t.Fatalf("check while running: exit %d: %s", code, stderr.String())
	}
	s.Close()
	stdout.Reset()
	stderr.Reset()
	db := filepath.Join(dir, "roomcast.db")
	if code := realMain([]string{"check", "--data", dir}, noEnv, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "ok (") || !strings.Contains(stdout.String(), "60 rooms") {
		t.Fatalf("check of a sound store: exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	smashPage(t, db, roomPage(t, db, ids[30]))
	stdout.Reset()
	stderr.Reset()
	code := realMain([]string{"check", "--file", db}, noEnv, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "roomcast: "+db+": damaged store: ") {
		t.Fatalf("check of a damaged store: exit %d: %q", code, stderr.String())
	}
	if code := realMain([]string{"check", "--file", filepath.Join(dir, "absent.db")}, noEnv, io.Discard, io.Discard); code != 2 {
		t.Fatalf("check of a missing file: exit %d", code)
	}
}

func TestBackupWhileServerRuns(t *testing.T) {
	dir := t.TempDir()
	s, _, ids := roomsServer(t, dir, 40)
	out := filepath.Join(t.TempDir(), "copy.db")
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"backup", "--data", dir, "--out", out}, noEnv, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "the running server") {
		t.Fatalf("backup: exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v %v", fi, err)
	}
	wantRooms(t, out, ids)
	s.Close()

	// With no server, the copy is taken from the file.
	out2 := filepath.Join(t.TempDir(), "copy2.db")
	stdout.Reset()
	if code := realMain([]string{"backup", "--data", dir, "--out", out2}, noEnv, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "no server running") {
		t.Fatalf("offline backup: exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	wantRooms(t, out2, ids)
}

// wantRooms opens a copy and checks it holds exactly the rooms ids.
func wantRooms(t *testing.T, path string, ids []uint64) {
	t.Helper()
	st, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(func(tx *storage.Tx) error {
		var got []uint64
		err := tx.ForEachRoomOfApp(1, false, func(r storage.Room) (bool, error) {
			got = append(got, r.ID)
			return true, nil
		})
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("copy holds rooms %v, want %v", got, ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func noEnv(string) string { return "" }
