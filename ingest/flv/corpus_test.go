package flv

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var writeCorpus = flag.Bool("write-corpus", false, "write the fuzz seed corpus to testdata/fuzz")

// TestWriteFuzzCorpus (go test -run TestWriteFuzzCorpus -write-corpus) writes the
// committed seed corpus: the first tags of every testdata file, the hand-made
// Enhanced RTMP cases and the AMF0 cases, one file per input in the "go test fuzz
// v1" format.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to regenerate testdata/fuzz")
	}
	write := func(target string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%x", sha256.Sum256(b))[:16]
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tg := range seedTags(t) {
		one := append([]byte{tg.Type}, binary.BigEndian.AppendUint16(nil, uint16(len(tg.Data)))...)
		write("FuzzDemuxer", append(one, tg.Data...))
		if len(tg.Data) > 5 {
			write("FuzzConfig", tg.Data[5:])
		}
	}
	write("FuzzConfig", opusHead)
	for _, c := range amfCases(t) {
		write("FuzzValidateAMF0", c.body)
	}
}
