package main

import (
	"github.com/roomcast/roomcast/cluster"

	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/packager/headroom"
)

// Config is everything the roomcast binary can be told. Each field is a flag and an
// environment variable ROOMCAST_<NAME> (flag name upper-cased, '-' → '_'); a flag given
// on the command line wins over the environment.
type Config struct {
	DataDir       string // --data: bbolt file and media live here
	HTTPAddr      string // --http-addr
	RTMPAddr      string // --rtmp-addr
	PublicHTTPURL string // --public-http-url: base of playUrl / vodUrl
	PublicRTMPURL string // --public-rtmp-url: base of ingestUrl / rtmpPlayUrl
	RTMPApp       string // --rtmp-app
	LogLevel      string // --log-level debug|info|warn|error
	LogFormat     string // --log-format text|json

	SegmentDuration  time.Duration // --segment-duration
	PartDuration     time.Duration // --part-duration
	LiveWindow       int           // --live-window: segments listed in live playlists
	MaxPublishers    int           // --max-publishers, 0 = unlimited
	MaxPlayers       int           // --max-players-per-stream, 0 = unlimited
	MaxBitrate       int64         // --max-bitrate bits/s per publisher, 0 = unlimited
	MaxCPU           float64       // --max-cpu: refuse new publishers above this CPU fraction, 0 = off
	MaxSchedLatency  time.Duration // --max-sched-latency: ... above this p99 Go scheduler latency, 0 = off
	MaxIngestLag     time.Duration // --max-ingest-lag: ... when publishers' media falls this far behind, 0 = off
	IdleTimeout      time.Duration // --idle-timeout: publisher without media is stopped
	HandshakeTimeout time.Duration // --handshake-timeout
	RelayResumeWait  time.Duration // --relay-resume-wait: RTMP players wait this long for a dropped publisher
	DiskReserve      int64         // --disk-reserve bytes free on the media disk, below which new publishers are refused
	FDReserve        int           // --fd-reserve free descriptors below which new publishers are refused
	BodyLimit        int64         // --body-limit bytes of a REST request body
	BodyTimeout      time.Duration // --body-timeout: a request body must arrive within this
	MaxConnsPerIP    int           // --max-conns-per-ip: open HTTP connections per client address, 0 = unlimited
	MaxAPIRequests   int           // --max-api-requests: REST requests served at once, 0 = unlimited
	TokenTTL         time.Duration // --token-ttl of member tokens
	ShutdownTimeout  time.Duration // --shutdown-timeout
	PprofAddr        string        // --pprof-addr, empty = off
	VODRetention     time.Duration // --vod-retention: VOD media deleted this long after archiving, 0 = keep
	ObjectStore      string        // --object-store s3://bucket[/prefix]?endpoint=…&region=…: recordings kept there
	MaxLiveDuration  time.Duration // --max-live-duration of a room without autoCloseConfig, 0 = no limit
	AutoCloseUnit    time.Duration // --auto-close-unit: the length of one autoCloseConfig.duration unit

	// Cluster (--store etcd): several nodes on one etcd cluster; see README
	// "Running a cluster".
	Store         string        // --store bbolt|etcd
	EtcdEndpoints string        // --etcd-endpoints host:port,…
	EtcdPrefix    string        // --etcd-prefix
	EtcdCert      string        // --etcd-cert (etcdctl --cert)
	EtcdKey       string        // --etcd-key (etcdctl --key)
	EtcdCACert    string        // --etcd-cacert (etcdctl --cacert)
	EtcdUser      string        // --etcd-user name[:password] (etcdctl --user)
	EtcdPassword  string        // ROOMCAST_ETCD_PASSWORD only (secrets stay out of ps)
	NodeID        string        // --node-id, default host name and HTTP port
	NodeTTL       time.Duration // --node-ttl: lease of this node's claims, registry entry and leaderships
	NodeURL       string        // --node-url: where other nodes fetch this node's live sessions
	NodeRTMPURL   string        // --node-rtmp-url: where other nodes pull this node's sessions for their RTMP players

	MediaSigWindow time.Duration // --media-sig-window: live media URIs signed per session for this long (0: viewer tokens)

	// AppKey / AppSecret choose the default app's credentials on first start
	// (ROOMCAST_APP_KEY / ROOMCAST_APP_SECRET only, never flags: secrets stay out of ps).
	AppKey    string
	AppSecret string
}

