package load

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ViewerMode selects how viewers behave.
type ViewerMode string

// Viewer modes.
const (
	// ViewerLL behaves like hls.js in low-latency mode: blocking playlist reloads
	// with _HLS_msn/_HLS_part, then every new part (and segment).
	ViewerLL ViewerMode = "ll"
	// ViewerPlain polls the playlist every target duration and fetches new segments.
	ViewerPlain ViewerMode = "plain"
)

// ParseViewerMode parses "ll" or "plain".
func ParseViewerMode(s string) (ViewerMode, error) {
	switch ViewerMode(s) {
	case ViewerLL, ViewerPlain:
		return ViewerMode(s), nil
	}
	return "", fmt.Errorf("--viewer %q: want ll or plain", s)
}

// Config is one load run. Each field is a flag of roomcast-load (named in comments);
// Validate checks it and fills derived values.
type Config struct {
	File         string        // --file: FLV replayed by every publisher
	PublishURL   string        // --publish-url: template with {key} and/or {i}
	ViewURL      string        // --view-url: template with {key} and/or {i}; "" = no viewers unless setup
	Keys         []string      // --keys (comma list) or --keys-file (one per line)
	Streams      int           // --streams: publishers; 0 = len(Keys)
	Viewers      int           // --viewers per stream
	Viewer       ViewerMode    // --viewer ll|plain
	NoPublish    bool          // --no-publish: only view existing streams
	Fast         bool          // --fast: send as fast as possible, no real-time pacing
	Duration     time.Duration // --duration, 0 = until cancelled
	Ramp         time.Duration // --ramp: delay between starting two publishers
	LagLimit     time.Duration // --lag-limit: max lag behind the media clock that still counts as real time
	Reconnect    time.Duration // --reconnect: delay before a dropped publisher reconnects, 0 = never
	ConnTimeout  time.Duration // --connect-timeout: RTMP dial+connect+publish
	HTTPTimeout  time.Duration // --http-timeout per viewer/API request (blocking reloads get 3 target durations more)
	LLSegments   bool          // --ll-segments: LL viewers also fetch whole segments
	StartTimeout time.Duration // --start-timeout: viewers wait this long for the first playlist

	APIURL        string // --api: Roomcast HTTP base; enables setup
	APIKey        string // --api-key
	APISecret     string // --api-secret
	AppUserPrefix string // --app-user-prefix: members are <prefix><i>, viewers <prefix>viewer

	PID      int           // --pid of the server to sample, 0 = none
	Progress time.Duration // --progress interval, 0 = silent
	JSONPath string        // --json output file (written by the command)
}

// DefaultConfig returns the defaults of every flag.
func DefaultConfig() Config {
	return Config{
		PublishURL:    "rtmp://127.0.0.1:1935/live/{key}?mode=CMAF",
		Streams:       0,
		Viewer:        ViewerLL,
		Duration:      60 * time.Second,
		LagLimit:      time.Second,
		Reconnect:     0,
		ConnTimeout:   5 * time.Second,
		HTTPTimeout:   10 * time.Second,
		LLSegments:    true,
		StartTimeout:  15 * time.Second,
		AppUserPrefix: "load-",
		Progress:      5 * time.Second,
	}
}

// Setup reports whether the run creates members and rooms through the App API.
func (c *Config) Setup() bool { return c.APIURL != "" }

