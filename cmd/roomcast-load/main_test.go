package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load/loadtest"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

const testFLV = "../../testdata/h264_aac.flv"

func TestMain(m *testing.M) {
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// jsonReport is the part of the JSON report the tests read, decoded independently of
// the load package's types (the file format is the contract).
type jsonReport struct {
	Interrupted bool `json:"interrupted"`
	Publish     struct {
		Streams      int   `json:"streams"`
		Published    int   `json:"published"`
		KeptRealtime int   `json:"kept_realtime"`
		Bytes        int64 `json:"bytes"`
	} `json:"publish"`
	Streams []struct {
		Index   int    `json:"index"`
		Key     string `json:"key"`
		Publish struct {
			Bytes        int64   `json:"bytes"`
			Tags         int64   `json:"tags"`
			MaxLagMS     float64 `json:"max_lag_ms"`
			KeptRealtime bool    `json:"kept_realtime"`
		} `json:"publish"`
	} `json:"streams"`
	LoadTool struct {
		Samples int `json:"samples"`
	} `json:"load_tool"`
	Server *struct {
		PID        int     `json:"pid"`
		Samples    int     `json:"samples"`
		RSSEndMiB  float64 `json:"rss_end_mib"`
		CPUPercent float64 `json:"cpu_percent"`
	} `json:"server"`
}

func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb, nil)
	return code, out.String(), errb.String()
}

func readReport(t *testing.T, path string) jsonReport {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r jsonReport
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

func TestCLIPublishJSONMatchesServer(t *testing.T) {
	srv := loadtest.StartRTMP(t)
	keysFile := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(keysFile, []byte("one-secret-key\ntwo-secret-key\n"), 0o600))
	out := filepath.Join(t.TempDir(), "out.json")
	code, stdout, stderr := runCLI(t, t.Context(), "--file", testFLV, "--keys-file", keysFile,
		"--publish-url", "rtmp://"+srv.Addr+"/live/{key}?mode=CMAF", "--duration", "2s",
		"--progress", "500ms", "--pid", strconv.Itoa(os.Getpid()), "--json", out)
	require.Equal(t, 0, code, stderr)
	require.True(t, srv.WaitIdle(10*time.Second))

	rep := readReport(t, out)
	require.False(t, rep.Interrupted)
	require.Equal(t, 2, rep.Publish.Published)
	require.Equal(t, 2, rep.Publish.KeptRealtime)
	var sum int64
	for i, name := range []string{"one-secret-key", "two-secret-key"} {
		got := srv.Counts(name)
		s := rep.Streams[i]
		require.EqualValues(t, got.Tags(), s.Publish.Tags, name)
		require.Equal(t, got.Bytes, s.Publish.Bytes, name)
		require.True(t, s.Publish.KeptRealtime)
		require.Equal(t, name[:4]+"…", s.Key, "keys are redacted")
		sum += s.Publish.Bytes
	}
	require.Equal(t, sum, rep.Publish.Bytes)
	require.NotNil(t, rep.Server)
	require.Equal(t, os.Getpid(), rep.Server.PID)
	require.GreaterOrEqual(t, rep.Server.Samples, 2)
	require.Positive(t, rep.Server.RSSEndMiB)

	require.Contains(t, stdout, "2/2 published")
	require.Contains(t, stdout, "SERVER   pid")
	require.Contains(t, stderr, "pub 2/2 live", "progress lines on stderr")
	require.NotContains(t, stdout+stderr+mustRead(t, out), "secret-key", "no key leaks")
}

func TestCLICancelPrintsSummary(t *testing.T) {
	srv := loadtest.StartRTMP(t)
	out := filepath.Join(t.TempDir(), "out.json")
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(time.Second, cancel) // what Ctrl-C does through signal.NotifyContext
	code, stdout, stderr := runCLI(t, ctx, "--file", testFLV, "--streams", "2",
		"--publish-url", "rtmp://"+srv.Addr+"/live/s{i}", "--duration", "0", "--json", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "(interrupted)")
	rep := readReport(t, out)
	require.True(t, rep.Interrupted)
	require.Equal(t, 2, rep.Publish.Published)
	require.True(t, srv.WaitIdle(10*time.Second))
	require.Equal(t, srv.Counts("s1").Bytes, rep.Streams[1].Publish.Bytes)
}

func TestCLIFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--streams", "2"}, "--file"},
		{[]string{"--file", testFLV}, "uses {key}: give --keys, --keys-file or --api"},
		{[]string{"--file", testFLV, "--keys", "a", "--viewers", "1"}, "--view-url"},
		{[]string{"--file", testFLV, "--keys", "a", "--viewer", "fast"}, `--viewer "fast"`},
		{[]string{"--file", testFLV, "--keys", "a", "--keys-file", "x"}, "exclude each other"},
		{[]string{"--file", testFLV, "--keys-file", "/nonexistent"}, "--keys-file"},
		{[]string{"--file", testFLV, "--publish-url", "rtmp://h/live/{stream}"}, "unknown placeholder"},
		{[]string{"--file", testFLV, "--api", "http://127.0.0.1:1"}, "--api-key"},
		{[]string{"--file", testFLV, "--keys", "a", "--log-level", "loud"}, "--log-level"},
		{[]string{"--file", testFLV, "--keys", "a", "extra"}, "unexpected arguments"},
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"--file", "/nonexistent.flv", "--keys", "a"}, "no such file"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, t.Context(), tc.args...)
			require.Equal(t, 2, code)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestCLIHelpExplainsEveryFlag(t *testing.T) {
	code, _, stderr := runCLI(t, t.Context(), "--help")
	require.Equal(t, 0, code)
	for _, f := range []string{"-file", "-publish-url", "-view-url", "-keys", "-keys-file", "-streams", "-viewers",
		"-viewer", "-fast", "-duration", "-api", "-api-key", "-api-secret", "-pid", "-json", "-progress", "Examples:"} {
		require.Contains(t, stderr, f)
	}
}

func TestCLIUnreadableFLV(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.flv")
	require.NoError(t, os.WriteFile(bad, []byte("not an flv at all"), 0o600))
	code, _, stderr := runCLI(t, t.Context(), "--file", bad, "--keys", "a")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "not an FLV file")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