func defaultConfig() Config {
	return Config{
		DataDir:          "./data",
		HTTPAddr:         ":8080",
		RTMPAddr:         ":1935",
		PublicHTTPURL:    "http://localhost:8080",
		PublicRTMPURL:    "rtmp://localhost:1935",
		RTMPApp:          "live",
		LogLevel:         "info",
		LogFormat:        "text",
		SegmentDuration:  2 * time.Second,
		PartDuration:     200 * time.Millisecond,
		LiveWindow:       6,
		MaxPublishers:    500,
		MaxPlayers:       200,
		MaxBitrate:       20_000_000,
		MaxCPU:           0.85,
		MaxSchedLatency:  50 * time.Millisecond,
		MaxIngestLag:     500 * time.Millisecond,
		IdleTimeout:      10 * time.Second,
		RelayResumeWait:  5 * time.Minute,
		DiskReserve:      512 << 20,
		FDReserve:        64,
		HandshakeTimeout: 10 * time.Second,
		BodyLimit:        1 << 20,
		BodyTimeout:      10 * time.Second,
		MaxConnsPerIP:    64,
		MaxAPIRequests:   256,
		TokenTTL:         24 * time.Hour,
		ShutdownTimeout:  10 * time.Second,
		MaxLiveDuration:  12 * time.Hour,
		AutoCloseUnit:    time.Minute,
		Store:            "bbolt",
		EtcdPrefix:       cluster.DefaultEtcdPrefix,
		NodeTTL:          3 * time.Second,
		MediaSigWindow:   10 * time.Minute,
	}
}

