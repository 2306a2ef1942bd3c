package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Client reads and writes the objects under one bucket and prefix. Its methods
// may be called from several goroutines.
type Client struct {
	cfg  Config
	mc   *minio.Client
	core minio.Core // the same client: GetObject without minio.Object's buffering
}

// ObjectInfo describes an object, or a "directory" (Dir: a common key prefix,
// ending in "/", of a one-level List).
type ObjectInfo struct {
	Key     string // relative to the configured prefix
	Size    int64
	ModTime time.Time
	Dir     bool
}

// Option changes how New builds a client.
type Option func(*options)

type options struct {
	transport http.RoundTripper
}

// WithTransport makes the client send its requests through rt (instead of
// minio-go's default transport): a proxy, custom TLS, or a test that counts
// requests.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.transport = rt }
}

// New builds a client of the store cfg names. Credentials come from the standard
// AWS environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), read at the first request; without them requests are
// anonymous. New sends no request: Ping or EnsureBucket checks the store.
func New(cfg Config, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.Bucket == "" || cfg.Endpoint == "" {
		return nil, fmt.Errorf("objstore: new client of %s: no bucket or endpoint", cfg)
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("objstore: new client of %s: prefix %q must end in /", cfg, cfg.Prefix)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	mc, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewEnvAWS(),
		Secure:       cfg.Secure,
		Region:       cfg.Region, // known: no GetBucketLocation request
		BucketLookup: lookup,
		Transport:    o.transport,
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: new client of %s: %w", cfg, err)
	}
	mc.SetAppInfo("roomcast", "")
	return &Client{cfg: cfg, mc: mc, core: minio.Core{Client: mc}}, nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// EnsureBucket creates the bucket unless it exists already.
func (c *Client) EnsureBucket(ctx context.Context) error {
	ok, err := c.mc.BucketExists(ctx, c.cfg.Bucket)
	if err != nil {
		return c.bucketErr("ensure bucket", err)
	}
	if ok {
		return nil
	}
	err = c.mc.MakeBucket(ctx, c.cfg.Bucket, minio.MakeBucketOptions{Region: c.cfg.Region})
	if err == nil {
		return nil
	}
	// Created meanwhile by another node (BucketAlreadyOwnedByYou, or
	// BucketAlreadyExists from servers that say that to the owner too).
	if ok, err2 := c.mc.BucketExists(ctx, c.cfg.Bucket); err2 == nil && ok {
		return nil
	}
	return c.bucketErr("create bucket", err)
}

// Ping checks cheaply that the store answers, accepts the credentials and has
// the bucket (one HEAD request).
func (c *Client) Ping(ctx context.Context) error {
	ok, err := c.mc.BucketExists(ctx, c.cfg.Bucket)
	if err != nil {
		return c.bucketErr("ping", err)
	}
	if !ok {
		return fmt.Errorf("objstore: ping %s: bucket %q does not exist", c.cfg.baseURL(), c.cfg.Bucket)
	}
	return nil
}

// PutFile uploads the local file at path as key and returns its size. The
// content type follows the file name's extension. Large files go up in parts
// (minio-go's multipart upload).
func (c *Client) PutFile(ctx context.Context, key, path string) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, c.keyErr("put file", key, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, c.keyErr("put file", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, c.keyErr("put file", key, err)
	}
	if !st.Mode().IsRegular() {
		return 0, c.keyErr("put file", key, fmt.Errorf("%s is not a regular file", path))
	}
	info, err := c.mc.PutObject(ctx, c.cfg.Bucket, c.full(key), f, st.Size(),
		minio.PutObjectOptions{ContentType: ContentType(key)})
	if err != nil {
		return 0, c.keyErr("put file", key, err)
	}
	return info.Size, nil
}

// PutBytes uploads b as key, with contentType ("" for ContentType(key)).
func (c *Client) PutBytes(ctx context.Context, key string, b []byte, contentType string) error {
	if err := checkKey(key); err != nil {
		return c.keyErr("put", key, err)
	}
	if contentType == "" {
		contentType = ContentType(key)
	}
	_, err := c.mc.PutObject(ctx, c.cfg.Bucket, c.full(key), bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return c.keyErr("put", key, err)
	}
	return nil
}

// ReadAll returns the whole object key (meant for small ones: playlists,
// manifests, indexes).
func (c *Client) ReadAll(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, c.keyErr("read", key, err)
	}
	body, _, _, err := c.core.GetObject(ctx, c.cfg.Bucket, c.full(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, c.keyErr("read", key, err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, c.keyErr("read", key, err)
	}
	return b, nil
}

// Stat returns the size and modification time of object key.
func (c *Client) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, c.keyErr("stat", key, err)
	}
	oi, err := c.mc.StatObject(ctx, c.cfg.Bucket, c.full(key), minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, c.keyErr("stat", key, err)
	}
	return ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List returns the objects under prefix ("" for all, else a "directory" key
// ending in "/"), in key order, paging through every result. recursive=false
// lists one level: the deeper keys are summed up as one entry per
// sub-"directory" (Dir true, Key ending in "/").
func (c *Client) List(ctx context.Context, prefix string, recursive bool) ([]ObjectInfo, error) {
	if err := checkDirPrefix(prefix); err != nil {
		return nil, c.keyErr("list", prefix, err)
	}
	// Ending ctx stops minio-go's listing goroutine if this returns early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []ObjectInfo
	for oi := range c.mc.ListObjects(ctx, c.cfg.Bucket, minio.ListObjectsOptions{
		Prefix:    c.full(prefix),
		Recursive: recursive,
	}) {
		if oi.Err != nil {
			return nil, c.keyErr("list", prefix, oi.Err)
		}
		rel, ok := strings.CutPrefix(oi.Key, c.cfg.Prefix)
		if !ok || rel == "" {
			continue
		}
		dir := strings.HasSuffix(rel, "/")
		if dir && recursive {
			continue // a folder marker some servers keep: not an object
		}
		out = append(out, ObjectInfo{Key: rel, Size: oi.Size, ModTime: oi.LastModified, Dir: dir})
	}
	// S3 pages come in key order, but a server may send a page's common
	// prefixes after its objects.
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes object key. A missing object is not an error.
func (c *Client) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return c.keyErr("delete", key, err)
	}
	err := c.mc.RemoveObject(ctx, c.cfg.Bucket, c.full(key), minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return c.keyErr("delete", key, err)
	}
	return nil
}

// DeletePrefix removes every object under prefix (a "directory" key ending in
// "/"; "" is refused, so a bug cannot empty the whole store) with batch
// deletes, and returns how many it removed.
func (c *Client) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, c.keyErr("delete prefix", prefix, errors.New("empty prefix (would delete everything)"))
	}
	if err := checkDirPrefix(prefix); err != nil {
		return 0, c.keyErr("delete prefix", prefix, err)
	}
	objs, err := c.List(ctx, prefix, true)
	if err != nil {
		return 0, c.keyErr("delete prefix", prefix, err)
	}
	if len(objs) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan minio.ObjectInfo)
	// The feeder stops when every key is sent or ctx ends (cancel on return).
	go func() {
		defer close(in)
		for _, o := range objs {
			select {
			case in <- minio.ObjectInfo{Key: c.full(o.Key)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	removed := 0
	var errs []error
	for res := range c.mc.RemoveObjectsWithResult(ctx, c.cfg.Bucket, in, minio.RemoveObjectsOptions{}) {
		if res.Err != nil && !isNotFound(res.Err) {
			if len(errs) < 3 {
				errs = append(errs, fmt.Errorf("%s: %w", strings.TrimPrefix(res.ObjectName, c.cfg.Prefix), res.Err))
			}
			continue
		}
		removed++
	}
	if err := errors.Join(errs...); err != nil {
		return removed, c.keyErr("delete prefix", prefix, fmt.Errorf("%d of %d removed: %w", removed, len(objs), err))
	}
	if err := ctx.Err(); err != nil && removed < len(objs) {
		return removed, c.keyErr("delete prefix", prefix, err)
	}
	return removed, nil
}

// full is the bucket key of key.
func (c *Client) full(key string) string { return c.cfg.Prefix + key }

// keyErr wraps err with the operation and key; a missing object also wraps
// fs.ErrNotExist.
func (c *Client) keyErr(op, key string, err error) error {
	if isNotFound(err) {
		return &opError{op: op, bucket: c.cfg.Bucket, key: c.full(key), err: err, notExist: true}
	}
	return &opError{op: op, bucket: c.cfg.Bucket, key: c.full(key), err: err}
}

// bucketErr wraps an error of a bucket-level operation.
func (c *Client) bucketErr(op string, err error) error {
	return fmt.Errorf("objstore: %s %s bucket %q: %w", op, c.cfg.baseURL(), c.cfg.Bucket, err)
}

// opError is an error of an operation on one key.
type opError struct {
	op, bucket, key string
	err             error
	notExist        bool
}

func (e *opError) Error() string {
	return fmt.Sprintf("objstore: %s %s/%s: %v", e.op, e.bucket, e.key, e.err)
}

func (e *opError) Unwrap() []error {
	if e.notExist {
		return []error{e.err, fs.ErrNotExist}
	}
	return []error{e.err}
}

// isNotFound reports whether err is S3's answer for a missing key (not a
// missing bucket).
func isNotFound(err error) bool {
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	switch er.Code {
	case minio.NoSuchKey, "NotFound":
		return true
	case minio.NoSuchBucket:
		return false
	}
	return er.StatusCode == http.StatusNotFound && er.Key != ""
}

// checkKey refuses keys that are no relative slash path of an object.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case strings.HasPrefix(key, "/"):
		return errors.New("key must be relative (no leading /)")
	case strings.HasSuffix(key, "/"):
		return errors.New("key ends in / (a directory, not an object)")
	}
	return checkSegments(key)
}

// checkDirPrefix refuses list prefixes other than "" or a directory key.
func checkDirPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if !strings.HasSuffix(prefix, "/") || strings.HasPrefix(prefix, "/") {
		return errors.New(`prefix must be a relative directory key ending in "/"`)
	}
	return checkSegments(strings.TrimSuffix(prefix, "/"))
}

func checkSegments(p string) error {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("empty, . or .. path segment")
		}
	}
	return nil
}

// ContentType is the type an object named key is stored with: the media types
// of the files Roomcast records, else the system's table, else
// application/octet-stream.
func ContentType(key string) string {
	switch ext := strings.ToLower(path.Ext(key)); ext {
	case ".m4s":
		return "video/iso.segment"
	case ".mp4", ".m4v":
		return "video/mp4"
	case ".m4a":
		return "audio/mp4"
	case ".mpd":
		return "application/dash+xml"
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".json":
		return "application/json"
	case "":
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}
