package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
)

const usageHead = `roomcast-load: RTMP publishers + HLS viewers against a live-streaming server.

Publishes an FLV file in a loop from N RTMP publishers (go-rtmp client), paced at real
time by the tag timestamps (or --fast), optionally with M HLS viewers per stream that
behave like hls.js in low-latency mode (blocking reload, parts, segments) or like a
plain HLS player, and optionally samples the server's CPU and RSS from /proc.
Templates take {key} (from --keys/--keys-file, or the member's key in setup mode) and
{i} (the stream index 0..N-1), so any RTMP → HLS server can be measured side by side.
With --api it sets up Roomcast itself: members, stream keys, rooms, start, tokens.

Examples:
  # Roomcast, full product path (keys, rooms, start, tokens from the App API)
  roomcast-load --file testdata/h264_aac.flv --streams 50 --viewers 2 --viewer ll \
    --api http://127.0.0.1:8080 --api-key K --api-secret S --pid $(pidof roomcast) \
    --duration 60s --json out.json
  # MediaMTX with the same load, keys by index
  roomcast-load --file testdata/h264_aac.flv --streams 50 --viewers 2 \
    --publish-url 'rtmp://127.0.0.1:1935/load{i}' \
    --view-url 'http://127.0.0.1:8888/load{i}/index.m3u8' --pid $(pidof mediamtx)

The summary table goes to stdout, progress lines and logs to stderr. Ctrl-C stops
the run cleanly and still prints the summary (a second Ctrl-C kills it).

Flags:
`

// parseFlags turns the command line into a validated load.Config.
func parseFlags(args []string, stderr io.Writer) (load.Config, slog.Level, error) {
	c := load.DefaultConfig()
	fs := flag.NewFlagSet("roomcast-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	var keys, keysFile, viewer, logLevel string
	fs.StringVar(&c.File, "file", "", "FLV file every publisher replays in a loop (H.264/HEVC/AV1 + AAC/Opus as the server accepts); required unless --no-publish")
	fs.StringVar(&c.PublishURL, "publish-url", c.PublishURL, "RTMP publish URL `template`: rtmp://host[:port]/app/name[?query]; {key} and {i} are replaced per stream; the part after the app is the publish name, query included (like OBS's stream key)")
	fs.StringVar(&c.ViewURL, "view-url", "", "HLS playlist URL `template` for viewers without --api, e.g. http://127.0.0.1:8888/{key}/index.m3u8 (multivariant or media playlist)")
	fs.StringVar(&keys, "keys", "", "comma-separated stream keys for {key}")
	fs.StringVar(&keysFile, "keys-file", "", "file with one stream key per line for {key} (# comments allowed)")
	fs.IntVar(&c.Streams, "streams", 0, "number of streams (publishers); default: the number of keys, else 1")
	fs.IntVar(&c.Viewers, "viewers", 0, "HLS viewers per stream (0 = publish only)")
	fs.StringVar(&viewer, "viewer", string(load.ViewerLL), "viewer behaviour: ll = hls.js low-latency (blocking reload with _HLS_msn/_HLS_part, fetch every new part); plain = poll the playlist every target duration, fetch new segments")
	fs.BoolVar(&c.LLSegments, "ll-segments", c.LLSegments, "ll viewers also fetch each new complete segment (false = parts only, what hls.js does at the live edge)")
	fs.BoolVar(&c.NoPublish, "no-publish", false, "do not publish: only view streams someone else publishes")
	fs.BoolVar(&c.Fast, "fast", false, "send tags as fast as the connection takes them instead of at real time (lag is then not measured)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long to run after setup (0 = until Ctrl-C)")
	fs.DurationVar(&c.Ramp, "ramp", 0, "delay between starting two publishers (e.g. 20ms spreads 400 connects over 8 s)")
	fs.DurationVar(&c.LagLimit, "lag-limit", c.LagLimit, "a publisher kept real time when its lag behind the media clock never exceeded this")
	fs.DurationVar(&c.Reconnect, "reconnect", 0, "reconnect a dropped or refused publisher after this delay (0 = never)")
	fs.DurationVar(&c.ConnTimeout, "connect-timeout", c.ConnTimeout, "limit for RTMP dial + connect + createStream + publish status")
	fs.DurationVar(&c.HTTPTimeout, "http-timeout", c.HTTPTimeout, "limit per HTTP request (blocking reloads get 3 target durations more)")
	fs.DurationVar(&c.StartTimeout, "start-timeout", c.StartTimeout, "how long a viewer retries its first playlist (404 until the stream is packaged) before giving up")
	fs.StringVar(&c.APIURL, "api", "", "Roomcast HTTP base URL, e.g. http://127.0.0.1:8080: enables setup (members, keys, rooms, start, viewer tokens)")
	fs.StringVar(&c.APIKey, "api-key", "", "App API key for --api (see <data>/credentials.json)")
	fs.StringVar(&c.APISecret, "api-secret", "", "App API secret for --api")
	fs.StringVar(&c.AppUserPrefix, "app-user-prefix", c.AppUserPrefix, "setup: members are <prefix><i>, the viewer member <prefix>viewer")
	fs.IntVar(&c.PID, "pid", 0, "server process to sample every second from /proc/<pid>/stat and status (CPU % of one core, RSS)")
	fs.DurationVar(&c.Progress, "progress", c.Progress, "interval of the progress line on stderr (0 = none)")
	fs.StringVar(&c.JSONPath, "json", "", "also write the full report as JSON to this `file`")
	fs.StringVar(&logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return c, 0, err
	}
	if fs.NArg() > 0 {
		return c, 0, fmt.Errorf("unexpected arguments %q (all options are --flags)", fs.Args())
	}
	return finishFlags(c, keys, keysFile, viewer, logLevel)
}

func finishFlags(c load.Config, keys, keysFile, viewer, logLevel string) (load.Config, slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return c, 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	mode, err := load.ParseViewerMode(viewer)
	if err != nil {
		return c, 0, err
	}
	c.Viewer = mode
	if keys != "" && keysFile != "" {
		return c, 0, errors.New("--keys and --keys-file exclude each other")
	}
	c.Keys = load.SplitKeys(keys)
	if keysFile != "" {
		if c.Keys, err = load.ReadKeys(keysFile); err != nil {
			return c, 0, err
		}
	}
	if c.Streams == 0 && len(c.Keys) == 0 && (c.APIURL != "" || !strings.Contains(c.PublishURL, "{key}")) {
		c.Streams = 1
	}
	return c, level, c.Validate()
}
