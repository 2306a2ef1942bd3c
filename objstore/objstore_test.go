package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/roomcast/roomcast/internal/s3test"
)

// srv is one weed server for the package's tests (starting one takes about
// 10 s); each test works in a bucket of its own.
var srv *s3test.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "objstore-weed-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t0 := time.Now()
	srv, err = s3test.StartServer(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "objstore tests:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Printf("weed answering %.1f s after start\n", time.Since(t0).Seconds())
	// The clients take their credentials from the environment, as in production.
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprint(os.Stderr, srv.LogTail())
	}
	srv.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

var bucketSeq atomic.Int64

// newBucket returns a client of a new bucket (with the given prefix in its
// URL path, "" for none).
func newBucket(t *testing.T, prefix string, opts ...Option) *Client {
	t.Helper()
	name := fmt.Sprintf("t%d-%d", bucketSeq.Add(1), rand.Uint32())
	return newClient(t, name, prefix, opts...)
}

// newClient returns a client of bucket (created if missing) and prefix.
func newClient(t *testing.T, bucket, prefix string, opts ...Option) *Client {
	t.Helper()
	u := srv.URL(bucket)
	if prefix != "" {
		u = strings.Replace(u, "?", "/"+prefix+"?", 1)
	}
	cfg, err := ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureBucket(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return c
}

// ctx bounds a test's requests (only a failing run ever reaches it).
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestEnsureBucketAndPing(t *testing.T) {
	c := newBucket(t, "")
	if err := c.EnsureBucket(ctx(t)); err != nil {
		t.Fatalf("second EnsureBucket: %v", err)
	}
	if err := c.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cfg := c.Config()
	cfg.Bucket = "never-created"
	missing, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = missing.Ping(ctx(t))
	if err == nil || !strings.Contains(err.Error(), `bucket "never-created" does not exist`) {
		t.Fatalf("Ping of a missing bucket: %v", err)
	}
}

func TestPutReadStat(t *testing.T) {
	c := newBucket(t, "")
	ctx := ctx(t)

	if err := c.PutBytes(ctx, "room/1/index.mpd", []byte("<MPD/>"), ""); err != nil {
		t.Fatal(err)
	}
	b, err := c.ReadAll(ctx, "room/1/index.mpd")
	if err != nil || string(b) != "<MPD/>" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	st, err := c.Stat(ctx, "room/1/index.mpd")
	if err != nil {
		t.Fatal(err)
	}
	if st.Key != "room/1/index.mpd" || st.Size != 6 || st.ModTime.IsZero() || st.Dir {
		t.Fatalf("Stat = %+v", st)
	}

	// An empty object, and an overwrite.
	if err := c.PutBytes(ctx, "empty", nil, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if b, err := c.ReadAll(ctx, "empty"); err != nil || len(b) != 0 {
		t.Fatalf("ReadAll(empty) = %q, %v", b, err)
	}
	if err := c.PutBytes(ctx, "room/1/index.mpd", []byte("<MPD v=2/>"), ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := c.ReadAll(ctx, "room/1/index.mpd"); string(b) != "<MPD v=2/>" {
		t.Fatalf("after overwrite ReadAll = %q", b)
	}

	// PutFile, small (one PUT) and large (17 MiB: minio-go's multipart upload).
	for _, size := range []int{100 << 10, 17 << 20} {
		data := randomBytes(size)
		path := filepath.Join(t.TempDir(), "seg.m4s")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("room/1/video_%d.m4s", size)
		t0 := time.Now()
		n, err := c.PutFile(ctx, key, path)
		if err != nil || n != int64(size) {
			t.Fatalf("PutFile(%d bytes) = %d, %v", size, n, err)
		}
		t.Logf("PutFile %d KiB: %v", size>>10, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		got, err := c.ReadAll(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadAll after PutFile(%d bytes): %d bytes, %v", size, len(got), err)
		}
		t.Logf("ReadAll %d KiB: %v", size>>10, time.Since(t0).Round(time.Millisecond))
	}

	if _, err := c.PutFile(ctx, "x", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("PutFile of a missing file succeeded")
	}
	if _, err := c.PutFile(ctx, "x", t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("PutFile of a directory: %v", err)
	}
	for _, key := range []string{"", "/abs", "dir/", "a//b", "a/../b"} {
		if err := c.PutBytes(ctx, key, []byte("x"), ""); err == nil {
			t.Errorf("PutBytes(%q) succeeded", key)
		}
	}
}

func TestNotFound(t *testing.T) {
	c := newBucket(t, "")
	ctx := ctx(t)
	const key = "room/9/missing.m4s"
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want fs.ErrNotExist", op, err)
		} else if !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), op) {
			t.Errorf("%s: %q names neither operation nor key", op, err)
		}
	}
	_, err := c.Stat(ctx, key)
	check("stat", err)
	_, err = c.ReadAll(ctx, key)
	check("read", err)
	_, err = c.Open(ctx, key, -1)
	check("open", err)
	r, err := c.Open(ctx, key, 100) // size from a (stale) listing
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.ReadAt(make([]byte, 10), 0)
	check("read at", err)
	r.Close()

	if err := c.Delete(ctx, key); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if n, err := c.DeletePrefix(ctx, "room/9/"); err != nil || n != 0 {
		t.Errorf("DeletePrefix of nothing = %d, %v", n, err)
	}

	// Other errors are not "not found".
	bad := *c
	bad.cfg.Bucket = "no-such-bucket-here"
	if _, err := bad.Stat(ctx, key); err == nil {
		t.Error("Stat in a missing bucket succeeded")
	}
	if _, err := bad.ReadAll(ctx, key); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadAll in a missing bucket: %v, want an error other than fs.ErrNotExist", err)
	}
}

