// Package objstoretest connects tests to a real S3 server started with
// internal/s3test (objstore's own tests cannot use it: s3test → objstore would
// be an import cycle for them).
package objstoretest

import (
	"testing"

	"github.com/roomcast/roomcast/internal/s3test"
	"github.com/roomcast/roomcast/objstore"
)

// Client sets srv's credentials in the test's environment (restored at its end)
// and returns a client of bucket on srv. The bucket is not created: the code
// under test creates it, or the test calls EnsureBucket.
func Client(t testing.TB, srv *s3test.Server, bucket string) *objstore.Client {
	t.Helper()
	srv.SetEnv(t)
	cfg, err := objstore.ParseURL(srv.URL(bucket))
	if err != nil {
		t.Fatal(err)
	}
	c, err := objstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
