package api

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
)

// fillListRooms stores n rooms of the app spread over 20 members, the states,
// types and access levels, with distinct lastModifiedAt (a shuffled order) and
// titles "room <i> <word>", straight through the store (the HTTP create path is
// measured elsewhere). It returns the member IDs.
func fillListRooms(tb testing.TB, e *env, appID uint64, app auth, n int) []uint64 {
	tb.Helper()
	var members []uint64
	for i := range 20 {
		m := e.newMember(app, fmt.Sprintf("host%d", i))
		members = append(members, uint64(m.ID))
	}
	states := []control.VideoRoomState{control.VideoRoomStateScheduled, control.VideoRoomStateLive, control.VideoRoomStateLiveInactive,
		control.VideoRoomStateEnded, control.VideoRoomStateCancelled}
	types := []control.VideoRoomType{control.VideoRoomTypeBroadcastRTMP, control.VideoRoomTypeWebinar, control.VideoRoomTypeVideoConference}
	levels := []control.AccessLevel{control.AccessLevelPublic, control.AccessLevelApp, control.AccessLevelPrivate}
	words := []string{"Music", "Talk", "Games", "News", "Sport", "Cooking", "Travel"}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += 1000 {
		err := e.store.Update(func(tx *storage.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				r := storage.Room{
					UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), AppID: appID,
					MemberID: members[i%len(members)], State: "ACTIVE",
					Type: string(types[i%len(types)]), AccessLevel: string(levels[i/7%len(levels)]),
					Title:          fmt.Sprintf("room %d %s", i, words[i%len(words)]),
					VideoRoomState: string(states[i/3%len(states)]), VODState: string(control.VODStateNotArchived),
					CreatedAt:      base.Add(time.Duration(i) * time.Second),
					LastModifiedAt: base.Add(time.Duration(i*7919%n) * time.Second),
				}
				if i%97 == 0 {
					r.State, r.DeletedAt = "DELETED", r.LastModifiedAt
				}
				if err := tx.PutRoom(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return members
}

// listQueries are the list requests the benchmark measures: every filter and
// sort of GET video-rooms, a deep page and a member's list.
func listQueries(member uint64) []struct{ name, query string } {
	return []struct{ name, query string }{
		{"default", ""},
		{"createdAsc", "sortBy=CREATED_AT_ASC"},
		{"modifiedDesc", "sortBy=LAST_MODIFIED_AT_DESC"},
		{"modifiedAsc", "sortBy=LAST_MODIFIED_AT_ASC"},
		{"stateLive", "videoRoomState=LIVE"},
		{"typeWebinar", "type=WEBINAR"},
		{"accessPrivate", "accessLevel=PRIVATE"},
		{"stateTypeAccess", "videoRoomState=ENDED&type=WEBINAR&accessLevel=APP&sortBy=LAST_MODIFIED_AT_DESC"},
		{"keyword", "keyword=music"},
		{"member", fmt.Sprintf("memberId=%d", member)},
		{"page50", "page=50&pageSize=100"},
		{"modifiedPage50", "sortBy=LAST_MODIFIED_AT_ASC&page=50&pageSize=100"},
	}
}

// BenchmarkListRooms10000 lists pages of an app with 10 000 rooms through the real
// HTTP stack, one sub-benchmark per filter and sort, and reports the p50 and p99
// latency per page; "concurrent4" runs four listers at once over all queries.
func BenchmarkListRooms10000(b *testing.B) {
	e := newEnv(b, nil)
	creds, app := e.newApp("bench")
	members := fillListRooms(b, e, creds.AppID, app, 10_000)
	client := benchClient(b)
	get := func(q string) time.Duration {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v2/apps/me/video-rooms?"+q, nil)
		req.Header.Set("Authorization", string(app))
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("%s: status %d", q, res.StatusCode)
		}
		return time.Since(start)
	}
	queries := listQueries(members[3])
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				lat = append(lat, get(q.query))
			}
			reportLatency(b, lat)
		})
	}
	b.Run("concurrent4", func(b *testing.B) {
		var mu sync.Mutex
		var lat []time.Duration
		b.SetParallelism(1)
		var wg sync.WaitGroup
		per := max(b.N/4, 1)
		b.ResetTimer()
		for w := range 4 {
			wg.Go(func() {
				var mine []time.Duration
				for i := range per {
					mine = append(mine, get(queries[(w+i)%len(queries)].query))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		reportLatency(b, lat)
	})
}

// reportLatency reports the p50 and p99 of lat in milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