func TestList(t *testing.T) {
	c := newBucket(t, "")
	ctx := ctx(t)
	keys := []string{"room/1/a.m4s", "room/1/b.m4s", "room/1/sub/c.m4s", "room/10/x.m4s", "room/2/y.m4s", "top.json"}
	for _, k := range keys {
		if err := c.PutBytes(ctx, k, []byte(k), ""); err != nil {
			t.Fatal(err)
		}
	}
	list := func(prefix string, recursive bool) string {
		t.Helper()
		objs, err := c.List(ctx, prefix, recursive)
		if err != nil {
			t.Fatalf("List(%q, %v): %v", prefix, recursive, err)
		}
		var s []string
		for _, o := range objs {
			if o.Dir {
				if o.Size != 0 || !strings.HasSuffix(o.Key, "/") {
					t.Errorf("dir entry %+v", o)
				}
				s = append(s, o.Key+"(dir)")
				continue
			}
			if o.Size != int64(len(o.Key)) || o.ModTime.IsZero() {
				t.Errorf("entry %+v: size or time wrong", o)
			}
			s = append(s, o.Key)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		prefix    string
		recursive bool
		want      string
	}{
		{"", true, strings.Join(keys, " ")},
		{"", false, "room/(dir) top.json"},
		{"room/", false, "room/1/(dir) room/10/(dir) room/2/(dir)"},
		{"room/1/", false, "room/1/a.m4s room/1/b.m4s room/1/sub/(dir)"},
		{"room/1/", true, "room/1/a.m4s room/1/b.m4s room/1/sub/c.m4s"},
		{"room/3/", true, ""},
	} {
		if got := list(tc.prefix, tc.recursive); got != tc.want {
			t.Errorf("List(%q, %v) = %s\nwant %s", tc.prefix, tc.recursive, got, tc.want)
		}
	}
	for _, p := range []string{"room", "/room/", "room//"} {
		if _, err := c.List(ctx, p, true); err == nil {
			t.Errorf("List(%q) succeeded", p)
		}
	}

	// Delete and DeletePrefix: room/1/ is not room/10/.
	if err := c.Delete(ctx, "top.json"); err != nil {
		t.Fatal(err)
	}
	n, err := c.DeletePrefix(ctx, "room/1/")
	if err != nil || n != 3 {
		t.Fatalf("DeletePrefix(room/1/) = %d, %v", n, err)
	}
	if got := list("", true); got != "room/10/x.m4s room/2/y.m4s" {
		t.Errorf("after deletes: %s", got)
	}
	if _, err := c.DeletePrefix(ctx, ""); err == nil {
		t.Error("DeletePrefix(\"\") succeeded")
	}
	if _, err := c.DeletePrefix(ctx, "room"); err == nil {
		t.Error("DeletePrefix(\"room\") succeeded")
	}
}

// S3 answers at most 1000 keys a request: List pages through them all.
func TestListPaging(t *testing.T) {
	c := newBucket(t, "")
	ctx := ctx(t)
	const n = 1234
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("room/5/part_%05d.m4s", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				if err := c.PutBytes(ctx, want[i], []byte{byte(i)}, ""); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, recursive := range []bool{true, false} {
		objs, err := c.List(ctx, "room/5/", recursive)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(objs))
		for i, o := range objs {
			got[i] = o.Key
		}
		if !slices.Equal(got, want) {
			t.Fatalf("List(recursive=%v): %d keys, want %d in order", recursive, len(got), n)
		}
	}
	removed, err := c.DeletePrefix(ctx, "room/5/")
	if err != nil || removed != n {
		t.Fatalf("DeletePrefix = %d, %v; want %d", removed, err, n)
	}
	if objs, err := c.List(ctx, "", true); err != nil || len(objs) != 0 {
		t.Fatalf("after DeletePrefix: %d objects, %v", len(objs), err)
	}
}

// countingTransport counts the GET requests of objects (ranged or not).
type countingTransport struct {
	rt   http.RoundTripper
	gets atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.RawQuery == "" {
		c.gets.Add(1)
	}
	return c.rt.RoundTrip(req)
}

func newCountingTransport(t *testing.T) *countingTransport {
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &countingTransport{rt: tr}
}

func TestOpenReadAt(t *testing.T) {
	ct := newCountingTransport(t)
	c := newBucket(t, "", WithTransport(ct))
	ctx := ctx(t)
	const size = 6<<20 + 12345
	data := randomBytes(size)
	if err := c.PutBytes(ctx, "room/1/rec.mp4", data, ""); err != nil {
		t.Fatal(err)
	}

	// Front to back in 32 KiB reads: one streaming GET.
	r, err := c.Open(ctx, "room/1/rec.mp4", -1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != size {
		t.Fatalf("Size = %d", r.Size())
	}
	ct.gets.Store(0)
	t0 := time.Now()
	got := make([]byte, 0, size)
	buf := make([]byte, 32<<10)
	for off := int64(0); ; {
		n, err := r.ReadAt(buf, off)
		got = append(got, buf[:n]...)
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(t0)
	if !bytes.Equal(got, data) {
		t.Fatalf("sequential read: %d bytes, not the object", len(got))
	}
	if n := ct.gets.Load(); n > 2 {
		t.Fatalf("sequential read of %d bytes in 32 KiB ReadAt calls cost %d GETs, want at most 2", size, n)
	}
	t.Logf("sequential read of %.1f MiB in 32 KiB ReadAt calls: %d GET, %v", float64(size)/(1<<20), ct.gets.Load(), elapsed.Round(time.Millisecond))
	r.Close()

	// Random access: every read right, a jump back or far ahead reopens,
	// a small forward gap does not.
	r, err = c.Open(ctx, "room/1/rec.mp4", size)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readAt := func(off int64, n int) {
		t.Helper()
		p := make([]byte, n)
		m, err := r.ReadAt(p, off)
		want := data[min(off, size):min(off+int64(n), size)]
		if m != len(want) || !bytes.Equal(p[:m], want) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d bytes, want %d", n, off, m, len(want))
		}
		if m < n && err != io.EOF {
			t.Fatalf("short ReadAt(%d bytes at %d): err %v, want io.EOF", n, off, err)
		}
		if m == n && err != nil {
			t.Fatalf("ReadAt(%d bytes at %d): %v", n, off, err)
		}
	}
	gets := func() int64 { return ct.gets.Load() }
	ct.gets.Store(0)
	readAt(1000, 5000)
	readAt(6000, 100) // continues
	readAt(6100+512<<10, 100)
	if g := gets(); g != 1 {
		t.Errorf("after sequential and small-gap reads: %d GETs, want 1", g)
	}
	readAt(0, 10) // back: reopens
	if g := gets(); g != 2 {
		t.Errorf("after a jump back: %d GETs, want 2", g)
	}
	readAt(4<<20, 10) // far ahead: reopens
	if g := gets(); g != 3 {
		t.Errorf("after a jump far ahead: %d GETs, want 3", g)
	}
	for range 20 {
		off := rand.Int64N(size)
		readAt(off, 1+rand.IntN(100<<10))
	}
	readAt(size-10, 100) // the end: short read, io.EOF
	readAt(size, 10)     // past the end
	readAt(size+100, 10)
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt at a negative offset succeeded")
	}
	// After Close the Reader still reads (a new GET).
	r.Close()
	readAt(10, 10)
}

func TestWrongCredentials(t *testing.T) {
	c := newBucket(t, "")
	cfg := c.Config()
	try := func(what string) {
		t.Helper()
		bad, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctx(t)
		for op, err := range map[string]error{
			"ping":   bad.Ping(ctx),
			"ensure": bad.EnsureBucket(ctx),
			"put":    bad.PutBytes(ctx, "k", []byte("x"), ""),
		} {
			if err == nil {
				t.Errorf("%s with %s succeeded", op, what)
			} else if errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s with %s: %v is not 'not found'", op, what, err)
			}
		}
		_, err = bad.ReadAll(ctx, "k")
		var er minio.ErrorResponse
		if !errors.As(err, &er) || er.StatusCode != http.StatusForbidden {
			t.Errorf("read with %s: %v, want 403", what, err)
		}
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	try("a wrong secret")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	try("no credentials (anonymous)")
}

// Two clients with different prefixes on one bucket do not see each other's
// keys; a client without prefix sees both.
func TestPrefixes(t *testing.T) {
	root := newBucket(t, "")
	bucket := root.Config().Bucket
	a := newClient(t, bucket, "node-a")
	b := newClient(t, bucket, "node-b/rec")
	if a.Config().Prefix != "node-a/" || b.Config().Prefix != "node-b/rec/" {
		t.Fatalf("prefixes %q %q", a.Config().Prefix, b.Config().Prefix)
	}
	ctx := ctx(t)
	for _, c := range []*Client{a, b} {
		if err := c.PutBytes(ctx, "room/1/index.mpd", []byte(c.Config().Prefix), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*Client{a, b} {
		got, err := c.ReadAll(ctx, "room/1/index.mpd")
		if err != nil || string(got) != c.Config().Prefix {
			t.Errorf("%s read %q, %v", c.Config().Prefix, got, err)
		}
		objs, err := c.List(ctx, "", true)
		if err != nil || len(objs) != 1 || objs[0].Key != "room/1/index.mpd" {
			t.Errorf("%s lists %+v, %v", c.Config().Prefix, objs, err)
		}
		if st, err := c.Stat(ctx, "room/1/index.mpd"); err != nil || st.Key != "room/1/index.mpd" {
			t.Errorf("%s stat %+v, %v", c.Config().Prefix, st, err)
		}
	}
	all, err := root.List(ctx, "", true)
	if err != nil || len(all) != 2 || all[0].Key != "node-a/room/1/index.mpd" || all[1].Key != "node-b/rec/room/1/index.mpd" {
		t.Fatalf("root lists %+v, %v", all, err)
	}
	if n, err := a.DeletePrefix(ctx, "room/"); err != nil || n != 1 {
		t.Fatalf("a.DeletePrefix = %d, %v", n, err)
	}
	if _, err := b.Stat(ctx, "room/1/index.mpd"); err != nil {
		t.Fatalf("b's object after a's DeletePrefix: %v", err)
	}
	if _, err := a.Stat(ctx, "room/1/index.mpd"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a's object after its DeletePrefix: %v", err)
	}
}

// Small PUT and GET latency on loopback, for the log (no assertion on speed).
func TestLatency(t *testing.T) {
	c := newBucket(t, "")
	ctx := ctx(t)
	body := randomBytes(4 << 10)
	const n = 50
	var put, get []time.Duration
	for i := range n {
		key := fmt.Sprintf("lat/%d", i)
		t0 := time.Now()
		if err := c.PutBytes(ctx, key, body, ""); err != nil {
			t.Fatal(err)
		}
		put = append(put, time.Since(t0))
		t0 = time.Now()
		if _, err := c.ReadAll(ctx, key); err != nil {
			t.Fatal(err)
		}
		get = append(get, time.Since(t0))
	}
	slices.Sort(put)
	slices.Sort(get)
	t.Logf("4 KiB objects on loopback, %d each: PUT p50 %v p90 %v; GET p50 %v p90 %v", n,
		put[n/2].Round(10*time.Microsecond), put[n*9/10].Round(10*time.Microsecond),
		get[n/2].Round(10*time.Microsecond), get[n*9/10].Round(10*time.Microsecond))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	_, _ = r.Read(b)
	return b
}
