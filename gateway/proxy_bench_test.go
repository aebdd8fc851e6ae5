package gateway

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// benchConfig is one round-robin pool of one backend with health checks
// off: the data path and nothing else.
const benchConfig = `listen: 127.0.0.1:0
pools:
  p:
    healthCheck: {enabled: false}
    servers: [http://127.0.0.1:9]
`

// benchBackend answers like the benchmark upstream: its name on /, n
// bytes on /bytes?n=N.
func benchBackend(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("X-Backend", "b0")
	if ctx.IsPost() {
		ctx.SetBody(ctx.PostBody()[:min(3, len(ctx.PostBody()))])
		return
	}
	if bytes.Equal(ctx.Path(), []byte("/bytes")) {
		n, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("n")))
		ctx.SetBody(benchPayload[:min(n, len(benchPayload))])
		return
	}
	ctx.SetBodyString("b0\n")
}

var benchPayload = bytes.Repeat([]byte("x"), 64<<10)

// roundTrip sends req through p and checks that the answer is 200 with a
// body of want bytes.
func (p *inmemoryProxy) roundTrip(tb testing.TB, req *fasthttp.Request, resp *fasthttp.Response, want int) {
	if err := p.client.Do(req, resp); err != nil {
		tb.Fatalf("proxied GET: %v", err)
	}
	if resp.StatusCode() != fasthttp.StatusOK || len(resp.Body()) != want {
		tb.Fatalf("proxied GET: status %d, %d body bytes; want 200, %d", resp.StatusCode(), len(resp.Body()), want)
	}
}

// BenchmarkProxy measures one proxied GET through the gateway, backend
// and client included, over in-memory connections.
func BenchmarkProxy(b *testing.B) {
	for _, tt := range []struct {
		name, uri string
		size      int
	}{
		{"small", "http://gateway.test/", 3},
		{"64KiB", "http://gateway.test/bytes?n=65536", 64 << 10},
	} {
		b.Run(tt.name, func(b *testing.B) {
			p := startInmemoryProxy(b, benchConfig, benchBackend)
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(tt.uri)
			p.roundTrip(b, req, resp, tt.size)
			b.ReportAllocs()
			b.SetBytes(int64(tt.size))
			for b.Loop() {
				p.roundTrip(b, req, resp, tt.size)
			}
		})
	}
}

// BenchmarkProxyPost measures one proxied POST of a 1 KiB body, which the
// round trip sends from a goroutine of its own while it reads the answer.
func BenchmarkProxyPost(b *testing.B) {
	p := startInmemoryProxy(b, benchConfig, benchBackend)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://gateway.test/post")
	req.Header.SetMethod("POST")
	req.SetBody(benchPayload[:1<<10])
	p.roundTrip(b, req, resp, 3)
	b.ReportAllocs()
	for b.Loop() {
		p.roundTrip(b, req, resp, 3)
	}
}

// BenchmarkProxyParallel measures proxied GETs from many connections at
// once.
func BenchmarkProxyParallel(b *testing.B) {
	p := startInmemoryProxy(b, benchConfig, benchBackend)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://gateway.test/")
		for pb.Next() {
			p.roundTrip(b, req, resp, 3)
		}
	})
}
