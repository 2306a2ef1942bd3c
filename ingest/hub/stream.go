package hub

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStreamClosed is the error a Reader reports when its Stream has been closed.
var ErrStreamClosed = errors.New("stream closed")

// ErrTooManyReaders is returned by AddReader when MaxReaders is reached.
var ErrTooManyReaders = errors.New("too many readers")

// Stream fans the units of one publish out to its readers.
type Stream struct {
	// Key identifies the stream in a Registry (the stream key ID).
	Key string
	// Tracks are the tracks known when the stream starts.
	Tracks []*Track
	// QueueSize is the default per-reader queue length in units (default 512).
	QueueSize int
	// MaxReaders limits the readers; 0 means no limit.
	MaxReaders int
	// Log receives drop reports; nil discards.
	Log *slog.Logger
	// GOPCache makes the stream keep the units written since the last video key frame
	// (at most QueueSize units) so that readers with StartWithGOP begin with the whole
	// current GOP — the RTMP relay shows video at once. Audio-only streams cache nothing.
	GOPCache bool

	mu      sync.RWMutex
	readers map[*Reader]struct{}
	closed  bool
	done    chan struct{}
	written atomic.Uint64
	bytes   atomic.Uint64
	gopMu   sync.Mutex // guards gop; taken inside mu
	gop     []*Unit
}

// Initialize prepares the stream for Write and AddReader.
func (s *Stream) Initialize() error {
	if len(s.Tracks) == 0 {
		return errors.New("stream has no tracks")
	}
	if s.QueueSize <= 0 {
		s.QueueSize = 512
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.readers = make(map[*Reader]struct{})
	s.done = make(chan struct{})
	return nil
}

// Close ends the stream: every reader is stopped with ErrStreamClosed after draining
// what it has queued. Close does not wait for readers; their owners do.
func (s *Stream) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	readers := make([]*Reader, 0, len(s.readers))
	for r := range s.readers {
		readers = append(readers, r)
	}
	s.mu.Unlock()
	close(s.done)
	for _, r := range readers {
		r.streamClosed()
	}
}

// Done is closed when the stream is closed.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Write hands u to every reader; it waits only for a full reader with MaxBlock (at
// most that long). u must not be modified afterwards.
// Write is meant to be called by the single publisher goroutine of the stream.
func (s *Stream) Write(u *Unit) {
	s.written.Add(1)
	s.bytes.Add(uint64(len(u.Payload)))
	s.mu.RLock()
	if s.GOPCache {
		s.cacheGOP(u)
	}
	for r := range s.readers {
		r.push(u)
	}
	s.mu.RUnlock()
}

// cacheGOP appends u to the GOP cache, restarting it at each video key frame.
func (s *Stream) cacheGOP(u *Unit) {
	s.gopMu.Lock()
	defer s.gopMu.Unlock()
	switch {
	case u.Track.IsVideo() && u.Key:
		clear(s.gop)
		s.gop = append(s.gop[:0], u)
	case len(s.gop) == 0:
		// no key frame yet (or the GOP outgrew the cache): nothing to start from
	case len(s.gop) >= s.QueueSize:
		clear(s.gop)
		s.gop = s.gop[:0]
	default:
		s.gop = append(s.gop, u)
	}
}

// Stats returns the units and payload bytes written so far.
func (s *Stream) Stats() (units, bytes uint64) { return s.written.Load(), s.bytes.Load() }

// ReaderCount returns the number of attached readers.
func (s *Stream) ReaderCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.readers)
}

// AddReader attaches r and starts its goroutine. r.OnUnit must be set.
func (s *Stream) AddReader(r *Reader) error {
	if r.OnUnit == nil {
		return errors.New("reader has no OnUnit")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStreamClosed
	}
	if s.MaxReaders > 0 && len(s.readers) >= s.MaxReaders {
		return ErrTooManyReaders
	}
	r.start(s)
	if r.StartWithGOP {
		s.gopMu.Lock()
		var n int64
		for _, u := range s.gop {
			n += int64(len(u.Payload))
		}
		if len(s.gop) > 0 && len(s.gop) <= cap(r.ring) && (r.MaxBytes <= 0 || n <= r.MaxBytes) {
			r.queued.Add(n)
			for _, u := range s.gop {
				r.ring <- u // cannot block: the ring is empty and large enough
			}
			r.waitKey.Store(false)
		}
		s.gopMu.Unlock()
	}
	s.readers[r] = struct{}{}
	return nil
}

// RemoveReader detaches r and waits for its goroutine to exit. It must not be called
// from r.OnUnit.
func (s *Stream) RemoveReader(r *Reader) {
	s.mu.Lock()
	delete(s.readers, r)
	s.mu.Unlock()
	r.stop()
}

