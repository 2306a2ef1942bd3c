package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// The publisher sends every media and data message on one chunk stream, as ffmpeg
// does (RTMP_SOURCE_CHANNEL): go-rtmp then writes them strictly in order, and a
// message written after the last tag waits until that tag is on the wire.
const (
	csidMedia   = 4
	rtmpChunk   = 4096
	statusPoll  = 50 * time.Millisecond
	rtmpDefPort = "1935"
)

// publishStats are one publisher's counters, updated by its goroutine and read by
// progress and the report.
type publishStats struct {
	attempts, publishes, refused, connFails atomic.Int64
	disconnects, writeErrors                atomic.Int64
	bytes, tags                             atomic.Int64
	mediaSent                               atomic.Int64 // ns of media time sent, over all sessions
	maxLag, finalLag                        atomic.Int64 // ns
	lateTags                                atomic.Int64 // tags sent more than LagLimit late
	publishing                              atomic.Bool
	firstPublishAt                          atomic.Int64 // unix ns of the first NetStream.Publish.Start

	mu      sync.Mutex
	lastErr string
}

func (s *publishStats) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

func (s *publishStats) err() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// publisher replays Media to one RTMP URL, reconnecting if configured.
type publisher struct {
	idx   int
	key   string // secret; only redacted forms are logged
	url   string
	media *Media
	cfg   *Config
	log   *slog.Logger
	stats publishStats
	// onPublish is called (from the publisher goroutine) after each accepted publish.
	onPublish func(session int)
}

func (p *publisher) run(ctx context.Context) {
	for session := 1; ; session++ {
		err := p.session(ctx, session)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.stats.setErr(err)
			p.log.Warn("publish ended", "err", err)
		}
		if p.cfg.Reconnect == 0 || !sleepCtx(ctx, p.cfg.Reconnect) {
			return
		}
	}
}

// session is one connection: connect, publish, stream until ctx ends or it breaks.
func (p *publisher) session(ctx context.Context, session int) error {
	p.stats.attempts.Add(1)
	conn, stream, err := p.open(ctx)
	if err != nil {
		if errors.Is(err, ErrPublishRefused) {
			p.stats.refused.Add(1)
		} else if ctx.Err() == nil {
			p.stats.connFails.Add(1)
		}
		return err
	}
	defer p.closeConn(conn, stream, target(p.url))
	p.stats.publishes.Add(1)
	p.stats.firstPublishAt.CompareAndSwap(0, time.Now().UnixNano())
	p.stats.publishing.Store(true)
	defer p.stats.publishing.Store(false)
	if p.onPublish != nil {
		p.onPublish(session)
	}
	err = p.stream(ctx, conn, stream)
	if err != nil && ctx.Err() == nil {
		p.stats.disconnects.Add(1)
		return fmt.Errorf("disconnected: %w", err)
	}
	return nil
}

// closeConn unpublishes like OBS (FCUnpublish, deleteStream) and closes. FCUnpublish
// goes on the media chunk stream, so it is only sent once the last tag is; without
// that, deleteStream (chunk stream 3) can overtake the last video message and the
// server drops it. A broken connection is just closed.
func (p *publisher) closeConn(conn *rtmp.ClientConn, stream *rtmp.Stream, name string) {
	if conn.LastError() == nil {
		if err := writeCommand(stream, "FCUnpublish", &message.NetStreamFCUnpublish{StreamName: name}); err == nil {
			_ = conn.DeleteStream(&message.NetStreamDeleteStream{StreamID: stream.StreamID()})
		}
	}
	_ = conn.Close()
}

// writeCommand sends an AMF0 command on the media chunk stream of stream.
func writeCommand(stream *rtmp.Stream, name string, body message.AMFConvertible) error {
	var buf bytes.Buffer
	if err := message.EncodeBodyAnyValues(message.NewAMFEncoder(&buf, message.EncodingTypeAMF0), body); err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return stream.Write(csidMedia, 0, &message.CommandMessage{
		CommandName: name, Encoding: message.EncodingTypeAMF0, Body: &buf,
	})
}

// target is the publish name of a URL ("" when it does not parse).
func target(u string) string {
	t, _ := parseRTMPURL(u)
	return t.name
}

// stream writes the header tags, then the body in a loop, paced by timestamps.
func (p *publisher) stream(ctx context.Context, conn *rtmp.ClientConn, stream *rtmp.Stream) error {
	for _, t := range p.media.Header {
		if err := p.write(stream, t, 0); err != nil {
			return err
		}
	}
	start := time.Now()
	var sent time.Duration
	defer func() { p.stats.mediaSent.Add(int64(sent)) }()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for loop := 0; ; loop++ {
		base := time.Duration(loop) * p.media.LoopDuration
		for _, t := range p.media.Body {
			at := base + time.Duration(t.Timestamp)*time.Millisecond
			if !p.cfg.Fast && !waitUntil(ctx, timer, start.Add(at)) {
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			if err := conn.LastError(); err != nil {
				return fmt.Errorf("connection: %w", err)
			}
			if err := p.write(stream, t, uint32(at/time.Millisecond)); err != nil {
				return err
			}
			sent = at
			p.recordLag(time.Since(start) - at)
		}
	}
}

func (p *publisher) recordLag(lag time.Duration) {
	if p.cfg.Fast {
		return
	}
	lag = max(lag, 0)
	p.stats.finalLag.Store(int64(lag))
	if int64(lag) > p.stats.maxLag.Load() {
		p.stats.maxLag.Store(int64(lag))
	}
	if lag > p.cfg.LagLimit {
		p.stats.lateTags.Add(1)
	}
}

func (p *publisher) write(stream *rtmp.Stream, t flv.Tag, ts uint32) error {
	var msg message.Message
	switch t.Type {
	case flv.TagAudio:
		msg = &message.AudioMessage{Payload: bytes.NewReader(t.Data)}
	case flv.TagVideo:
		msg = &message.VideoMessage{Payload: bytes.NewReader(t.Data)}
	default:
		msg = &message.DataMessage{
			Name: "@setDataFrame", Encoding: message.EncodingTypeAMF0, Body: bytes.NewReader(t.Data),
		}
	}
	if err := stream.Write(csidMedia, ts, msg); err != nil {
		p.stats.writeErrors.Add(1)
		return fmt.Errorf("write tag: %w", err)
	}
	p.stats.bytes.Add(int64(len(t.Data)))
	p.stats.tags.Add(1)
	return nil
}

// waitUntil sleeps until t; false when ctx ended first.
func waitUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer.Reset(d)
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// sleepCtx sleeps d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// rtmpTarget is a publish URL split the way OBS splits it: server+app for connect,
// the rest (with its query) as the publish name.
type rtmpTarget struct {
	addr, app, tcURL, name string
}

func parseRTMPURL(raw string) (rtmpTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return rtmpTarget{}, fmt.Errorf("publish url: %w", err)
	}
	if u.Scheme != "rtmp" || u.Host == "" {
		return rtmpTarget{}, errors.New("publish url: want rtmp://host[:port]/app/name")
	}
	path := strings.TrimPrefix(u.Path, "/")
	app, name, ok := strings.Cut(path, "/")
	if !ok || app == "" || name == "" {
		return rtmpTarget{}, errors.New("publish url: want rtmp://host[:port]/app/name")
	}
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), rtmpDefPort)
	}
	return rtmpTarget{addr: addr, app: app, tcURL: "rtmp://" + u.Host + "/" + app, name: name}, nil
}
