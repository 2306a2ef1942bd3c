package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sseFrame is one event of a member SSE stream.
type sseFrame struct {
	ID, Event, Data string
}

// sseClient reads a member's SSE stream like a browser's EventSource: it
// reconnects after the server's retry delay with Last-Event-ID when the stream
// ends, and keeps every event in arrival order.
type sseClient struct {
	t      *testing.T
	name   string
	url    string
	token  string
	client *http.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	frames     []sseFrame
	lastID     string
	connected  int // streams opened (": connected" read)
	reconnects int
	lastErr    error
}

// newSSEClient opens the stream at url with the member's access token (Bearer)
// and returns once the server has subscribed it (": connected" read); the stream
// is closed at the end of the test.
func newSSEClient(t *testing.T, name, url, token string) *sseClient {
	t.Helper()
	return newSSEClientAfter(t, name, url, token, "")
}

// newSSEClientAfter is newSSEClient for a browser that already saw the event
// lastID: its first request carries Last-Event-ID, so the server replays what
// came after.
func newSSEClientAfter(t *testing.T, name, url, token, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &sseClient{t: t, name: name, url: url, token: token, cancel: cancel, done: make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{}}, lastID: lastID}
	go s.run(ctx)
	t.Cleanup(s.stop)
	eventually(t, 10*time.Second, name+" open", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.connected == 0 && s.lastErr != nil {
			t.Fatalf("%s: %v", name, s.lastErr)
		}
		return s.connected > 0
	})
	return s
}

func (s *sseClient) stop() {
	s.cancel()
	<-s.done
	s.client.CloseIdleConnections()
}

func (s *sseClient) run(ctx context.Context) {
	defer close(s.done)
	retry := 3 * time.Second
	for {
		retry = s.stream(ctx, retry)
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.reconnects++
		s.mu.Unlock()
	}
}

// stream reads one connection until it ends; it returns the retry delay.
func (s *sseClient) stream(ctx context.Context, retry time.Duration) time.Duration {
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	s.mu.Lock()
	if s.lastID != "" {
		req.Header.Set("Last-Event-ID", s.lastID)
	}
	s.mu.Unlock()
	resp, err := s.client.Do(req)
	if err != nil {
		s.setErr(err)
		return retry
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.setErr(fmt.Errorf("status %d", resp.StatusCode))
		return retry
	}
	sc := bufio.NewScanner(resp.Body)
	var cur sseFrame
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Data != "" {
				s.mu.Lock()
				s.frames = append(s.frames, cur)
				s.mu.Unlock()
			}
			cur = sseFrame{}
		case line == ": connected":
			s.mu.Lock()
			s.connected++
			s.mu.Unlock()
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
			s.mu.Lock()
			s.lastID = cur.ID
			s.mu.Unlock()
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = strings.TrimPrefix(line, "data: ")
		case strings.HasPrefix(line, "retry: "):
			if ms, err := strconv.Atoi(strings.TrimPrefix(line, "retry: ")); err == nil {
				retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	s.setErr(fmt.Errorf("stream ended: %v", sc.Err()))
	return retry
}

func (s *sseClient) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

func (s *sseClient) opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

func (s *sseClient) received() []sseFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.frames)
}

func (s *sseClient) stats() (reconnects int, lastErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnects, s.lastErr
}
