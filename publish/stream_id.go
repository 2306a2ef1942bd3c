package publish

import (
	"fmt"
	"strconv"
)

// StreamID identifies a publishing stream: the ID of its stream key. Its decimal
// String is the key of the live stream in the hub registry and the packager.
type StreamID uint64

// String returns the decimal ID.
func (id StreamID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseStreamID parses a decimal StreamID (as String writes it).
func ParseStreamID(s string) (StreamID, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stream id %q: %w", s, err)
	}
	return StreamID(v), nil
}
