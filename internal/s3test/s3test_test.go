package s3test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// The weed version is named in three places that must agree: the module that
// builds it, the Makefile that caches it and Binary's cache path.
func TestWeedVersionPinnedConsistently(t *testing.T) {
	mod, err := os.ReadFile("../../tools/seaweedfs/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`github\.com/seaweedfs/seaweedfs v0\.0\.0-\d{14}-` + WeedVersion + `\b`).Match(mod) {
		t.Errorf("tools/seaweedfs/go.mod does not pin seaweedfs at commit %s:\n%s", WeedVersion, mod)
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^WEED_VERSION\s*:?=\s*` + WeedVersion + `\s*$`).Match(mk) {
		t.Errorf("the Makefile's WEED_VERSION is not %s", WeedVersion)
	}
}

func TestServer(t *testing.T) {
	t0 := time.Now()
	srv := Start(t)
	t.Logf("weed answering %.1f s after start (%s)", time.Since(t0).Seconds(), srv.Endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") || strings.HasSuffix(srv.Endpoint, ":2024") {
		t.Fatalf("endpoint %s", srv.Endpoint)
	}
	want := "s3://bkt1?endpoint=" + srv.Endpoint + "&region=us-east-1"
	if got := srv.URL("bkt1"); got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}

	mc, tr, err := srv.client(srv.AccessKey, srv.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "bkt1", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := []byte("survives a restart")
	if _, err := mc.PutObject(ctx, "bkt1", "k", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	// Credentials are checked: a wrong secret, an unknown key and anonymous
	// requests are refused.
	for _, keys := range [][2]string{{srv.AccessKey, "wrong-secret"}, {"unknown", srv.SecretKey}, {"", ""}} {
		bad, _, err := srv.client(keys[0], keys[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.StatObject(ctx, "bkt1", "k", minio.StatObjectOptions{}); err == nil {
			t.Errorf("stat with keys %q succeeded", keys)
		} else if code := minio.ToErrorResponse(err).StatusCode; code != 403 {
			t.Errorf("stat with keys %q: %v (status %d), want 403", keys, err, code)
		}
		if err := bad.MakeBucket(ctx, "bkt2", minio.MakeBucketOptions{}); err == nil {
			t.Errorf("make bucket with keys %q succeeded", keys)
		}
	}

	read := func() string {
		t.Helper()
		o, err := mc.GetObject(ctx, "bkt1", "k", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// Killed: requests fail; restarted: the data is there, on the same endpoint.
	srv.Kill()
	if srv.Running() {
		t.Fatal("running after Kill")
	}
	if _, err := mc.StatObject(ctx, "bkt1", "k", minio.StatObjectOptions{}); err == nil {
		t.Fatal("stat succeeded with weed killed")
	}
	t0 = time.Now()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("weed answering %.1f s after restart (after kill)", time.Since(t0).Seconds())
	if got := read(); got != string(body) {
		t.Fatalf("after restart read %q", got)
	}

	// A graceful stop ends the process group.
	tr.CloseIdleConnections()
	t0 = time.Now()
	srv.Stop()
	t.Logf("weed stopped gracefully in %.1f s", time.Since(t0).Seconds())
	if srv.Running() {
		t.Fatal("running after Stop")
	}
}

func TestEnv(t *testing.T) {
	s := &Server{AccessKey: "a", SecretKey: "s"}
	got := strings.Join(s.Env(), " ")
	if got != "AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=s AWS_REGION=us-east-1" {
		t.Errorf("Env = %s", got)
	}
}

// Without a weed binary Binary says how to build one (Start fails the test with
// it: never a skip).
func TestBinaryMissing(t *testing.T) {
	t.Setenv("ROOMCAST_WEED", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := Binary()
	if !errors.Is(err, ErrNoWeed) || !strings.Contains(err.Error(), "make weed") {
		t.Fatalf("Binary() = %v, want ErrNoWeed naming `make weed`", err)
	}
	t.Setenv("ROOMCAST_WEED", "/nonexistent/weed")
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "ROOMCAST_WEED") {
		t.Fatalf("Binary() with a bad ROOMCAST_WEED = %v", err)
	}
}