// Validate checks the configuration; errors name the flag. It sets Streams from Keys
// when Streams is 0.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := c.validateCounts(); err != nil {
		errs = append(errs, err)
	}
	if !c.NoPublish {
		if err := c.validatePublish(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.validateView(); err != nil {
		errs = append(errs, err)
	}
	if err := c.validateSetup(); err != nil {
		errs = append(errs, err)
	}
	for name, d := range map[string]time.Duration{
		"--duration": c.Duration, "--ramp": c.Ramp, "--lag-limit": c.LagLimit,
		"--reconnect": c.Reconnect, "--progress": c.Progress,
	} {
		if d < 0 {
			add("%s %s: must not be negative", name, d)
		}
	}
	if c.ConnTimeout <= 0 || c.HTTPTimeout <= 0 || c.StartTimeout <= 0 {
		add("--connect-timeout, --http-timeout and --start-timeout must be positive")
	}
	if c.PID < 0 {
		add("--pid %d: must be a process id", c.PID)
	}
	return errors.Join(errs...)
}

func (c *Config) validateCounts() error {
	if c.Streams < 0 || c.Viewers < 0 {
		return errors.New("--streams and --viewers must not be negative")
	}
	if c.Streams == 0 {
		c.Streams = len(c.Keys)
	}
	if c.Streams == 0 {
		return errors.New("--streams: give a number of streams, or --keys/--keys-file")
	}
	if len(c.Keys) > 0 && len(c.Keys) < c.Streams {
		return fmt.Errorf("--streams %d but only %d keys in --keys/--keys-file", c.Streams, len(c.Keys))
	}
	if len(c.Keys) > 0 && c.Setup() {
		return errors.New("--keys/--keys-file and --api exclude each other: setup creates the keys")
	}
	return nil
}

func (c *Config) validatePublish() error {
	if c.File == "" {
		return errors.New("--file: an FLV file to publish is required (or --no-publish)")
	}
	if st, err := os.Stat(c.File); err != nil {
		return fmt.Errorf("--file: %w", err)
	} else if st.IsDir() {
		return fmt.Errorf("--file %s: is a directory", c.File)
	}
	if err := c.checkTemplate("--publish-url", c.PublishURL, "rtmp"); err != nil {
		return err
	}
	return nil
}

func (c *Config) validateView() error {
	if c.Viewers == 0 {
		return nil
	}
	if c.Viewer != ViewerLL && c.Viewer != ViewerPlain {
		return fmt.Errorf("--viewer %q: want ll or plain", c.Viewer)
	}
	if c.Setup() {
		return nil // URLs come from the rooms
	}
	if c.ViewURL == "" {
		return errors.New("--viewers > 0 needs --view-url (or --api for setup)")
	}
	return c.checkTemplate("--view-url", c.ViewURL, "http", "https")
}

func (c *Config) validateSetup() error {
	if !c.Setup() {
		return nil
	}
	u, err := url.Parse(c.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--api %q: want an http(s) base URL such as http://127.0.0.1:8080", c.APIURL)
	}
	if c.APIKey == "" || c.APISecret == "" {
		return errors.New("--api needs --api-key and --api-secret (see <data>/credentials.json)")
	}
	if c.NoPublish {
		return errors.New("--api and --no-publish exclude each other: rooms start only once publishing")
	}
	if !strings.Contains(c.PublishURL, "{key}") {
		return errors.New("--publish-url must contain {key} with --api (the member's stream key)")
	}
	return nil
}

// checkTemplate validates a URL template: placeholders known, {key} only with keys,
// and a parseable URL of an allowed scheme once expanded.
func (c *Config) checkTemplate(flag, tmpl string, schemes ...string) error {
	if tmpl == "" {
		return fmt.Errorf("%s: empty template", flag)
	}
	rest := strings.NewReplacer("{key}", "", "{i}", "").Replace(tmpl)
	if i := strings.IndexAny(rest, "{}"); i >= 0 {
		return fmt.Errorf("%s %q: unknown placeholder near %q (only {key} and {i})", flag, tmpl, rest[i:])
	}
	if strings.Contains(tmpl, "{key}") && len(c.Keys) == 0 && !c.Setup() {
		return fmt.Errorf("%s %q uses {key}: give --keys, --keys-file or --api", flag, tmpl)
	}
	if c.Streams > 1 && !strings.Contains(tmpl, "{key}") && !strings.Contains(tmpl, "{i}") {
		return fmt.Errorf("%s %q: with --streams %d it needs {key} or {i} to tell streams apart", flag, tmpl, c.Streams)
	}
	u, err := url.Parse(Expand(tmpl, "k", 0))
	if err != nil {
		return fmt.Errorf("%s %q: %w", flag, tmpl, err)
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want a %s:// URL with a host", flag, tmpl, strings.Join(schemes, "/"))
}

// Expand fills a URL template: {key} with key and {i} with the stream index, both
// verbatim (Roomcast keys are URL-safe).
func Expand(tmpl, key string, i int) string {
	return strings.NewReplacer("{key}", key, "{i}", strconv.Itoa(i)).Replace(tmpl)
}

// ReadKeys reads stream keys from a file: one per line, blank lines and lines
// starting with # ignored.
func ReadKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--keys-file: %w", err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--keys-file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--keys-file %s: no keys", path)
	}
	return keys, nil
}

// SplitKeys splits a comma-separated --keys value.
func SplitKeys(s string) []string {
	var keys []string
	for k := range strings.SplitSeq(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Redact shortens a secret for logs and reports: its first 4 characters and "…".
func Redact(secret string) string {
	if len(secret) <= 4 {
		return "…"
	}
	return secret[:4] + "…"
}

// redactURL hides the key (where it appears) and any streamingToken query value.
func redactURL(raw, key string) string {
	if key != "" {
		raw = strings.ReplaceAll(raw, key, Redact(key))
	}
	const param = "streamingToken="
	i := strings.Index(raw, param)
	if i < 0 {
		return raw
	}
	start := i + len(param)
	end := strings.IndexAny(raw[start:], "&#")
	if end < 0 {
		end = len(raw) - start
	}
	return raw[:start] + Redact(raw[start:start+end]) + raw[start+end:]
}
