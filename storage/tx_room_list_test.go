package storage_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// TestListRoomsMatchesFullScan changes rooms at random (inserts, state, type,
// access, title, owner and app changes, soft deletes) and compares every kind of
// ListRooms query with a filter-and-sort over all rooms.
func TestListRoomsMatchesFullScan(t *testing.T) {
	s := openAt(t, dbPath(t))
	t.Cleanup(func() { _ = s.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	states := []string{"SCHEDULED", "LIVE", "LIVE_INACTIVE", "ENDED", "CANCELLED"}
	types := []string{"BROADCAST_RTMP", "WEBINAR"}
	levels := []string{"PUBLIC", "PRIVATE", "APP"}
	words := []string{"Alpha", "beta", "GAMMA", "Ünïcode"}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []storage.Room
	randomize := func(r *storage.Room) {
		r.AppID = uint64(rng.IntN(2) + 1)
		r.MemberID = uint64(rng.IntN(4)) // 0: no owner
		r.VideoRoomState = states[rng.IntN(len(states))]
		r.Type = types[rng.IntN(len(types))]
		r.AccessLevel = levels[rng.IntN(len(levels))]
		r.Title = fmt.Sprintf("%s room %d", words[rng.IntN(len(words))], rng.IntN(50))
		r.LastModifiedAt = base.Add(time.Duration(rng.IntN(100)) * time.Second) // ties on purpose
		r.State = "ACTIVE"
		if rng.IntN(8) == 0 {
			r.State = "DELETED"
		}
	}
	for round := range 6 {
		update(t, s, func(tx *storage.Tx) error {
			for i := range 60 {
				var r storage.Room
				if round > 0 && i%2 == 0 {
					r = all[rng.IntN(len(all))]
				} else {
					r = newRoom(1, 1, round*1000+i)
				}
				randomize(&r)
				if err := tx.PutRoom(&r); err != nil {
					return err
				}
				if j := slices.IndexFunc(all, func(o storage.Room) bool { return o.ID == r.ID }); j >= 0 {
					all[j] = r
				} else {
					all = append(all, r)
				}
			}
			return nil
		})
		for _, q := range listQueriesFor(rng) {
			want, wantTotal := scanRooms(all, q)
			view(t, s, func(tx *storage.Tx) error {
				got, total, err := tx.ListRooms(q)
				if err != nil {
					return err
				}
				if total != wantTotal || !slices.Equal(ids(got), want) {
					t.Fatalf("round %d %+v:\ngot  %d %v\nwant %d %v", round, q, total, ids(got), wantTotal, want)
				}
				return nil
			})
		}
	}
}

func listQueriesFor(rng *rand.Rand) []storage.RoomQuery {
	var out []storage.RoomQuery
	for _, member := range []uint64{0, 2} {
		for _, f := range []storage.RoomQuery{{}, {State: "LIVE"}, {Type: "WEBINAR", AccessLevel: "PRIVATE"},
			{State: "ENDED", Type: "BROADCAST_RTMP", AccessLevel: "APP"}, {Keyword: "alpha"}, {Keyword: "üNÏ", State: "LIVE"},
			{Keyword: "zzz"}} {
			for _, order := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				q := f
				q.AppID, q.MemberID, q.ByModified, q.Desc = 1, member, order[0], order[1]
				q.Limit = rng.IntN(10) + 1
				q.Offset = rng.IntN(3) * q.Limit
				out = append(out, q)
			}
		}
	}
	return out
}

// scanRooms is ListRooms by brute force: filter, sort (ties by ID in the same
// direction), page.
func scanRooms(all []storage.Room, q storage.RoomQuery) ([]uint64, int) {
	var m []storage.Room
	for _, r := range all {
		if r.State == "ACTIVE" && r.AppID == q.AppID && (q.MemberID == 0 || r.MemberID == q.MemberID) &&
			(q.State == "" || r.VideoRoomState == q.State) && (q.Type == "" || r.Type == q.Type) &&
			(q.AccessLevel == "" || r.AccessLevel == q.AccessLevel) &&
			strings.Contains(strings.ToLower(r.Title), strings.ToLower(q.Keyword)) {
			m = append(m, r)
		}
	}
	slices.SortFunc(m, func(a, b storage.Room) int {
		c := 0
		if q.ByModified {
			c = a.LastModifiedAt.Compare(b.LastModifiedAt)
		}
		if c == 0 {
			c = int(a.ID) - int(b.ID)
		}
		if q.Desc {
			return -c
		}
		return c
	})
	page := m[min(q.Offset, len(m)):min(q.Offset+q.Limit, len(m))]
	return ids(page), len(m)
}

func ids(rooms []storage.Room) []uint64 {
	out := []uint64{}
	for _, r := range rooms {
		out = append(out, r.ID)
	}
	return out
}
