package request

import (
	"errors"
	"testing"

	"github.com/roomcast/roomcast/control"
)

func FuzzDecodeCreateRoom(f *testing.F) {
	f.Add([]byte(`{"appUserId":"a","type":"BROADCAST_RTMP","scheduledAt":"2025-01-01T00:00:00Z","customData":{"a":"b"}}`))
	f.Add([]byte(`{"type":"WEBINAR","customData":{"a":1}}`))
	f.Add([]byte(`{"customData":null}`))
	f.Add([]byte(`{"type":"WEBINAR","customRoomId":"x","autoEnd":{"inactiveSeconds":5,"foo":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req CreateRoom
		if err := DecodeJSON(data, &req); err != nil {
			if !errors.Is(err, control.ErrInvalidRequest) {
				t.Fatalf("decode error %v is not INVALID_REQUEST", err)
			}
			return
		}
		if _, err := req.Validate(true); err != nil {
			var ae control.APIError
			if !errors.As(err, &ae) || ae.Status() != 400 {
				t.Fatalf("validate error %v is not a 400 apiError", err)
			}
		}
	})
}
