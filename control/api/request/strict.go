package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Unknown fields are refused, not ignored: an integrator who sends a field
// Roomcast does not have (a misspelling, a setting of another product) must learn
// that it took no effect. checkFields walks the JSON body against the Go type it
// is decoded into and names the first object member that type does not declare,
// with its path ("autoEnd.foo", "items[2].foo"). Names match exactly (encoding/json
// alone would also take "TITLE" for "title"), and a member given twice is refused
// (encoding/json would keep the last one silently). Types with their own
// UnmarshalJSON (CustomDataIn, json.RawMessage) check their own contents.

// unknownFieldError is an object member the target type does not declare.
type unknownFieldError struct {
	path      string
	duplicate bool
}

func (e *unknownFieldError) Error() string {
	if e.duplicate {
		return "duplicate field " + strconv.Quote(e.path)
	}
	return "unknown field " + strconv.Quote(e.path)
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	anyType         = reflect.TypeFor[any]()
	// structFields caches fieldsOf: reflect.Type → map[string]reflect.Type.
	structFields sync.Map
)

// checkFields returns an *unknownFieldError for the first member of data that
// t does not declare. Any other error (malformed JSON) is for the decoder to
// report: callers decode data afterwards.
func checkFields(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are not converted: no range errors here
	return walkValue(dec, t, "")
}

// walkValue reads the next JSON value of dec as a value of type t. Values whose
// type has no members to check are skipped whole (encoding/json bounds their
// nesting), so the recursion is as deep as the Go type, not as the input.
func walkValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return skipValue(dec)
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array:
	default:
		return skipValue(dec)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, t, path)
	case json.Delim('['):
		elem := anyType
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return nil // a scalar: its type is the decoder's business
}

// walkObject reads the members of an object whose '{' was read, as a value of
// type t: a struct's members must be its fields, once each; a map takes any
// name; other types are refused by the decoder, their members skipped here.
func walkObject(dec *json.Decoder, t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var seen map[string]bool
	if t.Kind() == reflect.Struct {
		fields, seen = fieldsOf(t), map[string]bool{}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		sub := joinPath(path, name)
		elem := anyType
		switch {
		case fields != nil:
			ft, ok := fields[name]
			if !ok {
				return &unknownFieldError{path: sub}
			}
			if seen[name] {
				return &unknownFieldError{path: sub, duplicate: true}
			}
			seen[name], elem = true, ft
		case t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		if err := walkValue(dec, elem, sub); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// skipValue reads the next JSON value of dec whole.
func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	return dec.Decode(&raw)
}

// joinPath appends member name to path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldsOf returns the JSON member names of struct type t and their types, as
// encoding/json reads them: the tag's name or the field's, untagged embedded
// structs flattened, unexported and "-" fields left out.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := structFields.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	addFields(m, t, 0)
	structFields.Store(t, m)
	return m
}

// addFields adds the fields of struct t to m (depth guards recursive embedding).
func addFields(m map[string]reflect.Type, t reflect.Type, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			if depth < 8 {
				addFields(m, ft, depth+1)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, ok := m[name]; !ok || depth == 0 {
			m[name] = f.Type
		}
	}
}

// asUnknownField reports whether err names an unknown or repeated member.
func asUnknownField(err error) (*unknownFieldError, bool) {
	var u *unknownFieldError
	ok := errors.As(err, &u)
	return u, ok
}
