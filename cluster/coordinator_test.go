package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomcast/roomcast/internal/testwait"
)

// wait bounds the condition waits of these tests: it only bounds a failing run.
const wait = 15 * time.Second

// TestLocal and TestEtcdSingleNode run the behaviour every Coordinator shares.
func TestLocal(t *testing.T) {
	testCoordinator(t, func(t *testing.T) Coordinator {
		c := NewLocal("n1")
		t.Cleanup(func() { _ = c.Close() })
		return c
	})
}

func TestEtcdSingleNode(t *testing.T) {
	testCoordinator(t, func(t *testing.T) Coordinator {
		return newEtcdNode(t, shared, testPrefix(t), "n1", testTTL)
	})
}

// testCoordinator checks what a Coordinator does on one node; newNode returns a
// fresh node (closed by t.Cleanup, Close again is harmless).
func testCoordinator(t *testing.T, newNode func(t *testing.T) Coordinator) {
	t.Run("HoldIsExclusive", func(t *testing.T) {
		c := newNode(t)
		ctx := testCtx(t)
		h, err := c.Hold(ctx, "session/1", []byte("v1"))
		if err != nil {
			t.Fatalf("hold: %v", err)
		}
		if h.Key() != "session/1" {
			t.Fatalf("Key %q", h.Key())
		}
		_, err = c.Hold(ctx, "session/1", []byte("v2"))
		var held *HeldError
		if !errors.Is(err, ErrHeld) || !errors.As(err, &held) {
			t.Fatalf("second hold: %v, want a HeldError", err)
		}
		if held.Node != c.NodeID() || string(held.Value) != "v1" || held.Key != "session/1" {
			t.Fatalf("HeldError %+v, want node %s value v1", held, c.NodeID())
		}
		if err := h.Release(ctx); err != nil {
			t.Fatalf("release: %v", err)
		}
		if err := h.Release(ctx); err != nil {
			t.Fatalf("release again: %v", err)
		}
		h2, err := c.Hold(ctx, "session/1", []byte("v3"))
		if err != nil {
			t.Fatalf("hold after release: %v", err)
		}
		if err := h2.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("HeldByPrefix", func(t *testing.T) {
		c := newNode(t)
		ctx := testCtx(t)
		h1 := mustHold(t, c, "a/1", "x")
		mustHold(t, c, "a/2", "y")
		mustHold(t, c, "b/1", "z")
		got, err := c.Held(ctx, "a/")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got["a/1"]) != "x" || string(got["a/2"]) != "y" {
			t.Fatalf("Held(a/) = %q", got)
		}
		if err := h1.Release(ctx); err != nil {
			t.Fatal(err)
		}
		got, err = c.Held(ctx, "a/")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got["a/1"]; ok || len(got) != 1 {
			t.Fatalf("Held(a/) after release = %q", got)
		}
	})

	t.Run("ReleaseIsNotLost", func(t *testing.T) {
		c := newNode(t)
		ctx := testCtx(t)
		var calls atomic.Int32
		if err := c.WatchLost(ctx, "s/", func(string, []byte) { calls.Add(1) }); err != nil {
			t.Fatal(err)
		}
		h := mustHold(t, c, "s/1", "v")
		if err := h.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		// Close waited for the watcher, which had the release's events or
		// stopped before them: either way no call.
		if n := calls.Load(); n != 0 {
			t.Fatalf("WatchLost fired %d times for a release", n)
		}
	})

	t.Run("LeadOneAtATime", func(t *testing.T) {
		c := newNode(t)
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		var active, max, terms atomic.Int32
		stepDown := make([]chan struct{}, 2)
		returned := make([]chan error, 2)
		leading := make([]atomic.Bool, 2)
		for i := range 2 {
			stepDown[i], returned[i] = make(chan struct{}), make(chan error, 1)
			go func() {
				returned[i] <- c.Lead(ctx, "janitor", func(lctx context.Context) {
					n := active.Add(1)
					for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
					}
					terms.Add(1)
					leading[i].Store(true)
					select {
					case <-lctx.Done():
					case <-stepDown[i]:
					}
					leading[i].Store(false)
					active.Add(-1)
				})
			}()
		}
		testwait.Until(t, wait, "a leader", func() bool { return leading[0].Load() || leading[1].Load() })
		first := 0
		if leading[1].Load() {
			first = 1
		}
		close(stepDown[first]) // fn returns while leader: Lead resigns and returns nil
		if err := <-returned[first]; err != nil {
			t.Fatalf("Lead after fn returned: %v", err)
		}
		testwait.Until(t, wait, "the other Lead call to lead", func() bool { return leading[1-first].Load() })
		cancel()
		if err := <-returned[1-first]; err != nil {
			t.Fatalf("Lead after ctx ended: %v", err)
		}
		if max.Load() != 1 || terms.Load() != 2 {
			t.Fatalf("max concurrent leaders %d, terms %d; want 1 and 2", max.Load(), terms.Load())
		}
	})

	t.Run("CloseEndsLead", func(t *testing.T) {
		c := newNode(t)
		var leading atomic.Bool
		returned := make(chan error, 1)
		go func() {
			returned <- c.Lead(testCtx(t), "janitor", func(ctx context.Context) {
				leading.Store(true)
				<-ctx.Done()
			})
		}()
		testwait.Until(t, wait, "leading", leading.Load)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-returned; !errors.Is(err, ErrClosed) {
			t.Fatalf("Lead after Close: %v, want ErrClosed", err)
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done not closed after Close")
		}
		if _, err := c.Hold(testCtx(t), "k", nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("Hold after Close: %v, want ErrClosed", err)
		}
		if err := c.Lead(testCtx(t), "janitor", func(context.Context) {}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Lead after Close: %v, want ErrClosed", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})

	t.Run("UpdateAndNodes", func(t *testing.T) {
		c := newNode(t)
		ctx := testCtx(t)
		nodes, err := c.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 1 || nodes[0].ID != c.NodeID() || nodes[0].StartedAt.IsZero() {
			t.Fatalf("Nodes before Update: %+v", nodes)
		}
		started := nodes[0].StartedAt
		err = c.Update(ctx, NodeInfo{ID: "ignored", HTTPURL: "http://127.0.0.1:8080", Publishers: 3, Load: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		nodes, err = c.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := nodes[0]
		if len(nodes) != 1 || n.ID != c.NodeID() || n.HTTPURL != "http://127.0.0.1:8080" ||
			n.Publishers != 3 || n.Load != 0.5 || !n.StartedAt.Equal(started) || n.UpdatedAt.Before(started) {
			t.Fatalf("Nodes after Update: %+v", nodes)
		}
	})
}

func mustHold(t *testing.T, c Coordinator, key, value string) Holding {
	t.Helper()
	h, err := c.Hold(testCtx(t), key, []byte(value))
	if err != nil {
		t.Fatalf("hold %s: %v", key, err)
	}
	return h
}

// testCtx is a context that ends with the test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	t.Cleanup(cancel)
	return ctx
}

// testPrefix is a key prefix of the test's own on the shared cluster.
func testPrefix(t *testing.T) string {
	return "/test/" + strings.ReplaceAll(t.Name(), "/", "_") + "-" + time.Now().Format("150405.000000000")
}

// leaders counts the Lead fns running at once, across nodes.
type leaders struct {
	mu      sync.Mutex
	active  map[string]bool
	overlap bool // two ran at once
	terms   int
}

func (l *leaders) run(node string) func(ctx context.Context) {
	return func(ctx context.Context) {
		l.mu.Lock()
		if len(l.active) > 0 {
			l.overlap = true
		}
		l.active[node] = true
		l.terms++
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		delete(l.active, node)
		l.mu.Unlock()
	}
}

// current returns the running leader ("" when none or several).
func (l *leaders) current() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.active) != 1 {
		return ""
	}
	for n := range l.active {
		return n
	}
	return ""
}

func (l *leaders) stats() (overlap bool, terms int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.overlap, l.terms
}
