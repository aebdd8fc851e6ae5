package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fuzzRoutes is the route table of FuzzRouteMatch, as host, path prefix
// and pool name, in match order.
var fuzzRoutes = [][3]string{
	{"api.example.com", "/v1/", "api-v1"},
	{"api.example.com", "", "api"},
	{"", "/static/", "static"},
	{"[::1]", "/", "ipv6"},
	{"secure.example.com", "/", "secure"},
	{"", "/", "rest"},
	{"other.example", "", "other"},
}

// fuzzGeneration compiles fuzzRoutes into a generation.
func fuzzGeneration() *generation {
	g := &generation{}
	for _, r := range fuzzRoutes {
		p := &pool{name: r[2]}
		g.pools = append(g.pools, p)
		g.routes = append(g.routes, route{host: []byte(r[0]), prefix: []byte(r[1]), pool: p})
	}
	return g
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

// referenceMatch is generation.match written plainly: the first route
// whose host equals the port-less host, without one trailing dot,
// case-insensitively (or is empty) and whose prefix starts the path.
func referenceMatch(host, path string) string {
	host = referenceStripPort(host)
	if len(host) > 1 {
		host = strings.TrimSuffix(host, ".")
	}
	for _, r := range fuzzRoutes {
		if r[0] != "" && !strings.EqualFold(r[0], host) {
			continue
		}
		if strings.HasPrefix(path, r[1]) {
			return r[2]
		}
	}
	return ""
}

func FuzzRouteMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"api.example.com", "/v1/users"},
		{"API.Example.COM:8443", "/v1"},
		{"api.example.com:", "/v2/"},
		{"api.example.com.", "/v1/"},
		{"api.example.com.:443", "/v1/"},
		{"api.example.com..", "/v1/"},
		{".", "/"},
		{"[::1]:8080", "/x"},
		{"[::1]", ""},
		{"::1", "/"},
		{"secure.example.com:80:80", "/"},
		{"", "/static/app.js"},
		{"other.example", "relative"},
		{"", ""},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	g := fuzzGeneration()
	f.Fuzz(func(t *testing.T, host, path []byte) {
		want := referenceMatch(string(host), string(path))
		got := ""
		if p := g.match(host, path); p != nil {
			got = p.name
		}
		if got != want {
			t.Fatalf("match(%q, %q) = %q, want %q", host, path, got, want)
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