// parseConfig reads flags (args without the program name) over env over defaults.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := defaultConfig()
	fs := flag.NewFlagSet("roomcast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory: bbolt file roomcast.db and media/")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP listen address (REST API, playback, metrics)")
	fs.StringVar(&c.RTMPAddr, "rtmp-addr", c.RTMPAddr, "RTMP listen address (ingest and relay)")
	fs.StringVar(&c.PublicHTTPURL, "public-http-url", c.PublicHTTPURL, "public base URL of playUrl and vodUrl")
	fs.StringVar(&c.PublicRTMPURL, "public-rtmp-url", c.PublicRTMPURL, "public base URL of ingestUrl and rtmpPlayUrl")
	fs.StringVar(&c.RTMPApp, "rtmp-app", c.RTMPApp, "RTMP application name streamers publish to")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.DurationVar(&c.SegmentDuration, "segment-duration", c.SegmentDuration, "target CMAF segment duration")
	fs.DurationVar(&c.PartDuration, "part-duration", c.PartDuration, "target LL-HLS part duration")
	fs.IntVar(&c.LiveWindow, "live-window", c.LiveWindow, "segments listed in live playlists")
	fs.IntVar(&c.MaxPublishers, "max-publishers", c.MaxPublishers, "max concurrent publishers (0 = unlimited)")
	fs.IntVar(&c.MaxPlayers, "max-players-per-stream", c.MaxPlayers, "max RTMP players per stream (0 = unlimited)")
	fs.Int64Var(&c.MaxBitrate, "max-bitrate", c.MaxBitrate, "max bits/s per publisher (0 = unlimited)")
	fs.Float64Var(&c.MaxCPU, "max-cpu", c.MaxCPU, "refuse new publishers while the process uses more than this fraction of its CPUs (GOMAXPROCS or cgroup quota; 0 = off)")
	fs.DurationVar(&c.MaxSchedLatency, "max-sched-latency", c.MaxSchedLatency, "refuse new publishers while the p99 Go scheduler latency exceeds this (0 = off)")
	fs.DurationVar(&c.MaxIngestLag, "max-ingest-lag", c.MaxIngestLag, "refuse new publishers while 5 % of publishers (at least 2) are this far behind real time (0 = off)")
	fs.DurationVar(&c.MaxLiveDuration, "max-live-duration", c.MaxLiveDuration, "a room without autoCloseConfig is ended (its publisher disconnected) this long after it first went LIVE; 0 = no limit")
	fs.DurationVar(&c.AutoCloseUnit, "auto-close-unit", c.AutoCloseUnit, "length of one autoCloseConfig.duration unit (a minute; shorten for tests and demos)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "a publisher sending no media this long is stopped")
	fs.DurationVar(&c.HandshakeTimeout, "handshake-timeout", c.HandshakeTimeout, "RTMP handshake deadline")
	fs.Var((*byteSize)(&c.DiskReserve), "disk-reserve", "refuse new publishers while the media disk has less than this free (512MiB, 2GiB; 0 = off)")
	fs.IntVar(&c.FDReserve, "fd-reserve", c.FDReserve, "refuse new publishers while fewer file descriptors than this are left (0 = off)")
	fs.DurationVar(&c.RelayResumeWait, "relay-resume-wait", c.RelayResumeWait, "an RTMP relay player stays connected this long for a dropped publisher to resume")
	fs.Int64Var(&c.BodyLimit, "body-limit", c.BodyLimit, "max REST request body in bytes")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", c.BodyTimeout, "an HTTP request body must arrive within this (408 after)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "max open HTTP connections per client address, loopback included (0 = unlimited)")
	fs.IntVar(&c.MaxAPIRequests, "max-api-requests", c.MaxAPIRequests, "max REST API requests served at once, 503 beyond; playback and /healthz not counted (0 = unlimited)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of member access and streaming tokens")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "graceful shutdown deadline")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve net/http/pprof on this address (empty = off)")
	fs.StringVar(&c.Store, "store", c.Store, "store engine: bbolt (one node, <data>/roomcast.db) or etcd (a cluster of nodes; see --etcd-*)")
	fs.StringVar(&c.EtcdEndpoints, "etcd-endpoints", c.EtcdEndpoints, "etcd members, comma-separated host:port or https://host:port (--store etcd)")
	fs.StringVar(&c.EtcdPrefix, "etcd-prefix", c.EtcdPrefix, "root of Roomcast's etcd keys: nodes of one cluster share it")
	fs.StringVar(&c.EtcdCert, "etcd-cert", c.EtcdCert, "etcd client certificate (PEM), as etcdctl --cert")
	fs.StringVar(&c.EtcdKey, "etcd-key", c.EtcdKey, "etcd client key (PEM), as etcdctl --key")
	fs.StringVar(&c.EtcdCACert, "etcd-cacert", c.EtcdCACert, "CA bundle verifying the etcd members (PEM), as etcdctl --cacert")
	fs.StringVar(&c.EtcdUser, "etcd-user", c.EtcdUser, "etcd user name (password from ROOMCAST_ETCD_PASSWORD), as etcdctl --user")
	fs.DurationVar(&c.MediaSigWindow, "media-sig-window", c.MediaSigWindow, "live init segments, segments and parts are fetched with a signature of their session, the same for every viewer for this long (CDN-cacheable; playlists keep the viewer's token); 0 = the viewer's token on every URI")
	fs.StringVar(&c.NodeURL, "node-url", c.NodeURL, "base URL the other nodes of a cluster fetch this node's live sessions from (default: http:// and --http-addr when it names a host, else --public-http-url)")
	fs.StringVar(&c.NodeRTMPURL, "node-rtmp-url", c.NodeRTMPURL, "rtmp:// base URL the other nodes of a cluster pull this node's live sessions from for their RTMP players (default: rtmp:// and --rtmp-addr when it names a host, else --public-rtmp-url)")
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "this node's ID in the cluster (default: host name and HTTP port)")
	fs.DurationVar(&c.NodeTTL, "node-ttl", c.NodeTTL, "lease TTL of this node: a dead node's publishes are stopped (NODE_LOST) at most this long, plus 1 s, after it died")
	fs.StringVar(&c.ObjectStore, "object-store", c.ObjectStore, "keep recordings in an S3-compatible object store: s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=REGION (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); empty = the local media directory")
	fs.Var((*daysDuration)(&c.VODRetention), "vod-retention", "delete VOD media this long after archiving, e.g. 30d or 12h (0 = keep forever)")

	// Environment first, then the command line overrides it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "ROOMCAST_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.AppKey = getenv("ROOMCAST_APP_KEY")
	c.AppSecret = getenv("ROOMCAST_APP_SECRET")
	c.EtcdPassword = getenv("ROOMCAST_ETCD_PASSWORD")
	if c.NodeID == "" {
		c.NodeID = defaultNodeID(c.HTTPAddr)
	}
	if c.NodeURL == "" {
		c.NodeURL = defaultNodeURL(c.HTTPAddr, c.PublicHTTPURL)
	}
	if c.NodeRTMPURL == "" {
		c.NodeRTMPURL = defaultNodeRTMPURL(c.RTMPAddr, c.PublicRTMPURL)
	}
	return c, c.validate()
}

