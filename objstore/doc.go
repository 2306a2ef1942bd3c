// Package objstore is Roomcast's access to an S3-compatible object store, where
// recordings are kept: a thin wrapper over github.com/minio/minio-go/v7.
//
// Why minio-go: it is a well-kept, Apache-2.0 S3 client with few dependencies that
// speaks to AWS S3 and to every S3-compatible server (MinIO, SeaweedFS, Ceph RGW,
// Garage, R2, …). It reads credentials from the standard AWS environment variables
// (credentials.NewEnvAWS), addresses buckets path-style (what self-hosted servers
// need) or virtual-host style, serves ranged GETs as a plain streaming body, and
// can presign URLs (what VOD playback straight from the store would use). The
// multipart upload of large files is the library's job.
//
// # Configuration
//
// The store is named by one URL (the --object-store flag), parsed by ParseURL:
//
//	s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=us-east-1[&pathStyle=true]
//
// endpoint is optional (default: AWS, https://s3.<region>.amazonaws.com); its
// scheme, http or https, decides TLS. region defaults to us-east-1. With an
// endpoint, buckets are addressed path-style unless pathStyle=false. Credentials
// never appear in the URL: New takes them from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (anonymous requests when unset).
//
// # Keys
//
// Keys are slash paths relative to the configured prefix ("room/1/video1_3.m4s");
// the client prepends the prefix, and every ObjectInfo.Key it returns is relative
// to it again, so two clients with different prefixes on one bucket never see
// each other's objects. A "directory" is a key prefix ending in "/".
//
// # Errors
//
// Every error names the operation and the key. A missing object (NoSuchKey, or
// a 404 on Stat, ReadAll or Open) wraps fs.ErrNotExist: test it with
// errors.Is(err, fs.ErrNotExist). A missing bucket does not: it is a
// configuration error, not a missing recording.
//
// Timeouts are the caller's: every call takes a context. minio-go retries a
// failed request (network error, 5xx) up to 10 times with backoff, within that
// context.
//
// # Reading
//
// Open returns a Reader, an io.ReaderAt over one object served by ranged GETs.
// Sequential reads (the next ReadAt starts where the previous one ended, or a
// little further on) continue one streaming GET, so reading an object front to
// back in small pieces costs one request; a jump backwards or far ahead reopens
// the stream at the new offset.
//
// Tests run against a real S3 server, SeaweedFS's weed (internal/s3test).
package objstore
