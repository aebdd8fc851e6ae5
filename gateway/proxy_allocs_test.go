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

// TestProxyAllocations keeps the data path at [proxyAllocs] allocations
// per request.
func TestProxyAllocations(t *testing.T) {
	p := startInmemoryProxy(t, benchConfig, benchBackend)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://gateway.test/")
	p.roundTrip(t, req, resp, 3)
	if n := testing.AllocsPerRun(200, func() { p.roundTrip(t, req, resp, 3) }); n > proxyAllocs {
		t.Fatalf("a proxied GET allocates %.1f objects, want at most %d", n, proxyAllocs)
	}
}