func (c Config) validate() error {
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	check(c.DataDir != "", "--data must not be empty")
	check(c.HTTPAddr != "", "--http-addr must not be empty")
	check(c.RTMPAddr != "", "--rtmp-addr must not be empty")
	check(validURL(c.PublicHTTPURL, "http", "https"), "--public-http-url %q must be an http(s) URL", c.PublicHTTPURL)
	check(validURL(c.PublicRTMPURL, "rtmp", "rtmps"), "--public-rtmp-url %q must be an rtmp(s) URL", c.PublicRTMPURL)
	check(c.Store != "etcd" || validURL(c.NodeRTMPURL, "rtmp"), "--node-rtmp-url %q must be an rtmp URL", c.NodeRTMPURL)
	check(c.RTMPApp != "" && !strings.ContainsAny(c.RTMPApp, "/?# "), "--rtmp-app %q must be one path segment", c.RTMPApp)
	_, lerr := parseLevel(c.LogLevel)
	check(lerr == nil, "--log-level %q must be debug, info, warn or error", c.LogLevel)
	check(c.LogFormat == "text" || c.LogFormat == "json", "--log-format %q must be text or json", c.LogFormat)
	check(c.SegmentDuration >= 500*time.Millisecond && c.SegmentDuration <= 30*time.Second, "--segment-duration %s must be between 500ms and 30s", c.SegmentDuration)
	check(c.PartDuration >= 50*time.Millisecond && c.PartDuration <= c.SegmentDuration, "--part-duration %s must be between 50ms and --segment-duration", c.PartDuration)
	check(c.LiveWindow >= 3 && c.LiveWindow <= 100, "--live-window %d must be between 3 and 100", c.LiveWindow)
	check(c.MaxPublishers >= 0, "--max-publishers must be >= 0")
	check(c.MaxPlayers >= 0, "--max-players-per-stream must be >= 0")
	check(c.MaxBitrate >= 0, "--max-bitrate must be >= 0")
	check(c.MaxCPU >= 0 && c.MaxCPU <= 1, "--max-cpu %v must be between 0 (off) and 1", c.MaxCPU)
	check(c.MaxSchedLatency >= 0, "--max-sched-latency must be >= 0")
	check(c.MaxIngestLag >= 0, "--max-ingest-lag must be >= 0")
	check(c.IdleTimeout >= time.Second, "--idle-timeout %s must be at least 1s", c.IdleTimeout)
	check(c.HandshakeTimeout >= time.Second, "--handshake-timeout %s must be at least 1s", c.HandshakeTimeout)
	check(c.FDReserve >= 0, "--fd-reserve must be >= 0")
	check(c.RelayResumeWait >= time.Second, "--relay-resume-wait %s must be at least 1s", c.RelayResumeWait)
	check(c.BodyLimit >= 1024, "--body-limit must be at least 1024 bytes")
	check(c.BodyTimeout >= 100*time.Millisecond, "--body-timeout %s must be at least 100ms", c.BodyTimeout)
	check(c.MaxConnsPerIP >= 0, "--max-conns-per-ip must be >= 0")
	check(c.MaxAPIRequests >= 0, "--max-api-requests must be >= 0")
	check(c.TokenTTL >= time.Minute, "--token-ttl %s must be at least 1m", c.TokenTTL)
	check(c.ShutdownTimeout > 0, "--shutdown-timeout must be positive")
	if c.ObjectStore != "" {
		_, err := objstore.ParseURL(c.ObjectStore)
		check(err == nil, "--object-store: %v", err)
	}
	check(c.VODRetention == 0 || c.VODRetention >= time.Hour, "--vod-retention %s must be 0 (off) or at least 1h", c.VODRetention)
	check(c.MaxLiveDuration >= 0, "--max-live-duration must be >= 0 (0 = no limit)")
	check(c.AutoCloseUnit >= 100*time.Millisecond && c.AutoCloseUnit <= time.Minute, "--auto-close-unit %s must be between 100ms and 1m", c.AutoCloseUnit)
	check(c.Store == "bbolt" || c.Store == "etcd", "--store %q: want bbolt or etcd", c.Store)
	check(c.Store != "etcd" || c.EtcdEndpoints != "", "--store etcd needs --etcd-endpoints")
	check(c.MediaSigWindow == 0 || c.MediaSigWindow >= time.Minute, "--media-sig-window %s must be 0 (off) or at least 1m", c.MediaSigWindow)
	check(c.NodeTTL >= time.Second, "--node-ttl %s must be at least 1s", c.NodeTTL)
	check((c.AppKey == "") == (c.AppSecret == ""), "ROOMCAST_APP_KEY and ROOMCAST_APP_SECRET must be set together")
	return errors.Join(errs...)
}

func validURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return true
		}
	}
	return false
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func newLogger(c Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// daysDuration is a duration flag that also accepts whole days ("30d").
type daysDuration time.Duration

func (d *daysDuration) String() string { return time.Duration(*d).String() }

func (d *daysDuration) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 36500 {
			return fmt.Errorf("bad number of days %q", s)
		}
		*d = daysDuration(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = daysDuration(v)
	return nil
}

// byteSize is a flag.Value of a size in bytes with an optional unit (headroom.ParseBytes).
type byteSize int64

func (b *byteSize) String() string { return headroom.FormatBytes(int64(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := headroom.ParseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}
