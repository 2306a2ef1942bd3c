package flv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/yutopp/go-amf0"
)

// amfCase is one body for ValidateAMF0; the table feeds the unit test, the fuzz
// seeds and the benchmark.
type amfCase struct {
	name string
	body []byte
	ok   bool
}

func amfEncode(t testing.TB, vals ...any) []byte {
	var buf bytes.Buffer
	enc := amf0.NewEncoder(&buf)
	for _, v := range vals {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u32be(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// nestedObjects is depth objects inside each other, each with one property "a".
func nestedObjects(depth int) []byte {
	var b []byte
	for range depth {
		b = append(b, amfObject, 0, 1, 'a')
	}
	b = append(b, amfNull)
	for range depth {
		b = append(b, 0, 0, amfObjectEnd)
	}
	return b
}

func amfCases(t testing.TB) []amfCase {
	tags, err := ReadFile("../../testdata/h264_aac.flv")
	if err != nil {
		t.Fatal(err)
	}
	connect := amfEncode(t, "connect", 1.0, map[string]any{"app": "live", "type": "nonprivate",
		"flashVer": "FMLE/3.0", "tcUrl": "rtmp://127.0.0.1/live"})
	name := amfEncode(t, "connect", 1.0)
	null := []byte{amfNull}
	obj := func(key string, v []byte) []byte {
		return cat([]byte{amfObject, 0, byte(len(key))}, []byte(key), v, []byte{0, 0, amfObjectEnd})
	}
	strict := func(n uint32, vals ...byte) []byte { return cat([]byte{amfStrictArray}, u32be(n), vals) }
	return []amfCase{
		{"empty", nil, true},
		{"connect command", connect, true},
		{"onMetaData of h264_aac.flv", tags[0].Data, true},
		{"all scalar markers", cat([]byte{amfNumber}, make([]byte, 8), []byte{amfBoolean, 1, amfString, 0, 1, 'x',
			amfNull, amfUndefined, amfUnsupported, amfReference, 0, 1, amfDate}, make([]byte, 10),
			[]byte{amfLongString, 0, 0, 0, 2, 'h', 'i', amfXMLDocument, 0, 0, 0, 0}), true},
		{"typed object", []byte{amfTypedObject, 0, 1, 'C', 0, 1, 'k', amfNull, 0, 0, amfObjectEnd}, true},
		{"strict array of as many values as bytes", cat(name, strict(3, amfNull, amfNull, amfNull)), true},
		{"strict array one value short", cat(name, strict(4, amfNull, amfNull, amfNull)), false},
		{"strict array of 2^31-1", cat(name, strict(0x7fffffff, amfNull)), false},
		{"strict array of 2^32-1", cat(name, strict(0xffffffff)), false},
		{"huge strict array in an object", cat(name, obj("app", strict(0x7fffffff, amfNull))), false},
		{"huge strict array in a strict array in an ECMA array", cat(name, []byte{amfECMAArray, 0, 0, 0, 1, 0, 1, 'k'},
			strict(1), strict(0x40000000, amfNull, amfNull), []byte{0, 0, amfObjectEnd}), false},
		{"ECMA array with a wrong but possible count", cat(name, []byte{amfECMAArray, 0, 0, 0, 2, 0, 1, 'k', amfNull, 0, 0, amfObjectEnd}), true},
		{"ECMA array of 2^31-1 entries", cat(name, []byte{amfECMAArray, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'k', amfNull, 0, 0, amfObjectEnd}), false},
		{"object without end marker at the end", cat(name, []byte{amfObject, 0, 1, 'k', amfNull}), true},
		{"object cut inside a name", cat(name, []byte{amfObject, 0, 5, 'k'}), false},
		{"long string of 2^32-1 bytes", cat(name, []byte{amfLongString}, u32be(0xffffffff), []byte("abc")), false},
		{"string longer than the body", cat(name, []byte{amfString, 0xff, 0xff, 'a'}), false},
		{"truncated number", []byte{amfNumber, 1, 2}, false},
		{"16 nested objects", cat(name, nestedObjects(16)), true},
		{"17 nested objects", cat(name, nestedObjects(17)), false},
		{"deep strict arrays", cat(name, bytes.Repeat(strict(1), 100), null), false},
		{"AMF3 switch marker", cat(name, []byte{0x11, 0x01}), false},
		{"movieclip marker", cat(name, []byte{0x04}), false},
		{"object end as a value", []byte{amfObjectEnd}, false},
	}
}

func TestValidateAMF0(t *testing.T) {
	for _, c := range amfCases(t) {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateAMF0(c.body)
			if (err == nil) != c.ok {
				t.Fatalf("ok=%v err=%v", c.ok, err)
			}
			if err != nil && !errors.Is(err, ErrInvalidAMF0) {
				t.Fatalf("error %v does not wrap ErrInvalidAMF0", err)
			}
			if c.ok {
				if n := testing.AllocsPerRun(10, func() { _ = ValidateAMF0(c.body) }); n != 0 {
					t.Fatalf("%v allocations", n)
				}
			}
		})
	}
}

// decodeAllAlloc decodes body with go-amf0 as go-rtmp does for a command or data
// message it does not know (every value into an interface{} until the first error)
// and returns the bytes allocated meanwhile.
func decodeAllAlloc(body []byte) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	func() {
		defer func() { _ = recover() }() // a go-amf0 panic is recovered by go-rtmp's loop
		dec := amf0.NewDecoder(bytes.NewReader(body))
		for {
			var v any
			if err := dec.Decode(&v); err != nil {
				return
			}
		}
	}()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocBound is what go-amf0 may allocate for a body ValidateAMF0 accepted: linear
// in its length (measured: about 40 bytes per byte of nulls in strict arrays).
func allocBound(n int) uint64 { return 256*uint64(n) + 1<<20 }

// TestGoAMF0AllocatesDeclaredLength shows the bug ValidateAMF0 guards against, with
// a count small enough to be harmless: go-amf0 v0.1.0 allocates 2^22 slots (64 MiB)
// for a 6-byte strict array. With 2^31-1 it asks for 32 GiB, a fatal out-of-memory.
func TestGoAMF0AllocatesDeclaredLength(t *testing.T) {
	body := cat([]byte{amfStrictArray}, u32be(1<<22), []byte{amfNull})
	if err := ValidateAMF0(body); err == nil {
		t.Fatal("accepted")
	}
	got := decodeAllAlloc(body)
	if got < 1<<22*16 {
		t.Fatalf("go-amf0 allocated only %d bytes for a 6-byte body: it no longer preallocates "+
			"(after an upgrade: keep the guard, drop this test)", got)
	}
	t.Logf("go-amf0 allocated %d MiB for a 6-byte body", got>>20)
}

// FuzzValidateAMF0: whatever ValidateAMF0 accepts, go-amf0 decodes with allocations
// linear in the body's length.
func FuzzValidateAMF0(f *testing.F) {
	for _, c := range amfCases(f) {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if ValidateAMF0(b) != nil {
			return
		}
		if got := decodeAllAlloc(b); got > allocBound(len(b)) {
			t.Fatalf("go-amf0 allocated %d bytes for %d accepted bytes", got, len(b))
		}
	})
}

func TestValidatedDecodeIsBounded(t *testing.T) {
	// the worst case for go-amf0 per byte: strict arrays of nulls and nested arrays
	worst := cat([]byte{amfStrictArray}, u32be(60000), bytes.Repeat([]byte{amfNull}, 60000))
	nested := bytes.Repeat(cat([]byte{amfStrictArray}, u32be(2), []byte{amfNull}), 10)
	nested = append(nested, bytes.Repeat([]byte{amfNull}, 11)...)
	for _, b := range [][]byte{worst, nested} {
		if err := ValidateAMF0(b); err != nil {
			t.Fatal(err)
		}
		got := decodeAllAlloc(b)
		if got > allocBound(len(b)) {
			t.Fatalf("go-amf0 allocated %d bytes for %d accepted bytes", got, len(b))
		}
		t.Logf("%d bytes accepted: go-amf0 allocated %d bytes (%.1f per byte)", len(b), got, float64(got)/float64(len(b)))
	}
}

func BenchmarkValidateAMF0(b *testing.B) {
	for _, c := range amfCases(b) {
		if !c.ok || len(c.body) < 50 {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := ValidateAMF0(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
