package flv

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReadFileTestdata(t *testing.T) {
	for _, name := range []string{"h264_aac.flv", "h264.flv", "aac.flv"} {
		t.Run(name, func(t *testing.T) {
			tags, err := ReadFile("../../testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if len(tags) < 100 {
				t.Fatalf("only %d tags", len(tags))
			}
			last := tags[len(tags)-1].Timestamp
			if last < 9000 || last > 11000 {
				t.Fatalf("last timestamp %d ms, want ~10 s", last)
			}
		})
	}
}

func TestWriterReaderRoundTrip(t *testing.T) {
	in := []Tag{
		{Type: TagVideo, Timestamp: 0, Data: []byte{0x17, 0, 0, 0, 0}},
		{Type: TagAudio, Timestamp: 0x01020304, Data: []byte{0xaf, 1, 2}},
		{Type: TagScript, Timestamp: 5, Data: nil},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, true, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range in {
		if err := w.Write(tag); err != nil {
			t.Fatal(err)
		}
	}
	full := buf.Bytes()
	r, err := NewReader(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasAudio || !r.HasVideo {
		t.Fatal("flags lost")
	}
	for i, want := range in {
		got, err := r.Next()
		if err != nil {
			t.Fatal(i, err)
		}
		if got.Type != want.Type || got.Timestamp != want.Timestamp || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("tag %d: got %+v want %+v", i, got, want)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %v", err)
	}
	// truncated in the middle of the last tag body
	r, _ = NewReader(bytes.NewReader(full[:len(full)-6]))
	var err2 error
	for err2 == nil {
		_, err2 = r.Next()
	}
	if !errors.Is(err2, io.ErrUnexpectedEOF) {
		t.Fatalf("want ErrUnexpectedEOF, got %v", err2)
	}
	if _, err := NewReader(bytes.NewReader([]byte("GIF89a..........."))); !errors.Is(err, ErrNotFLV) {
		t.Fatalf("want ErrNotFLV, got %v", err)
	}
}
