package objstore

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	good := []struct {
		in   string
		want Config
	}{
		{"s3://recordings", Config{Bucket: "recordings", Endpoint: "s3.us-east-1.amazonaws.com", Secure: true, Region: "us-east-1"}},
		{"s3://recordings?region=eu-west-3", Config{Bucket: "recordings", Endpoint: "s3.eu-west-3.amazonaws.com", Secure: true, Region: "eu-west-3"}},
		{"s3://recordings/vod?endpoint=http://127.0.0.1:9000", Config{Bucket: "recordings", Prefix: "vod/", Endpoint: "127.0.0.1:9000", Region: "us-east-1", PathStyle: true}},
		{"s3://recordings/a/b/?endpoint=https://minio.example.com&region=auto", Config{Bucket: "recordings", Prefix: "a/b/", Endpoint: "minio.example.com", Secure: true, Region: "auto", PathStyle: true}},
		{"s3://rec.bucket-1/?endpoint=http://[::1]:9000/", Config{Bucket: "rec.bucket-1", Endpoint: "[::1]:9000", Region: "us-east-1", PathStyle: true}},
		{"s3://recordings?endpoint=https://s3.example.com&pathStyle=false", Config{Bucket: "recordings", Endpoint: "s3.example.com", Secure: true, Region: "us-east-1"}},
		{"s3://recordings?pathStyle=true", Config{Bucket: "recordings", Endpoint: "s3.us-east-1.amazonaws.com", Secure: true, Region: "us-east-1", PathStyle: true}},
	}
	for _, tc := range good {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		// String gives a URL that parses back to the same Config.
		back, err := ParseURL(got.String())
		if err != nil || back != got {
			t.Errorf("ParseURL(%q).String() = %s parses to %+v, %v", tc.in, got.String(), back, err)
		}
	}

	bad := []struct{ in, msg string }{
		{"", "empty"},
		{"recordings", "scheme must be s3://"},
		{"http://recordings", "scheme must be s3://"},
		{"s3://", "no bucket"},
		{"s3:///prefix", "no bucket"},
		{"s3:recordings", "no bucket"},
		{"s3://ab", "bucket \"ab\""},
		{"s3://Recordings", "bucket \"Recordings\""},
		{"s3://bad_bucket", "bucket \"bad_bucket\""},
		{"s3://127.0.0.1:9000/rec", "not a bucket name"},
		{"s3://key:secret@recordings", "credentials do not belong in the URL"},
		{"s3://recordings/a//b", "empty, . or .. segment"},
		{"s3://recordings/../b", "segment"},
		{"s3://recordings?endpoint=127.0.0.1:9000", "want http://host[:port] or https://host[:port]"},
		{"s3://recordings?endpoint=ftp://host", "want http://host[:port]"},
		{"s3://recordings?endpoint=http://", "no host"},
		{"s3://recordings?endpoint=http://host:0", "bad port"},
		{"s3://recordings?endpoint=http://host:99999", "bad port"},
		{"s3://recordings?endpoint=http://host/path", "no path"},
		{"s3://recordings?endpoint=", "empty endpoint"},
		{"s3://recordings?region=", "empty region"},
		{"s3://recordings?pathStyle=maybe", "pathStyle=\"maybe\""},
		{"s3://recordings?bucket=x", "unknown parameter \"bucket\""},
		{"s3://recordings?region=a&region=b", "given 2 times"},
		{"s3://recordings#frag", "fragment"},
	}
	for _, tc := range bad {
		_, err := ParseURL(tc.in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseURL(%q) = %v, want an error saying %q", tc.in, err, tc.msg)
		}
	}

	// A password given by mistake is not repeated in the error.
	if _, err := ParseURL("s3://key:hunter2@recordings"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error repeats the secret: %v", err)
	}
}

func TestConfigString(t *testing.T) {
	c := Config{Bucket: "rec", Prefix: "vod/", Endpoint: "127.0.0.1:9000", Region: "us-east-1", PathStyle: true}
	want := "s3://rec/vod/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&pathStyle=true&region=us-east-1"
	if got := c.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestContentType(t *testing.T) {
	for key, want := range map[string]string{
		"room/1/video1_3.m4s": "video/iso.segment",
		"room/1/init.mp4":     "video/mp4",
		"room/1/index.mpd":    "application/dash+xml",
		"room/1/index.m3u8":   "application/vnd.apple.mpegurl",
		"room/1/meta.json":    "application/json",
		"room/1/noext":        "application/octet-stream",
	} {
		if got := ContentType(key); got != want {
			t.Errorf("ContentType(%q) = %s, want %s", key, got, want)
		}
	}
}
