package load_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
	"github.com/roomcast/roomcast/cmd/roomcast-load/load/loadtest"
	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api"
	"github.com/roomcast/roomcast/storage/storagetest"
	"github.com/stretchr/testify/require"
)

// TestRunSetupWithRoomcastControl runs setup mode against Roomcast's real control
// plane (bbolt store, echo API over HTTP). The RTMP side is the test go-rtmp server
// calling control.PublishStarted the way cmd/roomcast wires ingest, and the play URL
// base is the LL-HLS test origin (its Muxer serves by file name, so the room's
// /live/{uuid}/{session}/index.m3u8 reaches it).
func TestRunSetupWithRoomcastControl(t *testing.T) {
	t.Parallel()
	origin := loadtest.StartHLS(t, testFLV)
	ctl := &control.Control{
		Store: storagetest.Open(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicHTTPURL: strings.TrimSuffix(origin.URL, "/index.m3u8"),
	}
	require.NoError(t, ctl.Initialize())
	t.Cleanup(ctl.Close)
	creds, err := ctl.CreateApp(t.Context(), "load")
	require.NoError(t, err)
	srv := &api.Server{Control: ctl}
	require.NoError(t, srv.Initialize())
	api := httptest.NewServer(srv.Handler())
	t.Cleanup(api.Close)
	rtmpSrv := loadtest.StartRTMPWithHook(t, func(key string, q url.Values) error {
		_, err := ctl.PublishStarted(t.Context(), key, q.Get("mode"))
		return err
	})

	c := baseConfig()
	c.APIURL, c.APIKey, c.APISecret = api.URL, creds.APIKey, creds.APISecret
	c.PublishURL = "rtmp://" + rtmpSrv.Addr + "/live/{key}?mode=CMAF"
	c.Streams, c.Viewers = 2, 1
	c.Duration = 4 * time.Second
	rep, err := (&load.Runner{Config: c}).Run(t.Context())
	require.NoError(t, err)

	require.Zero(t, rep.Publish.SetupFailures, "%+v", rep.Streams)
	require.Equal(t, 2, rep.Publish.Published)
	require.Zero(t, rep.View.Errors+rep.View.StartFailures, rep.View.LastError)
	require.Greater(t, rep.View.Requests["part"].OK, uint64(0))
	for _, s := range rep.Streams {
		require.NotEmpty(t, s.RoomID)
		require.Contains(t, s.ViewURL, "/live/")
		require.NotContains(t, s.ViewURL, "streamingToken")
		require.Equal(t, "LIVE", roomState(t, api.URL, creds, s.RoomID))
	}
}

func TestRunSetupAPIDownIsReported(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c := baseConfig()
	c.APIURL, c.APIKey, c.APISecret = dead.URL, "k", "s"
	c.Streams = 2
	c.Duration = 500 * time.Millisecond
	rep, err := (&load.Runner{Config: c}).Run(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, rep.Publish.SetupFailures)
	require.Contains(t, rep.Streams[0].SetupError, "is Roomcast running")
	require.Zero(t, rep.Publish.Published)
}

func TestRunSetupWrongCredentials(t *testing.T) {
	t.Parallel()
	ctl := &control.Control{Store: storagetest.Open(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	require.NoError(t, ctl.Initialize())
	t.Cleanup(ctl.Close)
	srv := &api.Server{Control: ctl}
	require.NoError(t, srv.Initialize())
	api := httptest.NewServer(srv.Handler())
	t.Cleanup(api.Close)
	c := baseConfig()
	c.APIURL, c.APIKey, c.APISecret = api.URL, "nope", "nope"
	c.Streams = 1
	c.Duration = 500 * time.Millisecond
	rep, err := (&load.Runner{Config: c}).Run(t.Context())
	require.NoError(t, err)
	require.Contains(t, rep.Streams[0].SetupError, "HTTP 401")
}

func roomState(t *testing.T, base string, creds control.Credentials, id string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v2/apps/me/video-rooms/"+id, nil)
	require.NoError(t, err)
	req.SetBasicAuth(creds.APIKey, creds.APISecret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct{ VideoRoomState string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	return r.VideoRoomState
}
