package timeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// IndexFile is the name of the per-session index inside the session directory.
const IndexFile = "index.jsonl"

// A session index may also be stored in pieces (an object store while the
// session is uploaded, packager/upload): the piece IndexPieceName(off) holds the
// index bytes from byte offset off on; packager/vod joins them.
const (
	indexPiecePrefix = "index."
	indexPieceSuffix = ".jsonl"
)

// IndexPieceName is the name of the index piece starting at byte offset off:
// "index.{off}.jsonl", off in 16 decimal digits.
func IndexPieceName(off int64) string {
	return fmt.Sprintf("%s%016d%s", indexPiecePrefix, off, indexPieceSuffix)
}

// ParseIndexPiece returns the offset an index piece's name holds.
func ParseIndexPiece(name string) (int64, bool) {
	num, ok := strings.CutPrefix(name, indexPiecePrefix)
	if !ok {
		return 0, false
	}
	num, ok = strings.CutSuffix(num, indexPieceSuffix)
	if !ok || len(num) != 16 {
		return 0, false
	}
	var off int64
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
		off = off*10 + int64(c-'0')
	}
	return off, true
}

// record is one line of the index.
type record struct {
	Type    string    `json:"type"` // "version", "segment", "end"
	Version *Version  `json:"v,omitempty"`
	Segment *Segment  `json:"s,omitempty"`
	End     time.Time `json:"end,omitzero"`
}

// IndexWriter appends records to a session index. Each record is one write(2) of a
// whole line, so a crash leaves at most one truncated last line.
type IndexWriter struct {
	f    *os.File
	buf  bytes.Buffer
	seen map[int]bool
}

// CreateIndex opens (creating or appending) the index of the session in dir.
func CreateIndex(dir string) (*IndexWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, IndexFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	return &IndexWriter{f: f, seen: make(map[int]bool)}, nil
}

// WriteVersion records an init version once.
func (w *IndexWriter) WriteVersion(v *Version) error {
	if w.seen[v.Number] {
		return nil
	}
	w.seen[v.Number] = true
	return w.write(record{Type: "version", Version: v})
}

// WriteSegment records a complete segment. Its files must be written before.
func (w *IndexWriter) WriteSegment(s *Segment) error {
	return w.write(record{Type: "segment", Segment: s})
}

// WriteEnd records the clean end of the session.
func (w *IndexWriter) WriteEnd(t time.Time) error {
	return w.write(record{Type: "end", End: t.UTC()})
}

func (w *IndexWriter) write(r record) error {
	w.buf.Reset()
	enc := json.NewEncoder(&w.buf)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode index record: %w", err)
	}
	if _, err := w.f.Write(w.buf.Bytes()); err != nil {
		return fmt.Errorf("append index: %w", err)
	}
	return nil
}

// Sync flushes the index to stable storage.
func (w *IndexWriter) Sync() error { return w.f.Sync() }

// Close closes the index file.
func (w *IndexWriter) Close() error { return w.f.Close() }

// Index is the content of a session index.
type Index struct {
	Versions []*Version
	Segments []*Segment
	// Ended is the time of the clean end, zero if the session did not end cleanly.
	Ended time.Time
	// Truncated is true when a partial last line was skipped.
	Truncated bool
}

// ReadIndex reads the index of the session in dir. Segment.Dir is set to dir.
func ReadIndex(dir string) (*Index, error) {
	f, err := os.Open(filepath.Join(dir, IndexFile))
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	defer f.Close()
	return ParseIndex(f, dir)
}

// ParseIndex reads a session index from r (a file, or the pieces an object store
// holds). Segment.Dir is set to dir.
func ParseIndex(r io.Reader, dir string) (*Index, error) {
	idx := &Index{}
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(bytes.TrimSpace(line)) > 0 {
				idx.Truncated = true
			}
			return idx, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read index: %w", err)
		}
		var rec record
		if err := json.Unmarshal(line, &rec); err != nil {
			idx.Truncated = true
			return idx, nil
		}
		switch {
		case rec.Type == "version" && rec.Version != nil:
			idx.Versions = append(idx.Versions, rec.Version)
		case rec.Type == "segment" && rec.Segment != nil:
			rec.Segment.Dir = dir
			idx.Segments = append(idx.Segments, rec.Segment)
		case rec.Type == "end":
			idx.Ended = rec.End
		}
	}
}