// Reader consumes units of a Stream on its own goroutine.
type Reader struct {
	// QueueSize overrides Stream.QueueSize when > 0.
	QueueSize int
	// SkipToKeyframe makes the reader start at the next video keyframe (for readers
	// that decode, e.g. relay and packager). After a drop the reader always waits for
	// the next video keyframe.
	SkipToKeyframe bool
	// StartWithGOP makes the reader begin with the stream's cached GOP (the last video
	// key frame and everything after it) when Stream.GOPCache is set; without a cached
	// GOP it waits for the next key frame as with SkipToKeyframe.
	StartWithGOP bool
	// OnUnit is called for each unit, in order, on the reader's goroutine. Returning an
	// error stops the reader and reports the error on Err.
	OnUnit func(*Unit) error
	// Name is used in logs.
	Name string
	// MaxBlock, when > 0, makes Write wait up to this long for room in the reader's
	// full queue before dropping: back pressure for a reader that must not lose
	// units (the packager: its units are the recording). While it waits the
	// publisher's goroutine stops reading, so a publisher the process cannot keep
	// up with is slowed by TCP instead of filling memory. Readers that may lose
	// units (players) leave it 0: Write never waits for them.
	MaxBlock time.Duration
	// MaxBytes, when > 0, also bounds the payload bytes queued (one unit is let in
	// whatever its size): a queue full by bytes is full as by count — Write waits
	// (MaxBlock) or drops. It keeps the memory of a reader that falls behind
	// independent of the bitrate (QueueSize alone is ~16 MB for 20 Mbit/s video).
	MaxBytes int64

	stream    *Stream
	ring      chan *Unit
	queued    atomic.Int64  // payload bytes in ring (and in OnUnit)
	drained   chan struct{} // signalled after each unit taken (MaxBlock waits on it)
	quit      chan struct{}
	exited    chan struct{}
	err       chan error
	dropped   atomic.Uint64
	blocked   atomic.Uint64
	waitKey   atomic.Bool
	lastDrop  atomic.Int64 // unix nanos of the last drop report
	closeOnce sync.Once
	stopOnce  sync.Once
	eos       chan struct{}
}

func (r *Reader) start(s *Stream) {
	n := r.QueueSize
	if n <= 0 {
		n = s.QueueSize
	}
	r.stream = s
	r.ring = make(chan *Unit, n)
	r.quit = make(chan struct{})
	r.exited = make(chan struct{})
	r.err = make(chan error, 1)
	r.eos = make(chan struct{})
	r.drained = make(chan struct{}, 1)
	r.waitKey.Store((r.SkipToKeyframe || r.StartWithGOP) && hasVideo(s.Tracks))
	go r.run()
}

func hasVideo(tracks []*Track) bool {
	for _, t := range tracks {
		if t.IsVideo() {
			return true
		}
	}
	return false
}

// push is called by Stream.Write under the stream's read lock; it blocks only with
// MaxBlock, and never longer.
func (r *Reader) push(u *Unit) {
	if r.waitKey.Load() {
		if !u.Track.IsVideo() || !u.Key {
			return
		}
		r.waitKey.Store(false)
	}
	if r.offer(u) {
		return
	}
	if r.MaxBlock > 0 && r.block(u) {
		return
	}
	{
		n := r.dropped.Add(1)
		r.waitKey.Store(hasVideo(r.stream.Tracks))
		now := time.Now().UnixNano()
		last := r.lastDrop.Load()
		if now-last > int64(10*time.Second) && r.lastDrop.CompareAndSwap(last, now) {
			r.stream.Log.Warn("reader too slow, dropping units", "reader", r.Name, "dropped", n)
		}
	}
}

// offer queues u if the queue has room by count and by bytes.
func (r *Reader) offer(u *Unit) bool {
	n := int64(len(u.Payload))
	if r.MaxBytes > 0 {
		if q := r.queued.Load(); q > 0 && q+n > r.MaxBytes {
			return false
		}
	}
	r.queued.Add(n) // before the send: the reader subtracts once it is done with u
	select {
	case r.ring <- u:
		return true
	default:
		r.queued.Add(-n)
		return false
	}
}

// block waits up to MaxBlock for room in the queue; false when the wait ran out or
// the reader is gone.
func (r *Reader) block(u *Unit) bool {
	r.blocked.Add(1)
	t := time.NewTimer(r.MaxBlock)
	defer t.Stop()
	for {
		select {
		case <-r.drained:
		case <-t.C:
			return false
		case <-r.exited:
			return false
		}
		if r.offer(u) {
			return true
		}
	}
}

// took accounts for a unit the reader is done with and wakes a waiting Write
// (only a MaxBlock reader's Write ever waits).
func (r *Reader) took(u *Unit) {
	r.queued.Add(-int64(len(u.Payload)))
	if r.MaxBlock <= 0 {
		return
	}
	select {
	case r.drained <- struct{}{}:
	default:
	}
}

// QueuedBytes returns the payload bytes queued for the reader.
func (r *Reader) QueuedBytes() int64 { return r.queued.Load() }

// Blocked returns how many units found the queue full and made Write wait (MaxBlock).
func (r *Reader) Blocked() uint64 { return r.blocked.Load() }

func (r *Reader) streamClosed() {
	r.closeOnce.Do(func() { close(r.eos) })
}

func (r *Reader) run() {
	defer close(r.exited)
	for {
		select {
		case u := <-r.ring:
			err := r.OnUnit(u)
			r.took(u)
			if err != nil {
				r.err <- err
				return
			}
		case <-r.eos:
			// drain what is queued, then report the end of the stream.
			for {
				select {
				case u := <-r.ring:
					err := r.OnUnit(u)
					r.took(u)
					if err != nil {
						r.err <- err
						return
					}
				default:
					r.err <- ErrStreamClosed
					return
				}
			}
		case <-r.quit:
			return
		}
	}
}

func (r *Reader) stop() {
	if r.quit == nil {
		return // never added
	}
	r.stopOnce.Do(func() { close(r.quit) })
	<-r.exited
}

// Err reports why the reader stopped: the OnUnit error or ErrStreamClosed.
func (r *Reader) Err() <-chan error { return r.err }

// Dropped returns how many units were dropped because the reader fell behind.
func (r *Reader) Dropped() uint64 { return r.dropped.Load() }
