package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"

	"github.com/roomcast/roomcast/control/api/request"
)

// openAPIOperations lists "METHOD /path" of every operation in the document
// (paths at two spaces of indent, methods at four).
func openAPIOperations(t *testing.T, doc []byte) []string {
	t.Helper()
	pathRe := regexp.MustCompile(`^  (/[^:]*):\s*$`)
	methodRe := regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):`)
	var ops []string
	inPaths, cur := false, ""
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inPaths = false
		case !inPaths:
		case pathRe.MatchString(line):
			cur = pathRe.FindStringSubmatch(line)[1]
		case methodRe.MatchString(line):
			ops = append(ops, strings.ToUpper(methodRe.FindStringSubmatch(line)[1])+" "+cur)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPIMatchesRoutes keeps openapi.yaml and the echo routes in step.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, nil)
	ec := echo.New()
	e.api.Register(ec)
	param := regexp.MustCompile(`:(\w+)`)
	var routes []string
	for _, r := range ec.Routes() {
		routes = append(routes, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(routes)
	routes = slices.Compact(routes)
	ops := openAPIOperations(t, openAPIDoc)
	for _, r := range routes {
		if _, found := slices.BinarySearch(ops, r); !found {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, op := range ops {
		if _, found := slices.BinarySearch(routes, op); !found {
			t.Errorf("openapi.yaml documents %s, which is not registered", op)
		}
	}
	if len(ops) < 30 {
		t.Fatalf("only %d operations parsed", len(ops))
	}
}

// TestOpenAPIRefs checks that every $ref points at a defined component.
func TestOpenAPIRefs(t *testing.T) {
	refs := regexp.MustCompile(`#/components/(\w+)/(\w+)`).FindAllSubmatch(openAPIDoc, -1)
	for _, m := range refs {
		section, name := string(m[1]), string(m[2])
		sec := bytes.Index(openAPIDoc, []byte("\n  "+section+":\n"))
		if sec < 0 {
			t.Fatalf("components section %s missing", section)
		}
		rest := openAPIDoc[sec+len(section)+4:]
		if end := regexp.MustCompile(`\n  \w`).FindIndex(rest); end != nil {
			rest = rest[:end[0]]
		}
		if !regexp.MustCompile(`\n    ` + name + `:`).Match(rest) {
			t.Errorf("$ref #/components/%s/%s is not defined", section, name)
		}
	}
	if !bytes.HasPrefix(openAPIDoc, []byte("openapi: 3.")) || bytes.Contains(openAPIDoc, []byte("\t")) {
		t.Fatal("not an OpenAPI 3 YAML document without tabs")
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, nil)
	r := e.must(http.StatusOK, "GET", "/openapi.yaml", "", nil)
	if !bytes.Equal(r.Body, openAPIDoc) || !strings.Contains(r.Header.Get("Content-Type"), "yaml") {
		t.Fatalf("served %d bytes, %s", len(r.Body), r.Header.Get("Content-Type"))
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "M")
	e.must(200, "GET", roomPath(room), app, nil)
	e.do("GET", "/v2/apps/me/video-rooms/999", app, nil)
	e.do("GET", "/no/such/path/1", "", nil)
	e.do("GET", "/no/such/path/2", "", nil)
	res, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`roomcast_http_requests_total{method="GET",route="/v2/apps/me/video-rooms/:id",status="200"} 1`,
		`roomcast_http_requests_total{method="GET",route="/v2/apps/me/video-rooms/:id",status="404"} 1`,
		`roomcast_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`roomcast_http_requests_total{method="POST",route="/v2/apps/me/video-rooms",status="201"} 1`,
		`roomcast_http_request_duration_seconds_count{method="GET",route="/v2/apps/me/video-rooms/:id"} 2`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("%s", body)
	}
}

// TestMetricsMethodLabelBounded: made-up request methods share the method label
// "OTHER" (with route "unmatched"), so a scanner cannot grow the label set.
func TestMetricsMethodLabelBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, m := range []string{"FOO", "BAR", "BAZ"} {
		req, _ := http.NewRequest(m, e.srv.URL+"/v2/apps/me/video-rooms", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), `roomcast_http_requests_total{method="OTHER",route="unmatched",status="405"} 3`) ||
		strings.Contains(string(body), `method="FOO"`) {
		t.Fatalf("made-up methods not folded into OTHER:\n%s", body)
	}
}

// openAPIRequestTypes maps the operations with a request body to the Go type its
// body decodes into, and the JSON members of that type the operation refuses
// anyway (they are not in its schema).
var openAPIRequestTypes = map[string]struct {
	typ     reflect.Type
	refused []string
}{
	"onMembersUpsert":          {reflect.TypeFor[upsertMemberRequest](), nil},
	"onMemberTokensCreate":     {reflect.TypeFor[tokensRequest](), nil},
	"onAppVideoRoomsCreate":    {reflect.TypeFor[request.CreateRoom](), nil},
	"onMemberVideoRoomsCreate": {reflect.TypeFor[request.CreateRoom](), []string{"appUserId"}},
	"onChatMembersAdd":         {reflect.TypeFor[addChatMemberRequest](), nil},
	"onChatBroadcast":          {reflect.TypeFor[sendChatMessageRequest](), nil},
	"onChatDirect":             {reflect.TypeFor[sendChatMessageRequest](), nil},
	"onCallbackPut":            {reflect.TypeFor[request.Callback](), nil},
	"onMemberVideoRoomsJoin":   {reflect.TypeFor[joinRequest](), nil},
	"onAppVideoRoomsEnd":       {reflect.TypeFor[endRequest](), nil},
	"onChatForbiddenWordsPut":  {reflect.TypeFor[request.ForbiddenWords](), nil},
	"onChatMemberMute":         {reflect.TypeFor[request.Mute](), nil},
}

// TestOpenAPIRequestSchemas: every request body schema is closed
// (additionalProperties: false, nested objects too, free-form maps excepted) and
// lists exactly the members of the Go type its body decodes into, so the
// document and the strict decoder accept the same fields.
func TestOpenAPIRequestSchemas(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]yaml.Node
		Components struct{ Schemas map[string]*openAPISchema }
	}
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for path, item := range doc.Paths {
		for method, node := range item {
			var op struct {
				OperationID string `yaml:"operationId"`
				RequestBody *struct {
					Content map[string]struct{ Schema *openAPISchema }
				} `yaml:"requestBody"`
			}
			if method == "parameters" {
				continue
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if op.RequestBody == nil {
				continue
			}
			want, ok := openAPIRequestTypes[op.OperationID]
			if !ok {
				t.Errorf("%s %s (%s) has a request body of no known Go type", method, path, op.OperationID)
				continue
			}
			seen[op.OperationID] = true
			s := op.RequestBody.Content["application/json"].Schema
			if ref := strings.TrimPrefix(s.Ref, "#/components/schemas/"); ref != "" {
				s = doc.Components.Schemas[ref]
			}
			checkClosedSchema(t, op.OperationID, s, want.typ, want.refused)
		}
	}
	for id := range openAPIRequestTypes {
		if !seen[id] {
			t.Errorf("%s: no request body in openapi.yaml", id)
		}
	}
	// A SCHEDULED room's streamKey is null (TestRoomStreamKeyOnlyWhileBound).
	if k := doc.Components.Schemas["VideoRoom"].Properties["streamKey"]; k == nil || !k.Nullable {
		t.Error("VideoRoom.streamKey is not nullable")
	}
}

// openAPISchema is the part of a schema object the request check reads.
type openAPISchema struct {
	Ref                  string                    `yaml:"$ref"`
	Type                 string                    `yaml:"type"`
	AdditionalProperties yaml.Node                 `yaml:"additionalProperties"`
	Properties           map[string]*openAPISchema `yaml:"properties"`
	Nullable             bool                      `yaml:"nullable"`
}

// checkClosedSchema checks s against the JSON members of Go type typ (but for
// refused), recursing into object members decoded into structs.
func checkClosedSchema(t *testing.T, where string, s *openAPISchema, typ reflect.Type, refused []string) {
	t.Helper()
	if s == nil || s.Type != "object" {
		t.Errorf("%s: not an object schema", where)
		return
	}
	if s.AdditionalProperties.Value != "false" {
		t.Errorf("%s: additionalProperties is not false", where)
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	fields := map[string]reflect.Type{}
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "-" && !slices.Contains(refused, name) {
			fields[name] = f.Type
		}
	}
	for name := range s.Properties {
		if _, ok := fields[name]; !ok {
			t.Errorf("%s: schema property %s is not a member of %s", where, name, typ)
		}
	}
	unmarshaler := reflect.TypeFor[json.Unmarshaler]()
	for name, ft := range fields {
		p, ok := s.Properties[name]
		if !ok {
			t.Errorf("%s: member %s of %s is not in the schema", where, name, typ)
			continue
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(unmarshaler) {
			checkClosedSchema(t, where+"."+name, p, ft, nil)
		}
	}
}
