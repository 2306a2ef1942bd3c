package packager

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/roomcast/roomcast/internal/s3test"
	"github.com/roomcast/roomcast/objstore/objstoretest"
	"github.com/roomcast/roomcast/packager/vod/vodtest"
)

// TestVODFromObjectStore: with an object store, archiving waits for the uploads,
// builds from the store and removes the local files; the VOD (playlists,
// segments, download.mp4 with ranges) is served from the store, byte for byte
// what a local archive of the same sessions serves; deleting the room deletes
// its objects.
func TestVODFromObjectStore(t *testing.T) {
	c := objstoretest.Client(t, s3test.Start(t), "vod") // the uploader creates the bucket
	remote := newVODEnvWith(t, func(p *Packager) { p.Objects = c })
	local := newVODEnv(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, e := range []*vodEnv{remote, local} {
		s := &vodtest.Synth{T: t, RoomDir: filepath.Join(e.p.Dir, testRoom), Segments: 3}
		s.Session(1, t0)
		s.Session(2, t0.Add(time.Minute))
	}
	// the sessions were written behind the packager's back: tell its uploader
	remote.p.uploader.Ended(testRoom + "/1")
	remote.p.uploader.Ended(testRoom + "/2")
	remote.archive(t)
	local.archive(t)
	if _, err := os.Stat(filepath.Join(remote.p.Dir, testRoom)); !os.IsNotExist(err) {
		t.Errorf("local files of a room archived in the object store: %v", err)
	}
	infos, err := c.List(context.Background(), testRoom+"/", true)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, in := range infos {
		keys = append(keys, in.Key)
	}
	if !slices.Contains(keys, testRoom+"/vod.json") || !slices.Contains(keys, testRoom+"/2/index.jsonl") {
		t.Fatalf("objects of the archived room: %v", keys)
	}

	good := "?streamingToken=" + testToken
	base := "/vod/" + testRoom + "/"
	for _, c := range []struct {
		path string
		hdr  []string
	}{
		{path: "index.m3u8"}, {path: "video1.m3u8"}, {path: "audio2.m3u8"}, {path: "index.mpd"},
		{path: "video1_init1.mp4"}, {path: "video1_4.m4s"}, {path: "audio2_0.m4s"}, {path: "video1_d3.m4s"},
		{path: "download.mp4"}, {path: "download.mp4", hdr: []string{"Range", "bytes=1000-250000"}},
		{path: "download.mp4", hdr: []string{"Range", "bytes=-5000"}},
	} {
		rc, _, rbody := remote.getHdr(t, base+c.path+good, c.hdr...)
		lc, _, lbody := local.getHdr(t, base+c.path+good, c.hdr...)
		if rc != lc || rc/100 != 2 || rbody != lbody {
			t.Errorf("%s %v: object store %d (%d bytes), local %d (%d bytes)", c.path, c.hdr, rc, len(rbody), lc, len(lbody))
		}
	}

	remote.p.DeleteRoom(testRoom)
	deadline := time.Now().Add(10 * time.Second)
	for {
		infos, err := c.List(context.Background(), testRoom+"/", true)
		if err == nil && len(infos) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects of the deleted room: %d left (%v)", len(infos), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
