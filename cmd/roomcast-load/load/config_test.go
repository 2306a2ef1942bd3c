package load_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*load.Config)
		err  string // "" = valid
	}{
		{"keys fill streams", func(c *load.Config) { c.Keys = []string{"a", "b"} }, ""},
		{"index template", func(c *load.Config) { c.PublishURL = "rtmp://h/live/s{i}"; c.Streams = 3 }, ""},
		{"no streams", func(c *load.Config) {}, "--streams"},
		{"too few keys", func(c *load.Config) { c.Keys = []string{"a"}; c.Streams = 2 }, "only 1 keys"},
		{"key without keys", func(c *load.Config) { c.Streams = 2 }, "uses {key}"},
		{"same url for all", func(c *load.Config) { c.PublishURL = "rtmp://h/live/x"; c.Streams = 2 }, "needs {key} or {i}"},
		{"unknown placeholder", func(c *load.Config) { c.PublishURL = "rtmp://h/live/{name}"; c.Streams = 1 }, "unknown placeholder"},
		{"wrong scheme", func(c *load.Config) { c.PublishURL = "http://h/live/{i}"; c.Streams = 1 }, "rtmp:// URL"},
		{"no file", func(c *load.Config) { c.File = ""; c.Keys = []string{"a"} }, "--file"},
		{"missing file", func(c *load.Config) { c.File = "/nonexistent.flv"; c.Keys = []string{"a"} }, "no such file"},
		{"viewers without url", func(c *load.Config) { c.Keys = []string{"a"}; c.Viewers = 1 }, "--view-url"},
		{"view url scheme", func(c *load.Config) { c.Keys = []string{"a"}; c.Viewers = 1; c.ViewURL = "rtmp://h/{key}" }, "http/https"},
		{"bad viewer mode", func(c *load.Config) {
			c.Keys = []string{"a"}
			c.Viewers = 1
			c.ViewURL = "http://h/{key}.m3u8"
			c.Viewer = "fast"
		}, "--viewer"},
		{"api without secret", func(c *load.Config) { c.APIURL = "http://127.0.0.1:8080"; c.Streams = 1 }, "--api-key"},
		{"api not a url", func(c *load.Config) { c.APIURL = "localhost:8080"; c.Streams = 1; c.APIKey, c.APISecret = "k", "s" }, "http(s) base URL"},
		{"api and keys", func(c *load.Config) {
			c.APIURL, c.APIKey, c.APISecret = "http://127.0.0.1:8080", "k", "s"
			c.Keys = []string{"a"}
		}, "exclude"},
		{"api setup", func(c *load.Config) {
			c.APIURL, c.APIKey, c.APISecret = "http://127.0.0.1:8080", "k", "s"
			c.Streams, c.Viewers = 2, 1
		}, ""},
		{"negative duration", func(c *load.Config) { c.Keys = []string{"a"}; c.Duration = -time.Second }, "--duration"},
		{"no publish needs no file", func(c *load.Config) {
			c.File, c.NoPublish, c.Viewers, c.Streams = "", true, 1, 1
			c.ViewURL = "http://127.0.0.1:8888/s{i}/index.m3u8"
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				require.Positive(t, c.Streams)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestReadKeysAndExpand(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(p, []byte("# keys\nk1\n\n  k2  \n"), 0o600))
	keys, err := load.ReadKeys(p)
	require.NoError(t, err)
	require.Equal(t, []string{"k1", "k2"}, keys)
	require.Equal(t, []string{"a", "b"}, load.SplitKeys(" a, ,b,"))
	require.Equal(t, "rtmp://h/live/k2?i=3", load.Expand("rtmp://h/live/{key}?i={i}", "k2", 3))

	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing\n"), 0o600))
	_, err = load.ReadKeys(empty)
	require.ErrorContains(t, err, "no keys")
}

func TestParseViewerMode(t *testing.T) {
	for _, s := range []string{"ll", "plain"} {
		m, err := load.ParseViewerMode(s)
		require.NoError(t, err)
		require.Equal(t, s, string(m))
	}
	_, err := load.ParseViewerMode("LL")
	require.ErrorContains(t, err, "want ll or plain")
}
