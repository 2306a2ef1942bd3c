package request

import (
	"errors"
	"strings"
	"testing"

	"github.com/roomcast/roomcast/control"
)

// strictTarget has every shape checkFields walks: nested structs (by pointer and
// by value), slices of structs, maps of structs, a type with its own UnmarshalJSON,
// an embedded struct, a renamed and an ignored field.
type strictTarget struct {
	Name    *string               `json:"name"`
	AutoEnd *control.AutoEndJSON  `json:"autoEnd"`
	Items   []strictItem          `json:"items"`
	ByName  map[string]strictItem `json:"byName"`
	Custom  CustomDataIn          `json:"customData"`
	Any     any                   `json:"any"`
	Skipped string                `json:"-"`
	strictEmbedded
}

type strictItem struct {
	ID int `json:"id"`
}

type strictEmbedded struct {
	Flat string `json:"flat"`
}

// strictCases is shared by TestStrictDecoding and the fuzz seeds: want is the
// message of the refusal, "" when the body is accepted.
var strictCases = []struct {
	name, body, want string
}{
	{"known", `{"name":"a","autoEnd":{"inactiveSeconds":5},"items":[{"id":1}],"byName":{"x":{"id":2}},"flat":"f"}`, ""},
	{"empty object", `{}`, ""},
	{"nulls", `{"name":null,"autoEnd":null,"items":null,"byName":null,"customData":null}`, ""},
	{"free-form any", `{"any":{"whatever":[{"deep":1}]}}`, ""},
	{"custom type checks itself", `{"customData":{"customRoomId":"x"}}`, ""},
	{"top level", `{"name":"a","customRoomId":"x"}`, `unknown field "customRoomId"`},
	{"first in order", `{"zz":1,"aa":2}`, `unknown field "zz"`},
	{"nested", `{"autoEnd":{"inactiveSeconds":5,"foo":1}}`, `unknown field "autoEnd.foo"`},
	{"in a slice", `{"items":[{"id":1},{"id":2,"foo":1}]}`, `unknown field "items[1].foo"`},
	{"in a map value", `{"byName":{"k":{"foo":1}}}`, `unknown field "byName.k.foo"`},
	{"other case", `{"NAME":"a"}`, `unknown field "NAME"`},
	{"go field name", `{"Name":"a"}`, `unknown field "Name"`},
	{"ignored field", `{"Skipped":"a"}`, `unknown field "Skipped"`},
	{"dash name", `{"-":"a"}`, `unknown field "-"`},
	{"duplicate", `{"name":"a","name":"b"}`, `duplicate field "name"`},
	{"nested duplicate", `{"autoEnd":{"inactiveSeconds":1,"inactiveSeconds":2}}`, `duplicate field "autoEnd.inactiveSeconds"`},
	{"after a wrong type", `{"autoEnd":[1,{"foo":1}],"foo":1}`, `unknown field "foo"`},
	{"huge number where an object goes", `{"autoEnd":1e999,"x":1}`, `unknown field "x"`},
}

func TestStrictDecoding(t *testing.T) {
	for _, tc := range strictCases {
		t.Run(tc.name, func(t *testing.T) {
			var v strictTarget
			err := DecodeJSON([]byte(tc.body), &v)
			var ae control.APIError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case !errors.As(err, &ae) || ae.Status() != 400 || ae.Code() != "INVALID_REQUEST":
				t.Fatalf("error %v, want 400 INVALID_REQUEST", err)
			case ae.Message() != tc.want:
				t.Fatalf("message %q, want %q", ae.Message(), tc.want)
			}
		})
	}
}

// TestStrictDecodingKeepsDecoderErrors: malformed bodies are still answered by
// the decoder (checkFields leaves them to it), whatever comes after the error.
func TestStrictDecodingKeepsDecoderErrors(t *testing.T) {
	for _, body := range []string{`{"name":`, `{"name":"a"} {"foo":1}`, `{"name":1}`, `{"items":{"foo":1}}`, `[{"foo":1}]`, `{"name" "a","foo":1}`} {
		var v strictTarget
		err := DecodeJSON([]byte(body), &v)
		var ae control.APIError
		if !errors.As(err, &ae) || ae.Code() != "INVALID_REQUEST" {
			t.Fatalf("%s: error %v, want INVALID_REQUEST", body, err)
		}
		if strings.Contains(ae.Message(), "unknown field") {
			t.Errorf("%s: %q names a field, want the decoder's error", body, ae.Message())
		}
	}
}

// TestMemberCreateRoomRefusesAppUserID: the Member API's owner is the member; an
// appUserId there would be ignored, so it is an unknown field.
func TestMemberCreateRoomRefusesAppUserID(t *testing.T) {
	var r CreateRoom
	if err := DecodeJSON([]byte(`{"appUserId":"x","type":"WEBINAR"}`), &r); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Validate(true); err != nil {
		t.Fatalf("App API: %v", err)
	}
	_, err := r.Validate(false)
	var ae control.APIError
	if !errors.As(err, &ae) || ae.Message() != `unknown field "appUserId"` {
		t.Fatalf("Member API: %v", err)
	}
}

func FuzzStrictDecoding(f *testing.F) {
	for _, tc := range strictCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v strictTarget
		err := DecodeJSON(data, &v)
		if err != nil && !errors.Is(err, control.ErrInvalidRequest) {
			t.Fatalf("decode error %v is not INVALID_REQUEST", err)
		}
	})
}
