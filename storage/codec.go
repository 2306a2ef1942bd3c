package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// All record encoding and key layout lives in this file; see doc.go for the table.

// u64 encodes v as an 8-byte big-endian key, so that keys sort numerically.
func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// btoi decodes an 8-byte big-endian value; anything shorter decodes as 0.
func btoi(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// pair encodes two big-endian uint64 values: 16 bytes.
func pair(a, b uint64) []byte {
	k := make([]byte, 0, 16)
	k = binary.BigEndian.AppendUint64(k, a)
	return binary.BigEndian.AppendUint64(k, b)
}

// triple encodes three big-endian uint64 values: 24 bytes.
func triple(a, b, c uint64) []byte {
	k := make([]byte, 0, 24)
	k = binary.BigEndian.AppendUint64(k, a)
	k = binary.BigEndian.AppendUint64(k, b)
	return binary.BigEndian.AppendUint64(k, c)
}

// appString encodes an app ID followed by the raw bytes of s.
func appString(appID uint64, s string) []byte {
	k := make([]byte, 0, 8+len(s))
	k = binary.BigEndian.AppendUint64(k, appID)
	return append(k, s...)
}

// getJSON decodes the record kind with the given ID from b into v. It returns
// ErrNotFound (wrapped with kind and id) when the record is absent. The error
// text is built only on failure: lookups are the hot path.
func getJSON(b bucket, id uint64, v any, kind string) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], id)
	data := b.Get(key[:])
	if data == nil {
		return &notFoundError{kind, id}
	}
	if err := decodeJSON(data, v, kind); err != nil {
		return fmt.Errorf("%s %d: %w", kind, id, err)
	}
	return nil
}

// decodeJSON decodes a stored record; bbolt memory is not retained.
func decodeJSON(data []byte, v any, what string) error {
	if err := json.Unmarshal(data, v); err != nil {
		// What was stored was encoded by putJSON: bytes that do not decode are damage.
		return fmt.Errorf("decode %s: %w: %w", what, ErrCorrupt, err)
	}
	return nil
}

// putJSON encodes v and stores it under key in b.
func putJSON(b bucket, key []byte, v any, what string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if err := b.Put(key, data); err != nil {
		return fmt.Errorf("put %s: %w", what, err)
	}
	return nil
}
