package config

import (
	"reflect"
	"testing"
)

// routeProblemCases are routes with problems, one key or rule at a time;
// like problemCases, each is decoded as YAML and as JSON.
var routeProblemCases = []struct {
	name string
	yaml string
	want []wantProblem
}{
	// name
	{"name", `servers: [http://a]
routes:
  - {name: "api v2", pool: default}
  - {name: 5, pool: default}
  - {name: "", pool: default}
  - {name: api, pathPrefix: /a, pool: default}
  - {name: api, pathPrefix: /b, pool: default}
`, []wantProblem{
		{"routes[0].name", "invalid route name", "api v2", ""},
		{"routes[1].name", "expected a string, got an integer", "5,", "5,"},
		{"routes[2].name", "invalid route name", `""`, `""`},
		{"routes[4].name", "the same name as routes[3]; route names must be unique", "{name: api, pathPrefix: /b", `{"name": "api", "pathPrefix": "/b"`},
	}},
	// host
	{"host lists and wildcards", `servers: [http://a]
routes:
  - {host: [], pool: default}
  - {host: [a.example, ""], pool: default}
  - {host: [a.example, A.example.], pool: default}
  - {host: "*", pool: default}
  - {host: "a.*.example", pool: default}
  - {host: "*.", pool: default}
  - {host: "*.a b", pool: default}
  - {host: "**.example", pool: default}
  - {host: {a: b}, pool: default}
  - {host: [5], pool: default}
`, []wantProblem{
		{"routes[0].host", "empty; list at least one host", "[]", ""},
		{"routes[1].host[1]", "empty; a host in a list must be a name", `""]`, `""]`},
		{"routes[2].host[1]", "listed twice (as host[0])", "A.example.", ""},
		{"routes[3].host", "a wildcard may only stand for the first labels", `"*"`, `"*"`},
		{"routes[4].host", "a wildcard may only stand for the first labels", "a.*.example", ""},
		{"routes[5].host", `a wildcard is "*." followed by a host name`, `"*."`, `"*."`},
		{"routes[6].host", `a wildcard is "*." followed by a host name`, "*.a b", ""},
		{"routes[7].host", "a wildcard may only stand for the first labels", "**.example", ""},
		{"routes[8].host", "expected a string, got a mapping", "{a: b}", `{"a": "b"}`},
		{"routes[9].host[0]", "expected a string, got an integer", "5]", "5]"},
	}},
	// path and pathPrefix
	{"path", `servers: [http://a]
routes:
  - {path: exact, pool: default}
  - {path: "/a?b", pool: default}
  - {path: /a, pathPrefix: /a, pool: default}
  - {path: 5, pool: default}
`, []wantProblem{
		{"routes[0].path", `must start with "/"`, "exact", ""},
		{"routes[1].path", "must be a path without a query or fragment", "/a?b", ""},
		{"routes[2].path", "set either path or pathPrefix (line", "path: /a,", `"path": "/a",`},
		{"routes[3].path", "expected a string, got an integer", "5,", "5,"},
	}},
	// methods
	{"methods", `servers: [http://a]
routes:
  - {methods: [], pool: default}
  - {methods: [get], pool: default}
  - {methods: [GET, GET], pool: default}
  - {methods: ["GE T"], pool: default}
  - {methods: [5], pool: default}
  - {methods: {GET: 1}, pool: default}
`, []wantProblem{
		{"routes[0].methods", "empty; list at least one method", "[]", ""},
		{"routes[1].methods[0]", "methods are case-sensitive; write GET", "get", ""},
		{"routes[2].methods[1]", "listed twice", "GET]", `GET"]`},
		{"routes[3].methods[0]", "invalid method", "GE T", ""},
		{"routes[4].methods[0]", "expected a string, got an integer", "5]", "5]"},
		{"routes[5].methods", "expected a string, got a mapping", "{GET: 1}", `{"GET": 1}`},
	}},
	// headers
	{"header conditions", `servers: [http://a]
routes:
  - {headers: {X-Canary: ""}, pool: default}
  - {headers: {"X Canary": a}, pool: default}
  - {headers: {X-Canary: a, x-canary: b}, pool: default}
  - {headers: {X-Canary: true}, pool: default}
  - {headers: {X-Canary: " a"}, pool: default}
  - {headers: [X-Canary], pool: default}
`, []wantProblem{
		{"routes[0].headers.X-Canary", "empty; a header needs a value", `""}`, `""}`},
		{"routes[1].headers.X Canary", "invalid header name", "X Canary", ""},
		{"routes[2].headers.x-canary", "the same header as X-Canary; names are case-insensitive", "x-canary", ""},
		{"routes[3].headers.X-Canary", "expected a header value, got a boolean", "true}", "true}"},
		{"routes[4].headers.X-Canary", "must not begin or end with white space", `" a"`, `" a"`},
		{"routes[5].headers", "expected a mapping of header names to values, got a list", "[X-Canary]", `["X-Canary"]`},
	}},
	{"header value with a line break", "servers: [http://a]\nroutes:\n  - {headers: {X-A: \"a\\nb\"}, pool: default}\n",
		[]wantProblem{{"routes[0].headers.X-A", "must not contain control characters", `"a\nb"`, `"a\nb"`}}},
	// rewritePrefix
	{"rewritePrefix", `servers: [http://a]
routes:
  - {rewritePrefix: /, pool: default}
  - {pathPrefix: /a/, rewritePrefix: b, pool: default}
  - {path: /c, rewritePrefix: /c/, pool: default}
`, []wantProblem{
		{"routes[0].rewritePrefix", "rewritePrefix needs pathPrefix: it replaces the matched prefix", "rewritePrefix", ""},
		{"routes[1].rewritePrefix", `must start with "/"`, "b,", `b",`},
		{"routes[2].rewritePrefix", "rewritePrefix needs pathPrefix", "rewritePrefix: /c/", `"rewritePrefix": "/c/"`},
	}},
	// requestHeaders and responseHeaders
	{"header rules", `servers: [http://a]
routes:
  - pool: default
    requestHeaders:
      set: {Connection: close, X-Forwarded-For: 1.2.3.4, Host: backend.internal}
      add: {Host: x, Te: trailers, x-forwarded-proto: https}
      remove: [Upgrade, Content-Length, Host, X-Forwarded-Host, "a b", 5]
      replace: {X-A: b}
    responseHeaders:
      set: {Transfer-Encoding: chunked, Host: fine, X-A: a}
      add: {Keep-Alive: "1", x-a: b}
      remove: [Proxy-Authenticate, Trailer, X-A]
  - pool: default
    requestHeaders: [set]
`, []wantProblem{
		{"routes[0].requestHeaders.set.Connection", "Connection is hop-by-hop: the gateway removes it before forwarding, and a rule may not name it", "Connection", ""},
		{"routes[0].requestHeaders.set.X-Forwarded-For", "X-Forwarded-For is set by the gateway (kept from trustedProxies only)", "X-Forwarded-For", ""},
		{"routes[0].requestHeaders.add.Host", "a request has one Host: change it with requestHeaders.set", "Host: x", `"Host": "x"`},
		{"routes[0].requestHeaders.add.Te", "Te is hop-by-hop", "Te:", `"Te"`},
		{"routes[0].requestHeaders.add.x-forwarded-proto", "x-forwarded-proto is set by the gateway", "x-forwarded-proto", ""},
		{"routes[0].requestHeaders.remove[0]", "Upgrade is hop-by-hop", "Upgrade", ""},
		{"routes[0].requestHeaders.remove[1]", "Content-Length frames the body", "Content-Length", ""},
		{"routes[0].requestHeaders.remove[2]", "a request has one Host", "Host, X", `Host", "X`},
		{"routes[0].requestHeaders.remove[3]", "X-Forwarded-Host is set by the gateway", "X-Forwarded-Host", ""},
		{"routes[0].requestHeaders.remove[4]", "invalid header name", "a b", ""},
		{"routes[0].requestHeaders.remove[5]", "expected a string, got an integer", "5]", "5]"},
		{"routes[0].requestHeaders.replace", `unknown key "replace"`, "replace", ""},
		{"routes[0].responseHeaders.set.Transfer-Encoding", "Transfer-Encoding is hop-by-hop", "Transfer-Encoding", ""},
		{"routes[0].responseHeaders.add.Keep-Alive", "Keep-Alive is hop-by-hop", "Keep-Alive", ""},
		{"routes[0].responseHeaders.add.x-a", "named in routes[0].responseHeaders.set already; a header may have one rule", "x-a", ""},
		{"routes[0].responseHeaders.remove[0]", "Proxy-Authenticate is hop-by-hop", "Proxy-Authenticate", ""},
		{"routes[0].responseHeaders.remove[1]", "Trailer announces the trailer fields", "Trailer, X", `Trailer", "X`},
		{"routes[0].responseHeaders.remove[2]", "named in routes[0].responseHeaders.set already", "X-A]", `X-A"]`},
		{"routes[1].requestHeaders", "expected a mapping with set, add and remove, got a list", "[set]", `["set"]`},
	}},
	{"header rule lists", `servers: [http://a]
routes:
  - pool: default
    requestHeaders: {remove: X-A, set: [X-B]}
`, []wantProblem{
		{"routes[0].requestHeaders.remove", "expected a list of header names, got a string", "X-A,", `X-A",`},
		{"routes[0].requestHeaders.set", "expected a mapping of header names to values, got a list", "[X-B]", `["X-B"]`},
	}},
	// pool, pools and redirect
	{"actions", `pools:
  stable: {servers: [http://a]}
  canary: {servers: [http://b]}
routes:
  - {pathPrefix: /a, pool: stable, pools: [{pool: canary}]}
  - {pathPrefix: /b, redirect: {scheme: https}, pool: stable}
  - {pathPrefix: /c}
  - {pathPrefix: /d, pool: stable, sticky: true}
  - {pathPrefix: /e, pools: [{pool: stable}], sticky: "yes"}
`, []wantProblem{
		{"routes[0].pools", "set only one of pool, pools and redirect; pool is set at line", "pools: [{pool: canary}]", "-"},
		{"routes[1].pool", "set only one of pool, pools and redirect; redirect is set at line", "pool: stable}\n  - {pathPrefix: /c", "-"},
		{"routes[2].pool", "missing; a route names the pool it sends to (pool), splits over pools (pools) or redirects (redirect)", "{pathPrefix: /c", "-"},
		{"routes[3].sticky", "sticky applies to a split over pools (pools)", "sticky", ""},
		{"routes[4].sticky", "expected true or false, got a string", `"yes"`, `"yes"`},
	}},
	{"splits", `pools:
  stable: {servers: [http://a]}
  canary: {servers: [http://b]}
routes:
  - {pathPrefix: /a, pools: []}
  - {pathPrefix: /b, pools: [{pool: stable, weight: 0}, {pool: canary, weight: 0}]}
  - {pathPrefix: /c, pools: [{pool: stable, weight: -1}, {pool: canary, weight: 1000001}]}
  - {pathPrefix: /d, pools: [{pool: stabel}, {weight: 1}, {pool: canary, wieght: 1}]}
  - {pathPrefix: /e, pools: [{pool: stable}, {pool: stable}]}
  - {pathPrefix: /f, pools: [stable]}
  - {pathPrefix: /g, pools: {stable: 1}}
`, []wantProblem{
		{"routes[0].pools", "empty; list the pools to split over", "[]", ""},
		{"routes[1].pools", "the weights add up to 0; give at least one pool a weight above 0", "[{pool: stable, weight: 0}", "-"},
		{"routes[2].pools[0].weight", "must not be negative", "-1", ""},
		{"routes[2].pools[1].weight", "must be at most 1000000", "1000001", ""},
		{"routes[3].pools[0].pool", `no pool named "stabel"; did you mean "stable"?`, "stabel", ""},
		{"routes[3].pools[1].pool", "missing; each part of a split names a pool", "{weight: 1}", `{"weight": 1}`},
		{"routes[3].pools[2].wieght", `did you mean "weight"?`, "wieght", ""},
		{"routes[4].pools[1].pool", "the same pool as routes[4].pools[0]", "stable}]}\n  - {pathPrefix: /f", "-"},
		{"routes[5].pools[0]", "expected a mapping with pool and weight, got a string", "stable]", `stable"]`},
		{"routes[6].pools", "expected a list of {pool, weight}, got a mapping", "{stable: 1}", `{"stable": 1}`},
	}},
	// redirect
	{"redirects", `servers: [http://a]
routes:
  - {host: a.example, redirect: {scheme: ftp}}
  - {host: b.example, redirect: {host: "new.example:443"}}
  - {host: c.example, redirect: {port: 0}}
  - {host: d.example, redirect: {prefix: /new/}}
  - {host: e.example, pathPrefix: /old/, redirect: {prefix: new}}
  - {host: f.example, redirect: {scheme: https, code: 200}}
  - {host: g.example, redirect: {code: 301}}
  - {host: h.example, redirect: {scheme: https, code: "301"}}
  - {host: i.example, redirect: {schema: https}}
  - {host: j.example, redirect: https://new.example}
  - {host: k.example, redirect: {host: ""}}
  - {host: l.example, redirect: {host: "*.new.example"}}
`, []wantProblem{
		{"routes[0].redirect.scheme", "the scheme must be http or https", "ftp", ""},
		{"routes[1].redirect.host", "must not include a port", "new.example:443", ""},
		{"routes[2].redirect.port", "must be at least 1", "0}", "0}"},
		{"routes[3].redirect.prefix", "prefix needs the route's pathPrefix: it replaces the matched prefix", "prefix", ""},
		{"routes[4].redirect.prefix", `must start with "/"`, "new}", `new"}`},
		{"routes[5].redirect.code", "a redirect's code is 301, 302, 303, 307 or 308", "200", ""},
		{"routes[6].redirect", "redirects to the request's own URL; set scheme, host, port or prefix", "{code: 301}", `{"code": 301}`},
		{"routes[7].redirect.code", "expected an integer, got a string", `"301"`, `"301"`},
		{"routes[8].redirect", "redirects to the request's own URL", "{schema", `{"schema"`},
		{"routes[8].redirect.schema", `did you mean "scheme"?`, "schema", ""},
		{"routes[9].redirect", "expected a mapping with scheme, host, port, prefix and code, got a string", "https://new.example", ""},
		{"routes[10].redirect.host", "empty; leave host out to keep the request's own", `""}`, `""}`},
		{"routes[11].redirect.host", "invalid host name", "*.new.example", ""},
	}},
	{"redirect with forwarding keys", `servers: [http://a]
routes:
  - host: a.example
    pathPrefix: /a/
    rewritePrefix: /
    requestHeaders: {set: {X-A: b}}
    responseHeaders: {remove: [Server]}
    redirect: {scheme: https}
`, []wantProblem{
		{"routes[0].rewritePrefix", "rewritePrefix does not apply to a redirect, which the gateway answers itself", "rewritePrefix", ""},
		{"routes[0].requestHeaders", "requestHeaders does not apply to a redirect", "requestHeaders", ""},
		{"routes[0].responseHeaders", "responseHeaders does not apply to a redirect", "responseHeaders", ""},
	}},
	// rateLimit
	{"rate limits", `servers: [http://a]
routes:
  - {pathPrefix: /a, rateLimit: {requestsPerSecond: 5}, pool: default}
  - {name: b, pathPrefix: /b, rateLimit: {requestsPerSecond: 0}, pool: default}
  - {name: c, pathPrefix: /c, rateLimit: {requestsPerSecond: -1, burst: 0}, pool: default}
  - {name: d, pathPrefix: /d, rateLimit: {burst: 10}, pool: default}
  - {name: e, pathPrefix: /e, rateLimit: {requestsPerSecond: "5/s"}, pool: default}
  - {name: f, pathPrefix: /f, rateLimit: {requestsPerSecond: 2000000, burst: 2000000}, pool: default}
  - {name: g, pathPrefix: /g, rateLimit: {requestsPerSecond: 5, brust: 10}, pool: default}
  - {name: h, pathPrefix: /h, rateLimit: 5, pool: default}
  - {name: i, pathPrefix: /i, rateLimit: {requestsPerSecond: 1.5, burst: 2.5}, pool: default}
  - {name: j, pathPrefix: /j, rateLimit: {requestsPerSecond: 0.0009}, pool: default}
`, []wantProblem{
		{"routes[0].rateLimit", "a route with rateLimit needs a name: its clients' buckets are kept by the name across reloads", "rateLimit", ""},
		{"routes[1].rateLimit.requestsPerSecond", "must be at least 0.001 (one request in 1000 seconds)", "0}", "0}"},
		{"routes[2].rateLimit.requestsPerSecond", "must be at least 0.001", "-1", ""},
		{"routes[2].rateLimit.burst", "must be at least 1", "0}, pool: default}\n  - {name: d", "-"},
		{"routes[3].rateLimit.requestsPerSecond", "missing; a rate limit needs a rate", "{burst: 10}", `{"burst": 10}`},
		{"routes[4].rateLimit.requestsPerSecond", "expected a number of requests a second, got a string", `"5/s"`, `"5/s"`},
		{"routes[5].rateLimit.requestsPerSecond", "must be at most 1000000", "2000000,", ""},
		{"routes[5].rateLimit.burst", "must be at most 1000000", "2000000}", ""},
		{"routes[6].rateLimit.brust", `did you mean "burst"?`, "brust", ""},
		{"routes[7].rateLimit", "expected a mapping with requestsPerSecond and burst, got an integer", "5, pool", "5, \"pool"},
		{"routes[8].rateLimit.burst", "expected an integer, got a number", "2.5", ""},
		{"routes[9].rateLimit.requestsPerSecond", "must be at least 0.001", "0.0009", ""},
	}},
	// Unreachable routes, with methods, headers, wildcards and paths.
	{"unreachable routes", `servers: [http://a]
routes:
  - {host: "*.example.com", pool: default}
  - {host: [a.example.com, "*.b.example.com"], pool: default}
  - {host: example.com, methods: [GET, POST], pool: default}
  - {host: example.com, methods: [GET], pathPrefix: /x, pool: default}
  - {host: example.com, headers: {X-Canary: always}, pool: default}
  - {host: example.com, headers: {x-canary: always, X-B: c}, path: /y, pool: default}
  - {host: example.org, path: /z, pool: default}
  - {host: example.org, path: /z, methods: [GET], pool: default}
`, []wantProblem{
		{"routes[1]", "unreachable: routes[0] comes first", "{host: [a.example.com", "-"},
		{"routes[3]", "unreachable: routes[2] comes first", "{host: example.com, methods: [GET], pathPrefix", "-"},
		{"routes[5]", "unreachable: routes[4] comes first", "{host: example.com, headers: {x-canary", "-"},
		{"routes[7]", "unreachable: routes[6] comes first", "{host: example.org, path: /z, methods", "-"},
	}},
}

