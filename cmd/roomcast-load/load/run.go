package load

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// setupConcurrency bounds parallel App API calls during setup.
const setupConcurrency = 8

// streamRun is one stream of the run: its publisher, its viewers' stats, its room.
type streamRun struct {
	idx        int
	key        string
	publishURL string
	viewURL    string
	appUserID  string
	roomID     string
	setupErr   atomic.Pointer[string]
	pub        *publisher
	views      viewStats
	published  chan struct{} // closed at the first accepted publish
	liveAtEnd  bool          // publishing when the run's time was up
	pubOnce    sync.Once
}

func (s *streamRun) failSetup(err error) {
	msg := err.Error()
	s.setupErr.Store(&msg)
}

// Runner executes one load run. Set the fields, then call Run.
type Runner struct {
	Config   Config
	Log      *slog.Logger
	Progress io.Writer // progress lines; nil = none

	media    *Media
	api      *apiClient
	http     *http.Client
	streams  []*streamRun
	server   *sampler
	self     *sampler
	started  time.Time
	wg       sync.WaitGroup
	reported atomic.Bool
}

// Run validates the config, sets up, publishes and views until the duration passes
// or ctx ends, waits for every goroutine, and returns the report. The error is non-nil
// only when nothing could run (bad config, unreadable file); failures of publishers,
// viewers or the API are counted in the report.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if err := r.Config.Validate(); err != nil {
		return nil, err
	}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	if r.Config.Setup() {
		r.setup(ctx)
	}
	r.started = time.Now()
	// The run's goroutines stop on runCtx, cancelled only after the end was noticed
	// and the live publishers were counted.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	r.startSamplers(runCtx)
	r.startStreams(runCtx)
	r.startProgress(runCtx)
	r.waitEnd(ctx)
	interrupted := ctx.Err() != nil
	for _, s := range r.streams {
		s.liveAtEnd = s.pub != nil && s.pub.stats.publishing.Load()
	}
	cancel()
	r.wg.Wait()
	r.http.CloseIdleConnections()
	return r.report(interrupted), nil
}

// waitEnd returns when Duration has passed or ctx ends.
func (r *Runner) waitEnd(ctx context.Context) {
	if r.Config.Duration == 0 {
		<-ctx.Done()
		return
	}
	sleepCtx(ctx, r.Config.Duration)
}

// prepare loads the media and builds the streams with their URLs.
func (r *Runner) prepare(ctx context.Context) error {
	c := &r.Config
	if !c.NoPublish {
		m, err := LoadMedia(c.File)
		if err != nil {
			return fmt.Errorf("--file %s: %w", c.File, err)
		}
		r.media = m
	}
	r.http = &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: max(64, 4*c.Streams*max(1, c.Viewers)),
		IdleConnTimeout:     30 * time.Second,
	}}
	if c.Setup() {
		r.api = &apiClient{base: trimSlash(c.APIURL), key: c.APIKey, secret: c.APISecret,
			client: r.http, timeout: c.HTTPTimeout, startAttempts: 20, startRetry: 250 * time.Millisecond}
	}
	for i := range c.Streams {
		r.streams = append(r.streams, r.newStream(i))
	}
	return ctx.Err()
}

func (r *Runner) newStream(i int) *streamRun {
	c := &r.Config
	s := &streamRun{idx: i, published: make(chan struct{})}
	if len(c.Keys) > 0 {
		s.key = c.Keys[i]
	}
	s.appUserID = c.AppUserPrefix + strconv.Itoa(i)
	s.publishURL = Expand(c.PublishURL, s.key, i)
	if c.ViewURL != "" && !c.Setup() {
		s.viewURL = Expand(c.ViewURL, s.key, i)
	}
	return s
}

func (r *Runner) startSamplers(ctx context.Context) {
	r.self = newSampler(os.Getpid(), time.Second)
	r.goRun(func() { r.self.run(ctx) })
	if r.Config.PID > 0 {
		r.server = newSampler(r.Config.PID, time.Second)
		r.server.sample() // baseline before any publisher connects
		r.goRun(func() { r.server.run(ctx) })
	}
}

// goRun starts f as a goroutine owned by the run.
func (r *Runner) goRun(f func()) { r.wg.Go(f) }

// startStreams starts the publishers (ramped) and, per stream, the viewer launcher.
func (r *Runner) startStreams(ctx context.Context) {
	for _, s := range r.streams {
		if s.setupErr.Load() != nil {
			continue
		}
		if !r.Config.NoPublish {
			s.pub = r.newPublisher(s)
		}
		if r.Config.Viewers > 0 || r.Config.Setup() {
			r.goRun(func() { r.launchViewers(ctx, s) })
		}
	}
	r.goRun(func() { r.rampPublishers(ctx) })
}

func (r *Runner) rampPublishers(ctx context.Context) {
	for i, s := range r.streams {
		if s.pub == nil {
			continue
		}
		if i > 0 && r.Config.Ramp > 0 && !sleepCtx(ctx, r.Config.Ramp) {
			return
		}
		r.goRun(func() { s.pub.run(ctx) })
	}
}

func (r *Runner) newPublisher(s *streamRun) *publisher {
	return &publisher{
		idx: s.idx, key: s.key, url: s.publishURL, media: r.media, cfg: &r.Config,
		log: r.Log.With("stream", s.idx, "url", redactURL(s.publishURL, s.key)),
		onPublish: func(int) {
			s.pubOnce.Do(func() { close(s.published) })
		},
	}
}

// launchViewers waits for the stream to publish (and, with setup, starts the room and
// fetches tokens), then runs the stream's viewers until ctx ends.
func (r *Runner) launchViewers(ctx context.Context, s *streamRun) {
	if !r.Config.NoPublish {
		select {
		case <-ctx.Done():
			return
		case <-s.published:
		}
	}
	urls, err := r.viewerURLs(ctx, s)
	if err != nil {
		if ctx.Err() == nil {
			s.failSetup(err)
			r.Log.Warn("viewers not started", "stream", s.idx, "err", err)
		}
		return
	}
	var wg sync.WaitGroup
	for _, u := range urls {
		v := &viewer{
			url: u, mode: r.Config.Viewer, cfg: &r.Config,
			f:           &fetcher{client: r.http, stats: &s.views, timeout: r.Config.HTTPTimeout, log: r.Log},
			log:         r.Log.With("stream", s.idx),
			publishedAt: s.publishedAt,
		}
		wg.Go(func() { v.run(ctx) })
	}
	wg.Wait()
}

func (s *streamRun) publishedAt() time.Time {
	if s.pub == nil {
		return time.Time{}
	}
	if ns := s.pub.stats.firstPublishAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// viewerURLs is the template URL Viewers times, or with setup the started room's
// cmafHlsPlayUrl with one streamingToken per viewer.
func (r *Runner) viewerURLs(ctx context.Context, s *streamRun) ([]string, error) {
	urls := make([]string, 0, r.Config.Viewers)
	if !r.Config.Setup() {
		for range r.Config.Viewers {
			urls = append(urls, s.viewURL)
		}
		return urls, nil
	}
	return r.setupViewers(ctx, s)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
