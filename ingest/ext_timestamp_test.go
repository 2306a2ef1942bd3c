package ingest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yutopp/go-rtmp/handshake"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

// unitCollector is a hub reader attached in OnStreamReady (before the first unit):
// it records every unit of a stream as a digest per track.
type unitCollector struct {
	mu     sync.Mutex
	units  map[bool][][32]byte
	first  map[bool]time.Duration // DTS of each track's first unit
	reader *hub.Reader
}

func collectUnits(s *hub.Stream) (*unitCollector, error) {
	c := &unitCollector{units: map[bool][][32]byte{}, first: map[bool]time.Duration{}}
	c.reader = &hub.Reader{QueueSize: 1 << 16, Name: "collector", OnUnit: func(u *hub.Unit) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		v := u.Track.IsVideo()
		if len(c.units[v]) == 0 {
			c.first[v] = u.DTS
		}
		c.units[v] = append(c.units[v], auDigest(v, u.Key, u.DTS, u.PTS, u.Payload))
		return nil
	}}
	return c, s.AddReader(c.reader)
}

// expectedUnits demuxes tags as the server does: every unit as a digest per track.
func expectedUnits(t testing.TB, tags []flv.Tag) map[bool][][32]byte {
	d := &flv.Demuxer{}
	out := map[bool][][32]byte{}
	for _, tg := range tags {
		u, err := d.Push(tg)
		if err != nil {
			t.Fatal(err)
		}
		if u != nil {
			v := u.Track.IsVideo()
			out[v] = append(out[v], auDigest(v, u.Key, u.DTS, u.PTS, u.Payload))
		}
	}
	return out
}

// rawPublish does the RTMP handshake with addr, writes session (a chunk stream
// written by hand) at once and reads (discarding) what the server sends until it
// closes the connection.
func rawPublish(t *testing.T, addr string, session []byte) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := handshake.HandshakeWithServer(nc, nc, &handshake.Config{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := nc.Write(session)
		done <- err
	}()
	_, _ = io.Copy(io.Discard, nc) // until the server closes (after deleteStream)
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestPublishAcrossTheExtendedTimestamp publishes testdata/h264_aac.flv unpaced
// through a real server, with timestamps from 16 770 000 ms (7.2 s below 0xffffff)
// across 0xffffff, chunks written by hand exactly as ffmpeg writes them — with the
// extended timestamp after type-3 headers whenever the header's field is 0xffffff
// (go-rtmp's own writer, used by the other test clients, leaves it out). ffmpeg
// writes deltas, so its field reaches 0xffffff on a type-0 header: here the audio
// is sent ahead of the video, which takes the video timestamp back. The "type-0
// headers only" publisher writes the absolute timestamp in every message. Every
// unit must arrive with its timestamp and payload, the publish end with
// CLIENT_UNPUBLISH.
func TestPublishAcrossTheExtendedTimestamp(t *testing.T) {
	tags := audioAhead(readTags(t, "h264_aac.flv"))
	const base = 16_770_000
	shifted := slices.Clone(tags)
	for i := range shifted {
		shifted[i].Timestamp += base
	}
	want := expectedUnits(t, shifted)
	cases := []struct {
		name      string
		chunkSize uint32
		absolute  bool
	}{
		{"ffmpeg, chunk size 128", 128, false},
		{"ffmpeg, chunk size 4096", 4096, false},
		{"type-0 headers only, chunk size 128", 128, true},
		{"type-0 headers only, chunk size 4096", 4096, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprint(i + 1)
			var col *unitCollector
			var colErr error
			h := newHarness(t, func(s *Server) {
				ready := s.OnStreamReady
				s.OnStreamReady = func(g PublishGrant, st *hub.Stream) {
					col, colErr = collectUnits(st) // before the first unit is written
					ready(g, st)
				}
			})
			w := newFFmpegWriter()
			w.absolute = c.absolute
			session := ffmpegPublishSession(t, w, "key"+id+"?mode=RTMP", tags, c.chunkSize, base)
			if w.ext3 == 0 {
				t.Fatal("no extended timestamp after a type-3 header: the case tests nothing")
			}
			refused := h.s.refusedInputs.Load()
			rawPublish(t, h.addr(), session)
			if r := h.waitStop(id); r != publish.StopClientUnpublish {
				t.Fatalf("stop reason %s", r)
			}
			if h.s.refusedInputs.Load() != refused {
				t.Fatal("refused by the guard")
			}
			st := h.stream(id)
			if colErr != nil {
				t.Fatal(colErr)
			}
			if err := <-col.reader.Err(); !errors.Is(err, hub.ErrStreamClosed) {
				t.Fatal(err)
			}
			st.RemoveReader(col.reader)
			for _, video := range []bool{true, false} {
				got := col.units[video]
				if len(got) != len(want[video]) {
					t.Fatalf("video=%v: %d units, published %d", video, len(got), len(want[video]))
				}
				for j := range got {
					if got[j] != want[video][j] {
						t.Fatalf("video=%v unit %d differs (timestamp or payload)", video, j)
					}
				}
			}
			t.Logf("%d bytes with %d extended timestamps after type-3 headers: %d video + %d audio units from DTS %v, all equal",
				len(session), w.ext3, len(want[true]), len(want[false]), col.first[true])
		})
	}
}
