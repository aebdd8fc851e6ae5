package gateway

import (
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
)

// observe counts a finished exchange in the metrics and writes its access
// log line. It takes no lock besides the access log's buffer and does not
// allocate.
func (g *Gateway) observe(ex *exchange) {
	d := time.Since(ex.start)
	if s := ex.pool.stats; s != nil {
		s.forBackend(ex.pool, ex.backend).count(ex.status)
		if ex.status != fasthttp.StatusSwitchingProtocols {
			s.latency.observe(d)
		}
	}
	if log := g.accessLog; log.on() {
		bytes := ex.bytes
		if bytes == 0 && ex.resp != nil {
			bytes = int64(len(ex.resp.Body()))
		}
		log.write(accessEntry{
			start: ex.start, duration: d, client: ex.client,
			method: ex.method, host: ex.host, path: ex.path,
			status: ex.status, bytes: bytes,
			pool: ex.pool.name, backend: ex.backend.name(),
		})
	}
}

// observeRefusal counts a request the gateway answered itself with status,
// under pool p, or under pool "" when p is nil, and backend "".
func (g *Gateway) observeRefusal(ctx *fasthttp.RequestCtx, p *pool, status int) {
	d := time.Since(ctx.Time())
	m := g.metrics
	stats, latency, name := m.unrouted, m.unroutedLatency, ""
	if p != nil {
		name = p.name
		if s := p.stats; s != nil {
			stats, latency = s.refused, s.latency
		}
	}
	stats.count(status)
	latency.observe(d)
	if log := g.accessLog; log.on() {
		h := &ctx.Request.Header
		log.write(accessEntry{
			start: ctx.Time(), duration: d, client: g.refusedClient(ctx),
			method: h.Method(), host: h.Host(), path: h.RequestURI(),
			status: status, bytes: int64(len(ctx.Response.Body())),
			pool: name,
		})
	}
}

// refusedClient returns the address that stands for the client of a
// request the gateway refused, believing X-Forwarded-For from the trusted
// proxies of the current config.
func (g *Gateway) refusedClient(ctx *fasthttp.RequestCtx) netip.Addr {
	peer := peerAddr(ctx)
	if gen := g.gen.Load(); gen != nil {
		return clientAddr(&ctx.Request.Header, peer, gen.cfg.TrustedProxies)
	}
	return peer
}
