package packager

import (
	"net/url"
	"strings"
	"sync"

	"github.com/roomcast/roomcast/packager/dash"
	"github.com/roomcast/roomcast/packager/hls"
)

// Manifests are rendered once per snapshot with placeholders where the viewer's
// query (token) and the time URL go, then filled per request: the token check and
// a few copies are all a playlist request costs.
const (
	slotQuery = "@@Q@@"
	slotSig   = "@@S@@" // the media files' query (sign.go), or the token's
	slotTime  = "@@T@@"
)

// tmpl is a rendered manifest split at its slots.
type tmpl struct {
	lits  []string
	slots []byte // 'Q', 'S' or 'T', len(lits)-1
	size  int
}

func compile(s string) *tmpl {
	t := &tmpl{}
	for {
		i := strings.Index(s, "@@")
		if i < 0 || i+5 > len(s) || s[i+3:i+5] != "@@" {
			break
		}
		t.lits = append(t.lits, s[:i])
		t.slots = append(t.slots, s[i+2])
		t.size += i
		s = s[i+5:]
	}
	t.lits = append(t.lits, s)
	t.size += len(s)
	return t
}

// render fills the slots: the viewer's query, the media files' query and the
// time URL.
func (t *tmpl) render(query, media, timeURL string) []byte {
	b := make([]byte, 0, t.size+len(t.slots)*max(len(query), len(media)))
	for i, l := range t.lits {
		b = append(b, l...)
		if i < len(t.slots) {
			switch t.slots[i] {
			case 'T':
				b = append(b, timeURL...)
			case 'S':
				b = append(b, media...)
			default:
				b = append(b, query...)
			}
		}
	}
	return b
}

// renderCache holds the templates of one snapshot.
type renderCache struct {
	mu           sync.Mutex
	multivariant *tmpl
	media        map[int]*tmpl
	mpd          *tmpl
	mpdFull      *tmpl // listed from the period start
}

func (v *view) multivariant() (*tmpl, error) {
	v.cache.mu.Lock()
	defer v.cache.mu.Unlock()
	if v.cache.multivariant == nil {
		b, err := hls.Multivariant(v.tl, hls.Options{Query: slotQuery})
		if err != nil {
			return nil, err
		}
		v.cache.multivariant = compile(string(b))
	}
	return v.cache.multivariant, nil
}

func (v *view) media(track int) (*tmpl, error) {
	v.cache.mu.Lock()
	defer v.cache.mu.Unlock()
	if t := v.cache.media[track]; t != nil {
		return t, nil
	}
	b, err := hls.Media(v.tl, track, hls.Options{Query: slotQuery, MediaQuery: slotSig, LowLatency: true})
	if err != nil {
		return nil, err
	}
	if v.cache.media == nil {
		v.cache.media = make(map[int]*tmpl)
	}
	t := compile(string(b))
	v.cache.media[track] = t
	return t, nil
}

func (v *view) mpd() (*tmpl, error) {
	return v.dashMPD(&v.cache.mpd, false)
}

// mpdFromPeriodStart is the MPD whose last Period is listed from its start, for
// GStreamer (see packager/dash).
func (v *view) mpdFromPeriodStart() (*tmpl, error) {
	return v.dashMPD(&v.cache.mpdFull, true)
}

func (v *view) dashMPD(cached **tmpl, fromStart bool) (*tmpl, error) {
	v.cache.mu.Lock()
	defer v.cache.mu.Unlock()
	if *cached == nil {
		b, err := dash.MPD(v.tl, dash.Options{Query: slotSig, TimeURL: slotTime, FromPeriodStart: fromStart})
		if err != nil {
			return nil, err
		}
		*cached = compile(string(b))
	}
	return *cached, nil
}

// tokenQuery is what every URI of a manifest carries.
func tokenQuery(token string) string {
	return "streamingToken=" + url.QueryEscape(token)
}
