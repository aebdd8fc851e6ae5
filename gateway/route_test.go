package gateway

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/gatewayhq/gateway/gateway/config"
)

// routeTableOf compiles routes, each to a pool named after its label.
func routeTableOf(routes []config.RouteConfig) *routeTable {
	return compileRoutes(routes, func(name string) *pool { return &pool{name: name} }, nil)
}

// countingHeader is a [headerReader] that counts its lookups: each
// route whose header condition is looked at costs one.
type countingHeader struct{ peeks int }

func (c *countingHeader) Peek(string) []byte { c.peeks++; return []byte("yes") }

// TestRouteIndexLooksOnlyAtCandidates checks that a request looks at the
// routes of its host and, of those for any host, the ones whose prefix
// starts with its path's first segment, and not at the others: the cost
// of routing does not grow with the number of exact-host routes, nor of
// routes by first path segment.
func TestRouteIndexLooksOnlyAtCandidates(t *testing.T) {
	var routes []config.RouteConfig
	cond := []config.HeaderField{{Name: "X-A", Value: "yes"}}
	for i := range 1000 {
		routes = append(routes, config.RouteConfig{Hosts: []string{fmt.Sprintf("h%d.example", i)}, Headers: cond})
	}
	for i := range 1000 {
		routes = append(routes, config.RouteConfig{Name: fmt.Sprintf("s%d", i), PathPrefix: fmt.Sprintf("/s%d/", i), Headers: cond})
	}
	routes = append(routes,
		config.RouteConfig{Hosts: []string{"*.wild.example"}, Headers: cond},
		config.RouteConfig{Name: "any", Headers: cond})
	table := routeTableOf(routes)
	tests := []struct {
		host, path string
		want       string
		wantPeeks  int
	}{
		{"h999.example", "/", "routes[999]", 1},
		{"H0.Example:80", "/", "routes[0]", 1},
		{"x.wild.example", "/", "routes[2000]", 1},
		{"nowhere.example", "/s999/x", "s999", 1},
		{"nowhere.example", "/s999", "any", 1},
		{"nowhere.example", "/", "any", 1},
	}
	for _, tt := range tests {
		h := &countingHeader{}
		r := table.match(&routeRequest{host: []byte(tt.host), path: []byte(tt.path), method: []byte("GET"), header: h})
		if r == nil || r.label != tt.want || h.peeks != tt.wantPeeks {
			label := ""
			if r != nil {
				label = r.label
			}
			t.Errorf("%s: matched %q after %d routes looked at, want %q after %d", tt.host, label, h.peeks, tt.want, tt.wantPeeks)
		}
	}
}

// TestRouteFirstMatchWinsAcrossIndexLists checks that the index never
// changes the winner: the lowest route that matches wins, whichever list
// of the index holds it.
func TestRouteFirstMatchWinsAcrossIndexLists(t *testing.T) {
	table := routeTableOf([]config.RouteConfig{
		{Name: "any-prefix", PathPrefix: "/any/"},
		{Name: "wild", Hosts: []string{"*.example.com"}, PathPrefix: "/w/"},
		{Name: "exact", Hosts: []string{"a.example.com"}},
		{Name: "deeper-wild", Hosts: []string{"*.a.example.com"}},
		{Name: "wild-all", Hosts: []string{"*.example.com"}},
		{Name: "any"},
	})
	tests := []struct{ host, path, want string }{
		{"a.example.com", "/any/x", "any-prefix"},
		{"a.example.com", "/w/x", "wild"},
		{"a.example.com", "/x", "exact"},
		{"b.a.example.com", "/x", "deeper-wild"},
		{"b.example.com", "/x", "wild-all"},
		{"example.com", "/x", "any"},
	}
	for _, tt := range tests {
		r := table.match(&routeRequest{host: []byte(tt.host), path: []byte(tt.path), method: []byte("GET"), header: mapHeader{}})
		if r == nil || r.label != tt.want {
			t.Errorf("%s%s: matched %v, want %s", tt.host, tt.path, r, tt.want)
		}
	}
}

