package objstore

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// DefaultRegion is the region when the URL names none.
const DefaultRegion = "us-east-1"

// Config says where the objects are. ParseURL makes one from the --object-store
// URL; String gives that URL back (it holds no secrets).
type Config struct {
	Bucket string
	// Prefix is prepended to every key: "" or a slash path ending in "/"
	// ("recordings/").
	Prefix string
	// Endpoint is the server's host[:port], without scheme.
	Endpoint string
	// Secure is true for https.
	Secure bool
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// instead of the host name (http://bucket.host/key).
	PathStyle bool
}

// ParseURL parses the --object-store URL:
//
//	s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=us-east-1[&pathStyle=true]
//
// endpoint is optional (default AWS, https://s3.<region>.amazonaws.com, addressed
// virtual-host style); its scheme, http or https, decides TLS. region defaults to
// us-east-1. Path-style addressing is the default when an endpoint is given;
// pathStyle=true|false overrides it.
func ParseURL(s string) (Config, error) {
	fail := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("object store URL %q: %s", redact(s), fmt.Sprintf(format, args...))
	}
	if s == "" {
		return fail("empty (want s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=REGION)")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%v", err)
	}
	if u.Scheme != "s3" {
		return fail("scheme must be s3:// (want s3://BUCKET[/PREFIX]?endpoint=…)")
	}
	if u.User != nil {
		return fail("credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if u.Opaque != "" || u.Host == "" {
		return fail("no bucket (want s3://BUCKET[/PREFIX])")
	}
	if u.Port() != "" || strings.Contains(u.Host, ":") {
		return fail("%q is not a bucket name: the server goes in ?endpoint=http://host:port", u.Host)
	}
	if u.Fragment != "" {
		return fail("unexpected fragment #%s", u.Fragment)
	}
	c := Config{Bucket: u.Host}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return fail("bucket %q: %v", c.Bucket, err)
	}
	if c.Prefix, err = parsePrefix(u.Path); err != nil {
		return fail("%v", err)
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("query: %v", err)
	}
	var endpoint, pathStyle string
	for k, v := range q {
		if len(v) != 1 {
			return fail("parameter %s given %d times", k, len(v))
		}
		switch k {
		case "endpoint":
			endpoint = v[0]
		case "region":
			c.Region = v[0]
			if c.Region == "" {
				return fail("empty region")
			}
		case "pathStyle":
			pathStyle = v[0]
		default:
			return fail("unknown parameter %q (known: endpoint, region, pathStyle)", k)
		}
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if endpoint == "" {
		if _, given := q["endpoint"]; given {
			return fail("empty endpoint")
		}
		c.Endpoint, c.Secure = "s3."+c.Region+".amazonaws.com", true
	} else {
		if c.Endpoint, c.Secure, err = parseEndpoint(endpoint); err != nil {
			return fail("%v", err)
		}
		c.PathStyle = true
	}
	if pathStyle != "" {
		if c.PathStyle, err = strconv.ParseBool(pathStyle); err != nil {
			return fail("pathStyle=%q: want true or false", pathStyle)
		}
	}
	return c, nil
}

// parsePrefix turns the URL path into a prefix: "" or segments ending in "/".
func parsePrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("prefix %q: empty, . or .. segment", p)
		}
	}
	return p + "/", nil
}

// parseEndpoint checks an endpoint URL (http or https, a host, nothing else) and
// returns its host[:port] and whether it is TLS.
func parseEndpoint(s string) (hostPort string, secure bool, err error) {
	e, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("endpoint %q: want http://host[:port] or https://host[:port]", s)
	}
	switch e.Scheme {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, fmt.Errorf("endpoint %q: want http://host[:port] or https://host[:port]", s)
	}
	if e.Host == "" || e.Hostname() == "" {
		return "", false, fmt.Errorf("endpoint %q: no host", s)
	}
	if e.User != nil || (e.Path != "" && e.Path != "/") || e.RawQuery != "" || e.Fragment != "" {
		return "", false, fmt.Errorf("endpoint %q: want only scheme, host and port (no path, query or user)", s)
	}
	if p := e.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false, fmt.Errorf("endpoint %q: bad port %q", s, p)
		}
	} else if strings.HasSuffix(e.Host, ":") {
		return "", false, fmt.Errorf("endpoint %q: empty port", s)
	}
	return e.Host, secure, nil
}

// String returns the configuration as an s3:// URL that ParseURL reads back to
// the same Config. It holds no secrets (credentials never are in a Config).
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("s3://")
	b.WriteString(c.Bucket)
	if c.Prefix != "" {
		b.WriteString("/")
		b.WriteString((&url.URL{Path: c.Prefix}).EscapedPath())
	}
	scheme := "http"
	if c.Secure {
		scheme = "https"
	}
	q := url.Values{}
	q.Set("endpoint", scheme+"://"+c.Endpoint)
	q.Set("region", c.Region)
	q.Set("pathStyle", strconv.FormatBool(c.PathStyle))
	b.WriteString("?")
	b.WriteString(q.Encode())
	return b.String()
}

// baseURL is the endpoint as a URL, for messages.
func (c Config) baseURL() string {
	if c.Secure {
		return "https://" + c.Endpoint
	}
	return "http://" + c.Endpoint
}

// redact hides a password in a URL given by mistake, for the error message.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
