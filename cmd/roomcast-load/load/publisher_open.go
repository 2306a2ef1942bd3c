package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// dialAttempt lets the publisher give up on a connect that go-rtmp cannot time out:
// the attempt runs in its own goroutine; on timeout the publisher marks it abandoned
// and closes whatever connection exists, and the attempt closes a connection it gets
// later by itself. An attempt abandoned inside go-rtmp's Stream.Connect stays
// blocked there (it waits for the connect answer with no timeout and closing the
// connection does not wake it): one parked goroutine per abandoned connect.
type dialAttempt struct {
	mu        sync.Mutex
	conn      *rtmp.ClientConn
	abandoned bool
}

// keep stores conn; false (and conn closed) when the attempt was abandoned.
func (a *dialAttempt) keep(conn *rtmp.ClientConn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.abandoned {
		_ = conn.Close()
		return false
	}
	a.conn = conn
	return true
}

func (a *dialAttempt) abandon() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.abandoned = true
	if a.conn != nil {
		_ = a.conn.Close()
	}
}

type openResult struct {
	conn   *rtmp.ClientConn
	stream *rtmp.Stream
	err    error
}

// open dials, connects, creates a stream and publishes, within ConnTimeout.
func (p *publisher) open(ctx context.Context) (*rtmp.ClientConn, *rtmp.Stream, error) {
	target, err := parseRTMPURL(p.url)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ConnTimeout)
	defer cancel()
	a := &dialAttempt{}
	res := make(chan openResult, 1)
	go func() { res <- p.openInner(ctx, a, target) }() // may outlive ctx; see dialAttempt
	select {
	case r := <-res:
		return r.conn, r.stream, r.err
	case <-ctx.Done():
		a.abandon()
		return nil, nil, fmt.Errorf("connect %s: %w", target.addr, ctx.Err())
	}
}

func (p *publisher) openInner(ctx context.Context, a *dialAttempt, t rtmpTarget) openResult {
	logger := newStatusLogger()
	dialer := &net.Dialer{Timeout: p.cfg.ConnTimeout}
	conn, err := rtmp.DialWithDialer(dialer, "rtmp", t.addr, &rtmp.ConnConfig{Logger: logger})
	if err != nil {
		return openResult{err: fmt.Errorf("dial %s: %w", t.addr, err)}
	}
	if !a.keep(conn) {
		return openResult{err: fmt.Errorf("dial %s: %w", t.addr, context.DeadlineExceeded)}
	}
	fail := func(stage string, err error) openResult {
		_ = conn.Close()
		return openResult{err: fmt.Errorf("%s %s: %w", stage, t.addr, err)}
	}
	err = conn.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{
		App: t.app, Type: "nonprivate", FlashVer: "FMLE/3.0 (compatible; roomcast-load)", TCURL: t.tcURL,
	}})
	var rejected *rtmp.ConnectRejectedError
	if errors.As(err, &rejected) {
		return fail("rtmp connect", fmt.Errorf("%w: %s", ErrPublishRefused, rejected.Result.Information.Code))
	}
	if err != nil {
		return fail("rtmp connect", err)
	}
	stream, err := conn.CreateStream(nil, rtmpChunk)
	if err != nil {
		return fail("rtmp createStream", err)
	}
	if err := stream.Publish(&message.NetStreamPublish{PublishingName: t.name, PublishingType: "live"}); err != nil {
		return fail("rtmp publish", err)
	}
	if err := waitPublishStatus(ctx, conn, logger); err != nil {
		return fail("rtmp publish", err)
	}
	return openResult{conn: conn, stream: stream}
}

// waitPublishStatus waits for NetStream.Publish.Start; an error status or a closed
// connection is ErrPublishRefused.
func waitPublishStatus(ctx context.Context, conn *rtmp.ClientConn, l *statusLogger) error {
	tick := time.NewTicker(statusPoll)
	defer tick.Stop()
	for {
		select {
		case st := <-l.statuses:
			switch {
			case st.ok():
				return nil
			case st.refused():
				return fmt.Errorf("%w: %s %s", ErrPublishRefused, st.Code, st.Description)
			}
		case <-tick.C:
			if err := conn.LastError(); err != nil {
				return fmt.Errorf("%w: connection closed before NetStream.Publish.Start: %v", ErrPublishRefused, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("no NetStream.Publish.Start: %w", ctx.Err())
		}
	}
}