// TestDecodeRouteProblems checks every problem a route's keys can have,
// in YAML and in JSON: the exact paths, the messages and where each
// problem is reported.
func TestDecodeRouteProblems(t *testing.T) {
	for _, tc := range routeProblemCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("yaml", func(t *testing.T) {
				checkProblems(t, "config.yaml", tc.yaml, tc.want)
			})
			t.Run("json", func(t *testing.T) {
				checkProblems(t, "config.json", yamlToJSON(t, tc.yaml), tc.want)
			})
		})
	}
}

// TestDecodeRouteKeys decodes every key of a route, in YAML and in JSON,
// and checks each value kept, with the defaults filled in.
func TestDecodeRouteKeys(t *testing.T) {
	c := decodeBoth(t, `pools:
  stable: {servers: [http://a]}
  canary: {servers: [http://b]}
routes:
  - name: api-v2
    host: [API.example.com, "*.Api.Example.com."]
    pathPrefix: /v2/
    methods: [GET, POST]
    headers: {X-Canary: always, X-Count: 5}
    rewritePrefix: /
    requestHeaders:
      set: {X-Env: prod, Host: backend.internal}
      add: {Via: gateway}
      remove: [X-Debug]
    responseHeaders:
      set: {Strict-Transport-Security: "max-age=31536000"}
      add: {X-Served-By: gateway}
      remove: [Server, X-Powered-By]
    pools:
      - {pool: stable, weight: 95}
      - {pool: canary, weight: 5}
    sticky: true
    rateLimit:
      requestsPerSecond: 50
      burst: 100
  - name: exact
    host: one.example
    path: /exact
    methods: DELETE
    pools: [{pool: canary}, {pool: stable, weight: 0}]
    sticky: false
    rateLimit: {requestsPerSecond: 2.5}
  - host: old.example.com
    pathPrefix: /blog/
    redirect: {port: 8443, prefix: /articles/}
  - name: old-site
    host: old.example.com
    redirect: {scheme: https, host: New.Example.com, code: 301}
  - {host: "", pool: stable}
`)
	want := []RouteConfig{
		{
			Name:          "api-v2",
			Hosts:         []string{"api.example.com", "*.api.example.com"},
			PathPrefix:    "/v2/",
			Methods:       []string{"GET", "POST"},
			Headers:       []HeaderField{{"X-Canary", "always"}, {"X-Count", "5"}},
			RewritePrefix: "/",
			RequestHeaders: HeaderRules{
				Set:    []HeaderField{{"X-Env", "prod"}, {"Host", "backend.internal"}},
				Add:    []HeaderField{{"Via", "gateway"}},
				Remove: []string{"X-Debug"},
			},
			ResponseHeaders: HeaderRules{
				Set:    []HeaderField{{"Strict-Transport-Security", "max-age=31536000"}},
				Add:    []HeaderField{{"X-Served-By", "gateway"}},
				Remove: []string{"Server", "X-Powered-By"},
			},
			Pools:     []PoolWeight{{"stable", 95}, {"canary", 5}},
			Sticky:    true,
			RateLimit: RateLimitConfig{RequestsPerSecond: 50, Burst: 100},
		},
		{
			Name:      "exact",
			Hosts:     []string{"one.example"},
			Path:      "/exact",
			Methods:   []string{"DELETE"},
			Pools:     []PoolWeight{{"canary", 1}, {"stable", 0}},
			RateLimit: RateLimitConfig{RequestsPerSecond: 2.5, Burst: 3},
		},
		{
			Hosts:      []string{"old.example.com"},
			PathPrefix: "/blog/",
			Redirect:   &RedirectConfig{Port: 8443, Prefix: "/articles/", Code: 308},
		},
		{
			Name:     "old-site",
			Hosts:    []string{"old.example.com"},
			Redirect: &RedirectConfig{Scheme: "https", Host: "new.example.com", Code: 301},
		},
		{Pool: "stable"},
	}
	if !reflect.DeepEqual(c.Routes, want) {
		t.Errorf("routes =\n%+v\nwant\n%+v", c.Routes, want)
	}
}

