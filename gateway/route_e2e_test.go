package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoHeadBackend starts a backend that answers every request with its raw
// request target, method and headers, one "Name: value" line each, in
// the order they came, so that tests see exactly what was forwarded.
func echoHeadBackend(t *testing.T, name string) *testBackend {
	return startBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "backend")
		w.Header().Set("X-Powered-By", "php")
		w.Header().Set("X-Keep", "kept")
		fmt.Fprintf(w, "%s %s\nHost: %s\n", r.Method, r.RequestURI, r.Host)
		for k, vs := range r.Header {
			for _, v := range vs {
				fmt.Fprintf(w, "%s: %s\n", k, v)
			}
		}
	})
}

// roundTrip sends req (with an absolute URL, a Host if it needs one) and
// returns the response with its body read, without following redirects.
func roundTrip(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// rawTarget sends a request for target as written, byte for byte, over
// a new connection to addr, and returns the first line of the body the
// echoHeadBackend answered, or the status line when the gateway answered.
func rawTarget(t *testing.T, addr, method, target string) string {
	t.Helper()
	out := sendRaw(t, addr, method+" "+target+" HTTP/1.1\r\nHost: rw.example\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(out))), nil)
	if err != nil {
		t.Fatalf("%s: %v\n%q", target, err, out)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.Status
	}
	first, _, _ := strings.Cut(string(body), "\n")
	return first
}

func TestRouteRewritePrefix(t *testing.T) {
	b := echoHeadBackend(t, "b")
	g, _ := startGateway(t, poolConfig("round_robin", "", b.URL)+`routes:
  - {host: rw.example, pathPrefix: /v2/, rewritePrefix: /, pool: p}
  - {host: rw.example, pathPrefix: /api, rewritePrefix: /internal/api, pool: p}
  - {host: rw.example, pathPrefix: /keep/, pool: p}
`)
	tests := []struct{ target, want string }{
		{"/v2/users?id=1&q=%2F+x", "GET /users?id=1&q=%2F+x"},
		{"/v2/v2/x", "GET /v2/x"},
		{"/v2/", "GET /"},
		{"/v2/a%20b;p?x=%zz#frag", "GET /a%20b;p?x=%zz"},
		{"/api", "GET /internal/api"},
		{"/api/v2/", "GET /internal/api/v2/"},
		{"/apis?x", "GET /internal/apis?x"},
		// Only the route's prefix changes; the rest passes byte-exact.
		{"/keep/A%2fb//c?q", "GET /keep/A%2fb//c?q"},
		// A path that matched only once normalised is rewritten from the
		// normalised form: a dot segment cannot climb out of the new
		// prefix.
		{"/v2/../v2/x?q=1", "GET /x?q=1"},
		{"/v2/%2e%2e/v2/y", "GET /y"},
		{"/v2//z", "GET /z"},
		{"http://rw.example/v2/abs?q", "GET /abs?q"},
	}
	for _, tt := range tests {
		if got := rawTarget(t, g.Addr(), "GET", tt.target); got != tt.want {
			t.Errorf("%s: backend got %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestRouteHeaderRules(t *testing.T) {
	b := echoHeadBackend(t, "b")
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL)+`routes:
  - pathPrefix: /rules
    requestHeaders:
      set: {X-Env: prod, Host: backend.internal, X-Replaced: new}
      add: {Via: 1.1 gateway, X-Multi: two}
      remove: [X-Debug, x-secret]
    responseHeaders:
      set: {Strict-Transport-Security: "max-age=31536000", X-Keep: changed}
      add: {X-Served-By: gateway}
      remove: [Server, X-Powered-By]
    pool: p
  - {pool: p}
`)
	req, _ := http.NewRequest("GET", base+"/rules?q=1", nil)
	req.Host = "client.example"
	req.Header.Set("X-Debug", "1")
	req.Header.Set("X-Secret", "s")
	req.Header.Set("X-Replaced", "old")
	req.Header.Add("X-Multi", "one")
	req.Header.Set("X-Other", "untouched")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, body := roundTrip(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	got := map[string][]string{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		got[k] = append(got[k], v)
	}
	for k, want := range map[string][]string{
		"Host":              {"backend.internal"},
		"X-Env":             {"prod"},
		"X-Replaced":        {"new"},
		"Via":               {"1.1 gateway"},
		"X-Multi":           {"one", "two"},
		"X-Other":           {"untouched"},
		"X-Debug":           nil,
		"X-Secret":          nil,
		"X-Forwarded-Host":  {"client.example"}, // the client's Host, not the one set
		"X-Forwarded-For":   {"203.0.113.9, 127.0.0.1"},
		"X-Forwarded-Proto": {"http"},
	} {
		if !slices.Equal(got[k], want) {
			t.Errorf("backend got %s %q, want %q", k, got[k], want)
		}
	}
	if lines[0] != "GET /rules?q=1" {
		t.Errorf("target %q", lines[0])
	}
	for k, want := range map[string][]string{
		"Strict-Transport-Security": {"max-age=31536000"},
		"X-Keep":                    {"changed"},
		"X-Served-By":               {"gateway"},
		"X-Backend":                 {"b"},
		"Server":                    nil,
		"X-Powered-By":              nil,
	} {
		if !slices.Equal(resp.Header.Values(k), want) {
			t.Errorf("client got %s %q, want %q", k, resp.Header.Values(k), want)
		}
	}

	// Another route's requests and answers are left alone.
	req, _ = http.NewRequest("GET", base+"/other", nil)
	req.Header.Set("X-Debug", "1")
	resp, body = roundTrip(t, req)
	if !strings.Contains(body, "X-Debug: 1\n") || strings.Contains(body, "X-Env") {
		t.Errorf("another route's request was edited:\n%s", body)
	}
	if resp.Header.Get("Server") != "backend" || resp.Header.Get("X-Served-By") != "" {
		t.Errorf("another route's answer was edited: %v", resp.Header)
	}
}

func TestRouteRedirects(t *testing.T) {
	b := echoHeadBackend(t, "b")
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL)+`routes:
  - {host: c301.example, redirect: {scheme: https, code: 301}}
  - {host: c302.example, redirect: {host: new.example, code: 302}}
  - {host: c303.example, redirect: {port: 8443, code: 303}}
  - {host: c307.example, redirect: {scheme: http, host: new.example, port: 80, code: 307}}
  - {host: c308.example, pathPrefix: /old/, redirect: {prefix: /new/}}
  - {host: all.example, pathPrefix: /blog/, redirect: {scheme: https, host: www.example, port: 8443, prefix: /articles/, code: 301}}
  - {pool: p}
`)
	tests := []struct {
		host, target string
		code         int
		location     string
	}{
		{"c301.example", "/a/b?x=1&y=%2F", 301, "https://c301.example/a/b?x=1&y=%2F"},
		// The scheme changed: the request's port goes with it.
		{"c301.example:8080", "/", 301, "https://c301.example/"},
		{"c302.example:8080", "/p?q", 302, "http://new.example:8080/p?q"},
		{"c303.example", "/p", 303, "http://c303.example:8443/p"},
		{"C303.Example:9", "/p", 303, "http://C303.Example:8443/p"},
		// A default port is left out.
		{"c307.example:8080", "/x?", 307, "http://new.example/x?"},
		{"c308.example", "/old/page?q=1", 308, "http://c308.example/new/page?q=1"},
		{"c308.example", "/old/old/", 308, "http://c308.example/new/old/"},
		{"all.example:8080", "/blog/2024/post?ref=a", 301, "https://www.example:8443/articles/2024/post?ref=a"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", base+tt.target, strings.NewReader("body"))
		req.Host = tt.host
		resp, body := roundTrip(t, req)
		if resp.StatusCode != tt.code || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s%s: %d Location %q, want %d %q", tt.host, tt.target, resp.StatusCode, resp.Header.Get("Location"), tt.code, tt.location)
		}
		if body != "" {
			t.Errorf("%s%s: body %q", tt.host, tt.target, body)
		}
	}
	select {
	case r := <-b.last:
		t.Errorf("a redirect reached the backend: %s %s", r.Method, r.URL)
	default:
	}
}

// splitCount sends n requests for url with header and counts the
// answers, which must be 200, by backend.
func splitCount(t *testing.T, url string, n int, header http.Header) map[string]int {
	t.Helper()
	counts := map[string]int{}
	client := &http.Client{}
	for range n {
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		counts[resp.Header.Get("X-Backend")]++
	}
	return counts
}

// splitConfig is a config with pools stable and canary, one backend each,
// split by the given weights; extra is added to the route.
func splitConfig(stable, canary string, ws, wc int, extra string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
trustedProxies: [127.0.0.1]
pools:
  stable:
    healthCheck: {enabled: false}
    servers: [%s]
  canary:
    healthCheck: {enabled: false}
    servers: [%s]
routes:
  - name: web
    pools:
      - {pool: stable, weight: %d}
      - {pool: canary, weight: %d}
%s`, stable, canary, ws, wc, extra)
}

func TestRouteSplitExact(t *testing.T) {
	s, c := startBackend(t, "stable", nil), startBackend(t, "canary", nil)
	g, base := startGateway(t, splitConfig(s.URL, c.URL, 95, 5, ""))
	got := splitCount(t, base+"/", 1000, nil)
	if got["stable"] != 950 || got["canary"] != 50 {
		t.Errorf("1000 requests split %v, want stable 950, canary 50", got)
	}

	// A reload that changes only the weights keeps every backend, with
	// its counts, and each pool's rotation.
	before := g.current()
	reloadOK(t, g, splitConfig(s.URL, c.URL, 75, 25, ""))
	after := g.current()
	for i, p := range after.pools {
		old := before.pools[i]
		if p.selector != old.selector || p.backends[0] != old.backends[0] || !p.carried[0] {
			t.Errorf("pool %s: selector or backend not carried over a weight change", p.name)
		}
	}
	if n := after.pools[0].backends[0].served.Load(); n != 950 {
		t.Errorf("stable's backend served %d after the reload, want 950", n)
	}
	got = splitCount(t, base+"/", 100, nil)
	if got["stable"] != 75 || got["canary"] != 25 {
		t.Errorf("100 requests split %v after the reload, want 75:25", got)
	}
}

func TestRouteSplitFailsOverToHealthyPool(t *testing.T) {
	s := startBackend(t, "stable", nil)
	down := closedAddr(t)
	g, base := startGateway(t, fmt.Sprintf(`listen: 127.0.0.1:0
pools:
  stable:
    healthCheck: {enabled: false}
    servers: [%s]
  canary:
    healthCheck: {interval: 50ms, timeout: 50ms, unhealthyThreshold: 1}
    servers: [http://%s]
routes:
  - pools: [{pool: stable, weight: 1}, {pool: canary, weight: 1}]
`, s.URL, down))
	waitUntil(t, "the canary's backend to be marked down", func() bool { return !g.current().poolNamed("canary").anyHealthy() })
	got := splitCount(t, base+"/", 100, nil)
	if got["stable"] != 100 {
		t.Errorf("with the canary pool down, 100 requests went %v, want all to stable", got)
	}
}

// stickyAssignment sends one request from each of n clients (by
// X-Forwarded-For from a trusted proxy) and returns the backend of each.
func stickyAssignment(t *testing.T, base string, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range n {
		h := http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.%d.%d", i/256, i%256)}}
		for name := range splitCount(t, base+"/", 1, h) {
			out[i] = name
		}
	}
	return out
}

func TestRouteSplitStickyAcrossWeightChange(t *testing.T) {
	s, c := startBackend(t, "stable", nil), startBackend(t, "canary", nil)
	g, base := startGateway(t, splitConfig(s.URL, c.URL, 95, 5, "    sticky: true\n"))
	const clients = 400
	first := stickyAssignment(t, base, clients)
	if again := stickyAssignment(t, base, clients); !slices.Equal(first, again) {
		t.Fatal("sticky clients changed sides while the weights stayed the same")
	}
	reloadOK(t, g, splitConfig(s.URL, c.URL, 75, 25, "    sticky: true\n"))
	second := stickyAssignment(t, base, clients)
	before, after, moved := 0, 0, 0
	for i := range clients {
		if first[i] == "canary" {
			before++
			if second[i] != "canary" {
				t.Errorf("client %d moved off the canary when its weight grew", i)
			}
		}
		if second[i] == "canary" {
			after++
			if first[i] != "canary" {
				moved++
			}
		}
	}
	t.Logf("canary clients: %d of %d at 5%%, %d at 25%% (%d moved onto it)", before, clients, after, moved)
	// Generous bounds on shares that hashing makes about 5% and 25%.
	if before < 5 || before > 45 || after < 60 || after > 140 {
		t.Errorf("canary had %d then %d of %d clients, want about 20 then 100", before, after, clients)
	}
}

func TestRouteMatchersEndToEnd(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	_, base := startGateway(t, poolsABConfig(a.URL, b.URL, `  - {host: "*.api.example", methods: [POST, PUT], pool: a}
  - {host: "*.api.example", headers: {X-Canary: always}, pool: a}
  - {host: ["exact.example", "*.wild.example"], path: /only, pool: a}
  - {pool: b}
`))
	tests := []struct {
		method, host, path string
		header             http.Header
		want               string
	}{
		{"POST", "v1.api.example", "/", nil, "a"},
		{"PUT", "x.y.api.example:8080", "/", nil, "a"},
		{"GET", "v1.api.example", "/", nil, "b"},
		{"POST", "api.example", "/", nil, "b"}, // the wildcard's own domain is not under it
		{"GET", "V1.API.example", "/", http.Header{"X-Canary": {"always"}}, "a"},
		{"GET", "v1.api.example", "/", http.Header{"X-Canary": {"Always"}}, "b"},
		{"GET", "v1.api.example", "/", http.Header{"X-Canary": {"never"}}, "b"},
		{"GET", "exact.example", "/only", nil, "a"},
		{"GET", "exact.example", "/only/", nil, "b"},
		{"GET", "deep.down.wild.example", "/only", nil, "a"},
		{"GET", "wild.example", "/only", nil, "b"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, base+tt.path, nil)
		req.Host = tt.host
		for k, v := range tt.header {
			req.Header[k] = v
		}
		resp, _ := roundTrip(t, req)
		if got := resp.Header.Get("X-Backend"); got != tt.want {
			t.Errorf("%s %s%s %v: went to %q, want %q", tt.method, tt.host, tt.path, tt.header, got, tt.want)
		}
	}
}

// limitedConfig is a config whose route "limited" allows burst requests
// at once, then rps a second, and whose route other has no limit.
func limitedConfig(server string, rps string, burst int, extra string) string {
	return poolConfig("round_robin", "", server) + fmt.Sprintf(`trustedProxies: [127.0.0.1]
routes:
  - name: limited
    pathPrefix: /limited
    rateLimit: {requestsPerSecond: %s, burst: %d}
    pool: p
%s  - name: other
    pool: p
`, rps, burst, extra)
}

// limitedGet sends a request to /limited from client (by
// X-Forwarded-For) and returns the status and Retry-After.
func limitedGet(t *testing.T, base, client string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/limited", nil)
	req.Header.Set("X-Forwarded-For", client)
	resp, _ := roundTrip(t, req)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func TestRouteRateLimit(t *testing.T) {
	var forwarded atomic.Int64
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) { forwarded.Add(1) })
	g, base := startGateway(t, withAdmin(limitedConfig(b.URL, "0.1", 2, "")))
	start := time.Now()
	for i, want := range []int{200, 200, 429, 429} {
		status, retry := limitedGet(t, base, "192.0.2.1")
		if status != want {
			t.Fatalf("request %d: status %d, want %d", i, status, want)
		}
		// A token comes back every 10s: the next one 10s after the first
		// request, less the time gone since, in whole seconds rounded up.
		if want == 429 {
			lo := int((10*time.Second - time.Since(start) + time.Second - 1) / time.Second)
			if n, err := strconv.Atoi(retry); err != nil || n < lo || n > 10 {
				t.Errorf("request %d: Retry-After %q, want %d to 10", i, retry, lo)
			}
		}
	}
	if n := forwarded.Load(); n != 2 {
		t.Errorf("%d requests reached the backend, want 2", n)
	}
	// Another client has its own bucket; another route has no limit.
	if status, _ := limitedGet(t, base, "192.0.2.2"); status != 200 {
		t.Errorf("another client: status %d", status)
	}
	if status, _ := get(t, http.DefaultClient, base+"/free"); status != 200 {
		t.Errorf("another route: status %d", status)
	}
	_, metrics := adminGet(t, g, "/metrics")
	for _, want := range []string{
		`gateway_rate_limited_total{route="limited"} 2`,
		`gateway_route_requests_total{code="429",route="limited"} 2`,
		`gateway_route_requests_total{code="200",route="limited"} 3`,
		`gateway_route_requests_total{code="200",route="other"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestRouteRateLimitAcrossReloads(t *testing.T) {
	b := startBackend(t, "b", nil)
	g, base := startGateway(t, limitedConfig(b.URL, "0.1", 2, ""))
	for range 2 {
		limitedGet(t, base, "192.0.2.1")
	}
	if status, _ := limitedGet(t, base, "192.0.2.1"); status != 429 {
		t.Fatalf("after the burst: status %d, want 429", status)
	}
	// An unrelated edit keeps the bucket: no fresh burst.
	reloadOK(t, g, limitedConfig(b.URL, "0.1", 2, "  - {name: added, pathPrefix: /added, pool: p}\n"))
	if status, _ := limitedGet(t, base, "192.0.2.1"); status != 429 {
		t.Errorf("after an unrelated reload: status %d, want 429", status)
	}
	// A changed limit starts over with full buckets.
	reloadOK(t, g, limitedConfig(b.URL, "0.1", 3, ""))
	for i := range 3 {
		if status, _ := limitedGet(t, base, "192.0.2.1"); status != 200 {
			t.Errorf("request %d after the limit changed: status %d, want 200", i, status)
		}
	}
	if status, _ := limitedGet(t, base, "192.0.2.1"); status != 429 {
		t.Errorf("past the new burst: status %d, want 429", status)
	}
}

func TestRouteRateLimitTableBoundedEndToEnd(t *testing.T) {
	b := startBackend(t, "b", nil)
	g, base := startGateway(t, limitedConfig(b.URL, "1", 1, ""))
	clients := 3000
	if leakLong() {
		clients = 1_000_000
	}
	start := time.Now()
	for i := range clients {
		client := "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		splitCount(t, base+"/limited", 1, http.Header{"X-Forwarded-For": {client}})
	}
	t.Logf("%d distinct clients in %v", clients, time.Since(start))
	held := g.current().routes.routes[0].limiter.clients()
	if held != min(clients, rateShards*rateShardSize) {
		t.Errorf("the table holds %d clients after %d, want %d", held, clients, min(clients, rateShards*rateShardSize))
	}
}

func TestRouteVisibility(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	logPath := filepath.Join(t.TempDir(), "access.log")
	g, base := startGateway(t, withAdmin(poolsABConfig(a.URL, b.URL, `  - name: api-v2
    host: [api.example.com, "*.api.example.com"]
    pathPrefix: /v2/
    methods: [GET]
    headers: {X-Canary: always}
    rewritePrefix: /
    pools: [{pool: a, weight: 95}, {pool: b, weight: 5}]
    sticky: true
    rateLimit: {requestsPerSecond: 0.5, burst: 1}
  - {host: old.example.com, redirect: {scheme: https, host: new.example.com, code: 301}}
  - {path: /exact, pool: b}
  - {pool: a}
`)+"accessLog: "+logPath+"\ntrustedProxies: [127.0.0.1]\n"))
	send := func(host, path string, header http.Header) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = host
		for k, v := range header {
			req.Header[k] = v
		}
		resp, _ := roundTrip(t, req)
		return resp.StatusCode
	}
	canary := http.Header{"X-Canary": {"always"}}
	if send("api.example.com", "/v2/x", canary) != 200 || send("api.example.com", "/v2/x", canary) != 429 ||
		send("old.example.com", "/", nil) != 301 || send("x", "/exact", nil) != 200 || send("x", "/", nil) != 200 {
		t.Fatal("unexpected status")
	}

	want := []RouteStatus{
		{Name: "api-v2", Hosts: []string{"api.example.com", "*.api.example.com"}, PathPrefix: "/v2/", Methods: []string{"GET"},
			Headers: map[string]string{"X-Canary": "always"}, Action: ActionSplit,
			Pools: []SplitStatus{{Pool: "a", Weight: 95}, {Pool: "b", Weight: 5}}, Sticky: true, RewritePrefix: "/",
			RateLimit: &RateLimitStatus{RequestsPerSecond: 0.5, Burst: 1, Clients: 1}},
		{Name: "routes[1]", Hosts: []string{"old.example.com"}, Action: ActionRedirect,
			Redirect: &RedirectStatus{Scheme: "https", Host: "new.example.com", Code: 301}},
		{Name: "routes[2]", Path: "/exact", Action: ActionPool, Pool: "b"},
		{Name: "routes[3]", Action: ActionPool, Pool: "a"},
	}
	if got := adminStatus(t, g).Routes; !reflect.DeepEqual(got, want) {
		t.Errorf("/status routes =\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
	}

	_, metrics := adminGet(t, g, "/metrics")
	for _, want := range []string{
		`gateway_route_requests_total{code="200",route="api-v2"} 1`,
		`gateway_route_requests_total{code="429",route="api-v2"} 1`,
		`gateway_route_requests_total{code="301",route="routes[1]"} 1`,
		`gateway_route_requests_total{code="200",route="routes[2]"} 1`,
		`gateway_route_requests_total{code="200",route="routes[3]"} 1`,
		`gateway_rate_limited_total{route="api-v2"} 1`,
		`gateway_requests_total{backend="",code="301",pool=""} 1`,
		`gateway_requests_total{backend="",code="429",pool=""} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `gateway_rate_limited_total{route="routes[`) {
		t.Error("a route without a rate limit has a gateway_rate_limited_total series")
	}

	var routes []string
	for _, line := range accessLogLines(t, g, logPath) {
		_, route, _ := strings.Cut(line, `,"route":`)
		routes = append(routes, strings.Trim(route, `"}`))
	}
	if want := []string{"api-v2", "api-v2", "routes[1]", "routes[2]", "routes[3]"}; !slices.Equal(routes, want) {
		t.Errorf("access log routes %q, want %q", routes, want)
	}
}
