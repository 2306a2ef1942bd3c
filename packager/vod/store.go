package vod

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
)

// Store is where archived media is read and VOD manifests are kept: the local
// media directory (DirStore, the default) or an object store (ObjectStore). Names
// are slash paths relative to the media root: "{room}/vod.json",
// "{room}/{session}/{file}".
type Store interface {
	// List returns the entries directly under dir ("{room}" or "{room}/{n}"), in
	// name order. A directory that does not exist is empty, not an error.
	List(ctx context.Context, dir string) ([]Entry, error)
	// Open opens name for reading; size is its size when the caller knows it
	// (from List), -1 otherwise. Errors wrap fs.ErrNotExist when name is missing.
	Open(ctx context.Context, name string, size int64) (Reader, error)
	// ReadFile reads a whole (small) file.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// WriteFile stores name atomically: after a crash either the old or the new
	// content exists whole.
	WriteFile(ctx context.Context, name string, b []byte) error
	// ModTime returns when name was last written.
	ModTime(ctx context.Context, name string) (time.Time, error)
	// RemoveAll deletes dir and everything under it.
	RemoveAll(ctx context.Context, dir string) error
}

// storedRooms lists the room directories st holds.
func storedRooms(ctx context.Context, st Store) ([]string, error) {
	ents, err := st.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var rooms []string
	for _, e := range ents {
		if room, ok := parseRoom(e.Name); ok && e.Dir {
			rooms = append(rooms, room)
		}
	}
	return rooms, nil
}

// Entry is one entry of a Store directory.
type Entry struct {
	Name string
	Size int64
	Dir  bool
}

// Reader reads one stored file. Not safe for concurrent use.
type Reader interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// DirStore is a Store over a local directory (the packager's media directory).
type DirStore string

func (d DirStore) path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

// List implements Store.
func (d DirStore) List(_ context.Context, dir string) ([]Entry, error) {
	ents, err := os.ReadDir(d.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	out := make([]Entry, 0, len(ents))
	for _, e := range ents {
		en := Entry{Name: e.Name(), Dir: e.IsDir()}
		if !en.Dir {
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			en.Size = fi.Size()
		}
		out = append(out, en)
	}
	return out, nil
}

// Open implements Store.
func (d DirStore) Open(_ context.Context, name string, _ int64) (Reader, error) {
	f, err := os.Open(d.path(name))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileReader{File: f, size: st.Size()}, nil
}

type fileReader struct {
	*os.File
	size int64
}

func (f *fileReader) Size() int64 { return f.size }

// ReadFile implements Store.
func (d DirStore) ReadFile(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(d.path(name))
}

// WriteFile implements Store: temp file, fsync, rename, fsync of the directory.
func (d DirStore) WriteFile(_ context.Context, name string, b []byte) error {
	path := d.path(name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("install %s: %w", name, err)
	}
	return timeline.SyncDir(filepath.Dir(path))
}

// ModTime implements Store.
func (d DirStore) ModTime(_ context.Context, name string) (time.Time, error) {
	st, err := os.Stat(d.path(name))
	if err != nil {
		return time.Time{}, err
	}
	return st.ModTime(), nil
}

// RemoveAll implements Store.
func (d DirStore) RemoveAll(_ context.Context, dir string) error {
	return os.RemoveAll(d.path(dir))
}

// readIndexBytes returns the session index in dir: index.jsonl when the store has
// it, else its stored pieces joined (a session still uploaded, or whose node died).
// Pieces overlap only with identical bytes (the index is append-only); a gap ends
// the index there.
func readIndexBytes(ctx context.Context, st Store, dir string, ents []Entry) ([]byte, error) {
	type piece struct {
		off  int64
		name string
	}
	var pieces []piece
	for _, e := range ents {
		if e.Name == timeline.IndexFile {
			return st.ReadFile(ctx, dir+"/"+e.Name)
		}
		if off, ok := timeline.ParseIndexPiece(e.Name); ok && !e.Dir {
			pieces = append(pieces, piece{off, e.Name})
		}
	}
	if len(pieces) == 0 {
		return nil, fmt.Errorf("%s: %w", timeline.IndexFile, fs.ErrNotExist)
	}
	slices.SortFunc(pieces, func(a, b piece) int { return cmp.Compare(a.off, b.off) })
	var out []byte
	for _, c := range pieces {
		end := int64(len(out))
		if c.off > end {
			break // a piece is missing: the index ends before it
		}
		b, err := st.ReadFile(ctx, dir+"/"+c.name)
		if err != nil {
			return nil, fmt.Errorf("read index piece %s: %w", c.name, err)
		}
		if skip := end - c.off; skip < int64(len(b)) {
			out = append(out, b[skip:]...)
		}
	}
	return out, nil
}
