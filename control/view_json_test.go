package control

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/roomcast/roomcast/storage"
)

// plainRoomJSON is roomJSON without its MarshalJSON: encoding/json's reflection
// encoding, the reference for appendJSON.
type plainRoomJSON RoomJSON

// jsonTrickyStrings exercise every escaping rule of encoding/json.
var jsonTrickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnl\nret\rff\fbs\b",
	"\x00\x01\x1f\x7f", "line\u2028para\u2029", "invalid \xff\xfe utf8 \xc3", "héllo wörld ✓ 🎥",
	"/live/0b9e/1/index.m3u8?streamingToken=a.b-c_d",
}

// TestRoomJSONMatchesEncodingJSON: appendJSON writes the bytes encoding/json
// writes for random rooms (every field set or nil, tricky strings).
func TestRoomJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 2000 {
		var j RoomJSON
		fillRandom(t, rng, reflect.ValueOf(&j).Elem())
		want, err := json.Marshal((*plainRoomJSON)(&j))
		if err != nil {
			t.Fatal(err)
		}
		if got := j.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("room %d:\n got %s\nwant %s", i, got, want)
		}
		if got, _ := json.Marshal(&j); string(got) != string(want) {
			t.Fatalf("room %d through MarshalJSON:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestCustomDataJSON: customData renders as an object of its items in order with
// keys and values escaped as encoding/json escapes strings, null when empty.
func TestCustomDataJSON(t *testing.T) {
	t.Parallel()
	if got := string(customData(nil).appendJSON(nil)); got != "null" {
		t.Fatalf("empty: %s", got)
	}
	var d customData
	want := "{"
	for i, s := range jsonTrickyStrings {
		d = append(d, storage.KeyValue{Name: s, Value: jsonTrickyStrings[len(jsonTrickyStrings)-1-i]})
		k, _ := json.Marshal(s)
		v, _ := json.Marshal(jsonTrickyStrings[len(jsonTrickyStrings)-1-i])
		if i > 0 {
			want += ","
		}
		want += string(k) + ":" + string(v)
	}
	want += "}"
	if got := string(d.appendJSON(nil)); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

// FuzzAppendJSONString compares appendJSONString with encoding/json on any string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonTrickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}

// fillRandom sets v (a roomJSON or a part of it) to random values: pointers nil
// or set, strings from jsonTrickyStrings or random bytes.
func fillRandom(t testing.TB, rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() { // unexported: backing storage, not encoded
				fillRandom(t, rng, v.Field(i))
			}
		}
	case reflect.Pointer:
		if rng.IntN(3) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fillRandom(t, rng, v.Elem())
	case reflect.Slice: // customData
		n := rng.IntN(4)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fillRandom(t, rng, v.Index(i))
		}
	case reflect.String:
		v.SetString(randomString(rng))
	case reflect.Uint64:
		v.SetUint(rng.Uint64() >> rng.IntN(64))
	case reflect.Int, reflect.Int64:
		v.SetInt(rng.Int64N(1<<40) - 1<<39)
	case reflect.Float64: // stats.ingest, encoded by encoding/json
		v.SetFloat(rng.NormFloat64() * 1e4)
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	default:
		t.Fatalf("fillRandom: unhandled kind %s: extend it and appendJSON", v.Kind())
	}
}

// randomString returns a tricky string or random bytes (often invalid UTF-8).
func randomString(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return jsonTrickyStrings[rng.IntN(len(jsonTrickyStrings))]
	}
	b := make([]byte, rng.IntN(12))
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	if rng.IntN(2) == 0 {
		return string(b) + string(rune(rng.IntN(utf8.MaxRune)))
	}
	return string(b)
}

// TestAppendTime: appendTime equals AppendFormat(timeLayout) across years, zones
// and fractions (truncated, not rounded).
func TestAppendTime(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 5))
	zones := []*time.Location{time.UTC, time.FixedZone("x", -7*3600-1800), time.FixedZone("y", 14*3600)}
	cases := []time.Time{
		{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 13, 0, 0, 999, time.UTC),
	}
	for range 5000 {
		cases = append(cases, time.Unix(rng.Int64N(400_000_000_000)-62_000_000_000, rng.Int64N(1e9)).
			In(zones[rng.IntN(len(zones))]))
	}
	for _, tm := range cases {
		want := tm.UTC().Format(timeLayout)
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
		if got := formatTime(tm); got != want {
			t.Fatalf("formatTime %v: got %s, want %s", tm, got, want)
		}
	}
}
