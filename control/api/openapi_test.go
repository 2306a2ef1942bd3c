package api

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
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
