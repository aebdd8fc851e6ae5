package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// fuzzRoutes is the route table of FuzzRouteMatch, in match order: exact
// hosts, wildcards, hosts listed together, prefixes and paths that the
// index files by first segment and others, methods and headers,
// with routes that share hosts so that the index must merge candidates
// from several lists.
var fuzzRoutes = []config.RouteConfig{
	{Name: "api-v1", Hosts: []string{"api.example.com"}, PathPrefix: "/v1/"},
	{Name: "wild-post", Hosts: []string{"*.example.com"}, Methods: []string{"POST"}},
	{Name: "api", Hosts: []string{"api.example.com"}},
	{Name: "static", PathPrefix: "/static/"},
	{Name: "ipv6", Hosts: []string{"[::1]"}, PathPrefix: "/"},
	{Name: "canary", Headers: []config.HeaderField{{Name: "X-Canary", Value: "always"}}},
	{Name: "deep-wild", Hosts: []string{"*.b.example.com", "other.example"}, Path: "/exact"},
	{Name: "wild", Hosts: []string{"*.example.com"}},
	{Name: "secure", Hosts: []string{"secure.example.com"}, PathPrefix: "/"},
	{Name: "get", Methods: []string{"GET", "HEAD"}, PathPrefix: "/g"},
	{Name: "exact-any", Path: "/e"},
	{Name: "deep-any", PathPrefix: "/static/deep/", Methods: []string{"PUT"}},
	{Name: "rest", PathPrefix: "/"},
	{Name: "other", Hosts: []string{"other.example"}},
}

// fuzzTable compiles fuzzRoutes, each to a pool named after it.
func fuzzTable() *routeTable {
	return compileRoutes(fuzzRoutes, func(name string) *pool { return &pool{name: name} }, nil)
}

// referenceStripPort is stripPort written plainly: a trailing ":" followed
// by nothing but digits goes.
func referenceStripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return host
	}
	for _, c := range host[i+1:] {
		if c < '0' || c > '9' {
			return host
		}
	}
	return host[:i]
}

// referenceMatch is routeTable.match written plainly, without an index:
// the first route in order whose host equals the port-less host, without
// one trailing dot, ASCII case ignored, or ends in the suffix of its
// wildcard, or that has no host, and whose path, methods and headers
// match.
func referenceMatch(host, path, method string, header map[string]string) string {
	host = referenceStripPort(host)
	if len(host) > 1 {
		host = strings.TrimSuffix(host, ".")
	}
	lower := []byte(host)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	host = string(lower)
	for _, r := range fuzzRoutes {
		hostOK := len(r.Hosts) == 0
		for _, h := range r.Hosts {
			if suffix, ok := strings.CutPrefix(h, "*"); ok {
				hostOK = hostOK || len(host) > len(suffix) && strings.HasSuffix(host, suffix)
			} else {
				hostOK = hostOK || h == host
			}
		}
		pathOK := strings.HasPrefix(path, r.PathPrefix)
		if r.Path != "" {
			pathOK = path == r.Path
		}
		methodOK := len(r.Methods) == 0 || slices.Contains(r.Methods, method)
		headersOK := true
		for _, h := range r.Headers {
			headersOK = headersOK && header[strings.ToLower(h.Name)] == h.Value
		}
		if hostOK && pathOK && methodOK && headersOK {
			return r.Name
		}
	}
	return ""
}

// mapHeader is a [headerReader] over a map by lowercase name.
type mapHeader map[string]string

func (m mapHeader) Peek(name string) []byte { return []byte(m[strings.ToLower(name)]) }

func FuzzRouteMatch(f *testing.F) {
	for _, seed := range []struct{ host, path, method, canary string }{
		{"api.example.com", "/v1/users", "GET", ""},
		{"API.Example.COM:8443", "/v1", "POST", ""},
		{"api.example.com:", "/v2/", "GET", ""},
		{"api.example.com.", "/v1/", "GET", ""},
		{"api.example.com.:443", "/v1/", "GET", ""},
		{"api.example.com..", "/v1/", "GET", ""},
		{"x.b.example.com", "/exact", "GET", ""},
		{"b.example.com", "/exact", "GET", ""},
		{".example.com", "/", "GET", ""},
		{"example.com", "/", "GET", "always"},
		{"other.example", "/exact", "PUT", ""},
		{".", "/", "GET", ""},
		{"[::1]:8080", "/x", "GET", ""},
		{"[::1]", "", "GET", ""},
		{"::1", "/", "GET", ""},
		{"secure.example.com:80:80", "/", "GET", ""},
		{"", "/static/app.js", "GET", ""},
		{"nowhere", "relative", "HEAD", ""},
		{"", "", "", ""},
		{strings.Repeat("a.", 130) + "example.com", "/", "GET", ""},
	} {
		f.Add([]byte(seed.host), []byte(seed.path), []byte(seed.method), seed.canary)
	}
	t := fuzzTable()
	f.Fuzz(func(tt *testing.T, host, path, method []byte, canary string) {
		header := mapHeader{"x-canary": canary}
		want := referenceMatch(string(host), string(path), string(method), header)
		got := ""
		if r := t.match(&routeRequest{host: host, path: path, method: method, header: header}); r != nil {
			got = r.label
		}
		if got != want {
			tt.Fatalf("match(%q, %q, %q, X-Canary %q) = %q, want %q", host, path, method, canary, got, want)
		}
	})
}

func FuzzStripPort(f *testing.F) {
	for _, seed := range []string{"example.com", "example.com:80", "example.com:", ":", "[::1]:443", "[::1]", "::1", "1234", "a:b:80", "x:8o"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, host []byte) {
		in := string(host)
		got := string(stripPort(host))
		if want := referenceStripPort(in); got != want {
			t.Fatalf("stripPort(%q) = %q, want %q", in, got, want)
		}
		if !strings.HasPrefix(in, got) {
			t.Fatalf("stripPort(%q) = %q, not a prefix", in, got)
		}
	})
}

// FuzzRequest sends arbitrary bytes to a gateway as a request and checks
// that it neither panics nor hangs, and that whatever comes back is an
// HTTP response, or nothing at all before the connection closes.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"HEAD / HTTP/1.0\r\n\r\n",
		"GET http://other/x HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x00\x01garbage\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	f.Cleanup(backend.Close)
	g := New(Options{})
	cfg := strings.Replace(poolConfig("round_robin", "    responseHeaderTimeout: 2s\n", backend.URL), "listen: 127.0.0.1:0\n",
		"listen: 127.0.0.1:0\nmaxBodySize: 4096\nmaxHeaderBytes: 4096\nclientHeaderTimeout: 2s\n", 1)
	if _, err := g.Load("fuzz.yaml", []byte(cfg), TriggerStart); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	addr := g.Addr()
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := sendRaw(t, addr, string(raw))
		if len(out) == 0 {
			return
		}
		// The first answer must be a response head; HEAD keeps the
		// parser from expecting a body whose length it cannot know.
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(out))), &http.Request{Method: "HEAD"})
		if err != nil {
			t.Fatalf("not an HTTP response: %v\n%q", err, out)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Fatalf("status %d\n%q", resp.StatusCode, out)
		}
	})
}