// benchRoutes returns n routes of kind: "exact" hosts, "wildcard" hosts
// or path "prefix"es, and a request that matches the last of them.
func benchRoutes(kind string, n int) ([]config.RouteConfig, routeRequest) {
	routes := make([]config.RouteConfig, n)
	req := routeRequest{path: []byte("/"), method: []byte("GET"), header: mapHeader{}}
	for i := range routes {
		s := strconv.Itoa(i)
		switch kind {
		case "exact":
			routes[i] = config.RouteConfig{Hosts: []string{"host" + s + ".example.com"}, PathPrefix: "/api/"}
			req.host, req.path = []byte("Host"+s+".example.com:443"), []byte("/api/users")
		case "wildcard":
			routes[i] = config.RouteConfig{Hosts: []string{"*.tenant" + s + ".example.com"}}
			req.host = []byte("app.tenant" + s + ".example.com")
		case "prefix":
			routes[i] = config.RouteConfig{PathPrefix: "/service" + s + "/"}
			req.host, req.path = []byte("example.com"), []byte("/service"+s+"/users")
		}
	}
	return routes, req
}

// TestRouteMatchDoesNotAllocate checks that matching allocates nothing,
// for every kind of route.
func TestRouteMatchDoesNotAllocate(t *testing.T) {
	for _, kind := range []string{"exact", "wildcard", "prefix"} {
		routes, req := benchRoutes(kind, 100)
		table := routeTableOf(routes)
		if table.match(&req) != &table.routes[99] {
			t.Fatalf("%s: the request does not match the last route", kind)
		}
		if n := testing.AllocsPerRun(1000, func() { table.match(&req) }); n != 0 {
			t.Errorf("%s: match allocates %v times", kind, n)
		}
	}
}

// BenchmarkRouteMatch measures matching a request that the last of 10,
// 100 or 1000 routes matches: exact hosts, wildcards and path prefixes
// ("/service7/") are found through the index, in about the same time
// whatever their number.
func BenchmarkRouteMatch(b *testing.B) {
	for _, kind := range []string{"exact", "wildcard", "prefix"} {
		for _, n := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				routes, req := benchRoutes(kind, n)
				table := routeTableOf(routes)
				want := &table.routes[n-1]
				b.ReportAllocs()
				for b.Loop() {
					if table.match(&req) != want {
						b.Fatal("wrong route")
					}
				}
			})
		}
	}
}

func TestRedirectLocation(t *testing.T) {
	tests := []struct {
		redirect         config.RedirectConfig
		routePrefix      string
		tls              bool
		host, target     string
		normalized, want string
	}{
		{config.RedirectConfig{Scheme: "https"}, "", false, "a.example:8080", "/p?q", "", "https://a.example/p?q"},
		{config.RedirectConfig{Scheme: "https"}, "", true, "a.example:8443", "/p", "", "https://a.example:8443/p"},
		{config.RedirectConfig{Scheme: "http"}, "", true, "a.example:8443", "/p", "", "http://a.example/p"},
		{config.RedirectConfig{Host: "b.example"}, "", false, "a.example:8080", "/", "", "http://b.example:8080/"},
		{config.RedirectConfig{Port: 443, Scheme: "https"}, "", false, "a.example", "/", "", "https://a.example/"},
		{config.RedirectConfig{Port: 80}, "", false, "a.example:8080", "/", "", "http://a.example/"},
		{config.RedirectConfig{Port: 81}, "", false, "[::1]:8080", "/", "", "http://[::1]:81/"},
		{config.RedirectConfig{Prefix: "/new/"}, "/old/", false, "a.example", "/old/x?q", "", "http://a.example/new/x?q"},
		{config.RedirectConfig{Prefix: "/"}, "/old/", false, "a.example", "/old/../old/x", "/old/x", "http://a.example/x"},
		{config.RedirectConfig{Prefix: "/"}, "/old/", false, "a.example", "/%6fld/x", "/old/x", "http://a.example/x"},
	}
	for _, tt := range tests {
		tt.redirect.Code = 308
		r := newRedirect(&tt.redirect, []byte(tt.routePrefix))
		got := r.location(nil, tt.tls, []byte(tt.host), []byte(tt.target), func() []byte { return []byte(tt.normalized) })
		if string(got) != tt.want {
			t.Errorf("%+v for %s%s: %q, want %q", tt.redirect, tt.host, tt.target, got, tt.want)
		}
	}
}

func TestPlainPath(t *testing.T) {
	for target, want := range map[string]bool{
		"/a/b?x=/../":  true,
		"/a%20b/c":     true,
		"/.well-known": true,
		"/a..b/":       true,
		"/a//b":        false,
		"/a/./b":       false,
		"/a/../b":      false,
		"/a/..":        false,
		"/a/.":         false,
		"/a/%2e%2E/b":  false,
		"/a%2Fb":       false,
		"/a%5cb":       false,
		"/a\\b":        false,
	} {
		if got := plainPath([]byte(target)); got != want {
			t.Errorf("plainPath(%q) = %v, want %v", target, got, want)
		}
	}
}
