package gateway

import (
	"time"

	"github.com/valyala/fasthttp"
)

// serve is the public listener's request handler: it matches a route, picks
// a backend of its pool and forwards the request, failing over to the next
// backend when the chosen one could not be reached.
func (g *Gateway) serve(ctx *fasthttp.RequestCtx) {
	gen := g.gen.Load()
	if gen == nil {
		g.refuse(ctx, nil, fasthttp.StatusServiceUnavailable, "no configuration loaded\n")
		return
	}
	h := &ctx.Request.Header
	if smuggled(h) {
		ctx.SetConnectionClose()
		g.refuse(ctx, nil, fasthttp.StatusBadRequest, "Content-Length with Transfer-Encoding is not allowed\n")
		return
	}
	pool := gen.match(h.Host(), ctx.Path())
	if pool == nil {
		g.refuse(ctx, nil, fasthttp.StatusNotFound, "no route for this host and path\n")
		return
	}
	if isUpgrade(h) {
		g.tunnel(ctx, gen, pool)
		return
	}
	cfg := gen.Config
	if limit := cfg.MaxBodySize; limit > 0 {
		if cl := h.ContentLength(); int64(cl) > limit {
			ctx.SetConnectionClose()
			g.refuse(ctx, pool, fasthttp.StatusRequestEntityTooLarge, "request body too large\n")
			return
		}
	}
	ex := acquireExchange(g, pool, ctx)
	client := ex.prepare(ctx, cfg)
	g.forward(ctx, ex, pool, client)
}

// forward sends the prepared request to a backend of pool and relays the
// response, or answers with an error status when no backend can.
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, ex *exchange, pool *Pool, client uint64) {
	req := &ctx.Request
	bodyless := !req.IsBodyStream() && len(req.Body()) == 0
	if lim := ex.limited(req, g.gen.Load().Config.MaxBodySize); lim != nil {
		req = lim
		bodyless = false
	}
	var tried uint64
	failure := failNone
	for attempt := 0; attempt < len(pool.Backends); attempt++ {
		i := pool.selector.pick(pool, client, tried)
		if i < 0 {
			break
		}
		b := pool.Backends[i]
		resp := fasthttp.AcquireResponse()
		b.acquire()
		err := b.client.Do(req, resp)
		if err == nil {
			if resp.StatusCode() >= 500 && pool.on5xx {
				g.passiveFailure(pool, b, "status "+statusText(resp.StatusCode()))
			}
			ex.relay(ctx, b, resp)
			return
		}
		b.release()
		fasthttp.ReleaseResponse(resp)
		b.failures.Add(1)
		failure = classify(err)
		g.passiveFailure(pool, b, failure.String())
		retry := failure == failConnect || (failure == failReset && bodyless)
		if !retry || i >= 64 {
			break
		}
		tried |= 1 << uint(i)
	}
	ex.release()
	switch failure {
	case failNone:
		ctx.Response.Header.Set("Retry-After", "1")
		g.refuse(ctx, pool, fasthttp.StatusServiceUnavailable, "no healthy backend for this route\n")
	case failTimeout:
		g.refuse(ctx, pool, fasthttp.StatusGatewayTimeout, "the backend did not answer in time\n")
	default:
		g.refuse(ctx, pool, fasthttp.StatusBadGateway, "no backend could be reached\n")
	}
}

// passiveFailure counts a failed exchange with b towards its passive
// ejection, and ejects it when the pool keeps another healthy backend.
func (g *Gateway) passiveFailure(pool *Pool, b *Backend, reason string) {
	if b.passive.MaxFails <= 0 {
		return
	}
	if b.Health.ReportFailure(time.Now(), b.passive) && pool.healthyOtherThan(b) {
		b.Health.Eject(b.passive.EjectFor, "passive: "+reason)
	}
}

// refuse answers the request itself with status and a plain-text reason.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, pool *Pool, status int, reason string) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.SetStatusCode(status)
	ctx.Response.SetBodyString(reason)
	g.observeRefusal(ctx, pool, status)
}

// statusText formats a status code without allocating for common codes.
func statusText(code int) string {
	if code >= 100 && code < 1000 {
		return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
	}
	return "???"
}

func (f upstreamFailure) String() string {
	switch f {
	case failConnect:
		return "connect failed"
	case failReset:
		return "connection reset"
	case failTimeout:
		return "timeout"
	case failOther:
		return "bad response"
	}
	return "ok"
}
