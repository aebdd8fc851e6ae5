//go:build !race

// The race detector allocates on its own and makes sync.Pool drop
// objects at random, so allocations are counted without it only.

package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// proxyAllocs is what one proxied GET allocates, client and backend
// included: nothing. The exchange, the round trip and the connection's
// buffers are pooled, and a bodyless request starts no goroutine.
const proxyAllocs = 0

// routedBenchConfig is benchConfig's backend behind a route that uses
// every feature that costs on each request: a wildcard host, a method
// and a header condition, a rewrite, header rules both ways, a sticky
// split and a rate limit.
const routedBenchConfig = `listen: 127.0.0.1:0
pools:
  p:
    healthCheck: {enabled: false}
    servers: [http://127.0.0.1:9]
  q:
    healthCheck: {enabled: false}
    servers: [http://127.0.0.1:10]
routes:
  - name: routed
    host: ["*.test", other.example]
    pathPrefix: /
    methods: [GET]
    headers: {X-Route: "yes"}
    rewritePrefix: /
    requestHeaders: {set: {X-Env: bench}, add: {Via: gateway}, remove: [X-Debug]}
    responseHeaders: {set: {X-Frame-Options: DENY}, remove: [X-Backend]}
    pools: [{pool: p, weight: 3}, {pool: q, weight: 1}]
    sticky: true
    rateLimit: {requestsPerSecond: 1000000, burst: 1000000}
`

// TestProxyAllocations keeps the data path at [proxyAllocs] allocations
// per request, through a plain route and through one using every route
// feature.
func TestProxyAllocations(t *testing.T) {
	for _, tt := range []struct{ name, config string }{
		{"plain", benchConfig},
		{"routed", routedBenchConfig},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startInmemoryProxy(t, tt.config, benchBackend)
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://gateway.test/")
			req.Header.Set("X-Route", "yes")
			p.roundTrip(t, req, resp, 3)
			if n := testing.AllocsPerRun(200, func() { p.roundTrip(t, req, resp, 3) }); n > proxyAllocs {
				t.Fatalf("a proxied GET allocates %.1f objects, want at most %d", n, proxyAllocs)
			}
		})
	}
}
