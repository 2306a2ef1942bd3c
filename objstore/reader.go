package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// MaxSkip is the largest forward gap a Reader reads and discards on its open
// stream rather than starting a new GET at the new offset.
const MaxSkip = 1 << 20

// Reader is an io.ReaderAt over one object, served by ranged GETs (Open).
// Sequential reads continue one streaming GET: a ReadAt at the offset where the
// previous read ended, or up to MaxSkip bytes further on (the gap is read and
// discarded), costs no new request; any other offset closes the stream and
// opens one at that offset. A stream broken mid-read is reopened once at the
// offset reached.
//
// A Reader is for one goroutine at a time (its ReadAt moves the shared stream);
// give each concurrent reader its own. Close releases the open stream; the
// Reader may still be read after Close (it opens a new one).
type Reader struct {
	c    *Client
	ctx  context.Context
	key  string
	size int64

	body io.ReadCloser // nil when no stream is open
	pos  int64         // object offset of the next byte of body
}

// Open returns a Reader over object key, whose size is known from a listing or
// Stat (pass -1 to have Open Stat it). No GET is sent before the first ReadAt.
// ctx bounds every request of the Reader.
func (c *Client) Open(ctx context.Context, key string, size int64) (*Reader, error) {
	if err := checkKey(key); err != nil {
		return nil, c.keyErr("open", key, err)
	}
	if size < 0 {
		oi, err := c.Stat(ctx, key)
		if err != nil {
			return nil, c.keyErr("open", key, err)
		}
		size = oi.Size
	}
	return &Reader{c: c, ctx: ctx, key: key, size: size}, nil
}

// Size returns the object's size.
func (r *Reader) Size() int64 { return r.size }

// ReadAt reads len(p) bytes at offset off (io.ReaderAt): fewer only at the end
// of the object, with io.EOF.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, r.c.keyErr("read at", r.key, fmt.Errorf("negative offset %d", off))
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	if rest := r.size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	n := 0
	for retried := false; ; retried = true {
		m, err := r.readStream(want[n:], off+int64(n))
		n += m
		if err == nil {
			break
		}
		r.closeBody()
		// A broken stream (a dropped connection) gets one fresh GET; an
		// error of the GET itself (not found, refused, ctx) is final.
		var oe *openError
		if retried || errors.As(err, &oe) || r.ctx.Err() != nil {
			return n, r.c.keyErr("read at", r.key, err)
		}
	}
	if r.pos >= r.size {
		r.closeBody() // the whole object read: free the connection
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readStream fills p from the stream at offset off, opening or skipping as
// needed.
func (r *Reader) readStream(p []byte, off int64) (int, error) {
	if r.body != nil && (off < r.pos || off-r.pos > MaxSkip) {
		r.closeBody()
	}
	if r.body != nil && off > r.pos {
		k, err := io.CopyN(io.Discard, r.body, off-r.pos)
		r.pos += k
		if err != nil {
			return 0, fmt.Errorf("skipping to %d: %w", off, err)
		}
	}
	if r.body == nil {
		if err := r.open(off); err != nil {
			return 0, err
		}
	}
	n, err := io.ReadFull(r.body, p)
	r.pos += int64(n)
	if err != nil {
		return n, fmt.Errorf("reading at %d: %w", off+int64(n), err)
	}
	return n, nil
}

// openError is a failed GET (as opposed to a stream that broke).
type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// open starts a GET of the rest of the object from off.
func (r *Reader) open(off int64) error {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, r.size-1); err != nil {
		return &openError{err}
	}
	body, _, _, err := r.c.core.GetObject(r.ctx, r.c.cfg.Bucket, r.c.full(r.key), opts)
	if err != nil {
		return &openError{fmt.Errorf("GET from %d: %w", off, err)}
	}
	r.body, r.pos = body, off
	return nil
}

func (r *Reader) closeBody() {
	if r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
}

// Close releases the open stream, if any.
func (r *Reader) Close() error {
	r.closeBody()
	return nil
}
