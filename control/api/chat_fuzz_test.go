package api

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/storage"
)

// FuzzChatMessageRequest feeds arbitrary bodies to the admin message decoder and
// validator: no panic, every refusal is an apiError, and an accepted message
// respects the limits.
func FuzzChatMessageRequest(f *testing.F) {
	for _, seed := range []string{
		`{"messageType":"MESSAGE","customType":"MSG","message":"Foo","data":{"foo":"bar"},"appUserIds":["1","2"]}`,
		`{"messageType":"DM","appUserIds":["1","1"]}`,
		`{"messageType":"COMMAND","data":null}`,
		`{"messageType":"MESSAGE","data":[1]}`,
		`{"messageType":"","appUserIds":[null]}`,
		`{"data":{"a":{"b":[1,2,{"c":"\u00e9"}]}}}`,
		`{`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed), true)
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, broadcast bool) {
		d := chat.Direct
		if broadcast {
			d = chat.Broadcast
		}
		var req sendChatMessageRequest
		err := request.DecodeJSON(body, &req)
		if err == nil {
			var got storageChatMessage
			draft := req.draft()
			if got, err = draft.Validate(d); err == nil {
				checkAcceptedChatMessage(t, d, got.Type, got.CustomType, got.Data, got.Receivers)
			}
		}
		var ae control.APIError
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error %v is not an apiError", err)
		}
	})
}

// storageChatMessage shortens the fuzz target.
type storageChatMessage = storage.ChatMessage

// checkAcceptedChatMessage asserts the limits of an accepted message.
func checkAcceptedChatMessage(t *testing.T, d chat.Delivery, typ, customType string, data json.RawMessage, receivers []string) {
	t.Helper()
	if !chat.MessageType(typ).AllowedFor(d) {
		t.Fatalf("type %q accepted for %s", typ, d)
	}
	if utf8.RuneCountInString(customType) > request.MaxCustomTypeLen || len(data) > chat.MaxDataBytes {
		t.Fatalf("limits exceeded: customType %q, data %d bytes", customType, len(data))
	}
	if data != nil && (!json.Valid(data) || data[0] != '{') {
		t.Fatalf("data %q is not a JSON object", data)
	}
	if d == chat.Direct && len(receivers) == 0 {
		t.Fatal("direct message without receivers")
	}
	seen := map[string]bool{}
	for _, r := range receivers {
		if r == "" || seen[r] {
			t.Fatalf("receivers %q", receivers)
		}
		seen[r] = true
	}
}
