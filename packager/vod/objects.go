package vod

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/roomcast/roomcast/objstore"
)

// ObjectStore is a Store over an object store: the same names as keys. A
// "directory" is a key prefix; WriteFile is one PUT (atomic by nature).
type ObjectStore struct{ C *objstore.Client }

// List implements Store.
func (o ObjectStore) List(ctx context.Context, dir string) ([]Entry, error) {
	prefix := ""
	if dir != "" {
		prefix = strings.TrimSuffix(dir, "/") + "/"
	}
	infos, err := o.C.List(ctx, prefix, false)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(infos))
	for _, in := range infos {
		name := strings.TrimSuffix(strings.TrimPrefix(in.Key, prefix), "/")
		if name == "" {
			continue
		}
		out = append(out, Entry{Name: name, Size: in.Size, Dir: in.Dir})
	}
	return out, nil
}

// Open implements Store: reads are ranged GETs, sequential ones share one.
func (o ObjectStore) Open(ctx context.Context, name string, size int64) (Reader, error) {
	r, err := o.C.Open(ctx, name, size)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ReadFile implements Store.
func (o ObjectStore) ReadFile(ctx context.Context, name string) ([]byte, error) {
	return o.C.ReadAll(ctx, name)
}

// WriteFile implements Store.
func (o ObjectStore) WriteFile(ctx context.Context, name string, b []byte) error {
	return o.C.PutBytes(ctx, name, b, "application/json")
}

// ModTime implements Store.
func (o ObjectStore) ModTime(ctx context.Context, name string) (time.Time, error) {
	in, err := o.C.Stat(ctx, name)
	if err != nil {
		return time.Time{}, err
	}
	return in.ModTime, nil
}

// RemoveAll implements Store.
func (o ObjectStore) RemoveAll(ctx context.Context, dir string) error {
	if _, err := o.C.DeletePrefix(ctx, strings.TrimSuffix(dir, "/")+"/"); err != nil {
		return fmt.Errorf("delete %s: %w", dir, err)
	}
	return nil
}