// TestRouteCovers checks the unreachable-route rule pair by pair: which
// earlier route matches every request of a later one.
func TestRouteCovers(t *testing.T) {
	tests := []struct {
		name string
		a, b RouteConfig
		want bool
	}{
		{"catch-all covers anything", RouteConfig{}, RouteConfig{Hosts: []string{"a"}, Path: "/x", Methods: []string{"GET"}}, true},
		{"a host does not cover every host", RouteConfig{Hosts: []string{"a"}}, RouteConfig{}, false},
		{"wildcard covers a name under it", RouteConfig{Hosts: []string{"*.x"}}, RouteConfig{Hosts: []string{"a.b.x"}}, true},
		{"wildcard does not cover its own domain", RouteConfig{Hosts: []string{"*.x"}}, RouteConfig{Hosts: []string{"x"}}, false},
		{"wildcard covers a narrower wildcard", RouteConfig{Hosts: []string{"*.x"}}, RouteConfig{Hosts: []string{"*.a.x"}}, true},
		{"narrow wildcard does not cover a wider one", RouteConfig{Hosts: []string{"*.a.x"}}, RouteConfig{Hosts: []string{"*.x"}}, false},
		{"every host of the later must be covered", RouteConfig{Hosts: []string{"a"}}, RouteConfig{Hosts: []string{"a", "b"}}, false},
		{"prefix covers a longer prefix", RouteConfig{PathPrefix: "/a"}, RouteConfig{PathPrefix: "/ab"}, true},
		{"prefix covers a path under it", RouteConfig{PathPrefix: "/a"}, RouteConfig{Path: "/a/b"}, true},
		{"path covers only the same path", RouteConfig{Path: "/a"}, RouteConfig{PathPrefix: "/a"}, false},
		{"path covers the same path", RouteConfig{Path: "/a"}, RouteConfig{Path: "/a"}, true},
		{"methods cover fewer methods", RouteConfig{Methods: []string{"GET", "POST"}}, RouteConfig{Methods: []string{"POST"}}, true},
		{"methods do not cover every method", RouteConfig{Methods: []string{"GET"}}, RouteConfig{}, false},
		{"a header condition does not cover a route without it", RouteConfig{Headers: []HeaderField{{"X-A", "1"}}}, RouteConfig{}, false},
		{"a header condition covers the same condition", RouteConfig{Headers: []HeaderField{{"X-A", "1"}}}, RouteConfig{Headers: []HeaderField{{"x-a", "1"}, {"X-B", "2"}}}, true},
		{"header values are compared exactly", RouteConfig{Headers: []HeaderField{{"X-A", "1"}}}, RouteConfig{Headers: []HeaderField{{"X-A", "01"}}}, false},
	}
	for _, tt := range tests {
		if got := covers(&tt.a, &tt.b); got != tt.want {
			t.Errorf("%s: covers = %v, want %v", tt.name, got, tt.want)
		}
	}
}
