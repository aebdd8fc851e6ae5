package gateway

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// observe counts a finished exchange in the metrics and writes its access
// log line. It takes no lock besides the access log's buffer and does not
// allocate.
func (g *Gateway) observe(ex *exchange) {
	d := time.Since(ex.start)
	if s := ex.route.stats; s != nil {
		s.codes.count(ex.status)
	}
	if s := ex.pool.stats; s != nil {
		s.forBackend(ex.pool, ex.backend).count(ex.status)
		if ex.status != fasthttp.StatusSwitchingProtocols {
			s.latency.observe(d)
		}
	}
	if log := g.accessLog; log.on() {
		log.write(accessEntry{
			start: ex.start, duration: d, client: ex.client,
			method: ex.method, host: ex.host, path: ex.path,
			status: ex.status, bytes: ex.bytes,
			pool: ex.pool.name, backend: ex.backend.name(),
			route: ex.route.label, err: ex.failure,
		})
	}
}

// refuse answers the request itself with status and a plain-text reason,
// for pool p, or for no pool when p is nil.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, p *pool, status int, reason string) {
	g.answer(ctx, nil, p, status, reason)
}

// answer answers the request itself with status and a plain-text reason
// (no body when reason is empty), for route r and pool p, either of which
// may be nil, and counts and logs it.
func (g *Gateway) answer(ctx *fasthttp.RequestCtx, r *route, p *pool, status int, reason string) {
	if reason != "" {
		ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	}
	ctx.Response.SetStatusCode(status)
	ctx.Response.SetBodyString(reason)
	// As every answer does (see [exchange.armWrite]).
	ctx.SetWriteDeadline(time.Time{})
	g.observeRefusal(ctx, r, p, status)
}

// observeRefusal counts a request the gateway answered itself with status,
// for route r and under pool p, or under pool "" when p is nil, and
// backend "".
func (g *Gateway) observeRefusal(ctx *fasthttp.RequestCtx, r *route, p *pool, status int) {
	d := time.Since(ctx.Time())
	m := g.metrics
	stats, latency, name, label := m.unrouted, m.unroutedLatency, "", ""
	if p != nil {
		name = p.name
		if s := p.stats; s != nil {
			stats, latency = s.refused, s.latency
		}
	}
	if r != nil {
		label = r.label
		if r.stats != nil {
			r.stats.codes.count(status)
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
			pool: name, route: label,
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

// warnFailure logs at warn that backend b of pool p failed a request:
// status is the 502 or 504 the client got, or 0 for a response cut short
// after its head went out. At most one line a second is written per
// backend; the next says how many were left out.
func (g *Gateway) warnFailure(p *pool, b *backend, status int, cause string, err error) {
	ok, suppressed := b.warnings.allow(time.Now())
	if !ok {
		return
	}
	args := make([]any, 0, 12)
	args = append(args, "pool", p.name, "backend", b.name(), "cause", cause)
	if err != nil {
		args = append(args, "error", err.Error())
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	if status == 0 {
		g.logger.Warn("response cut short", args...)
		return
	}
	g.logger.Warn("backend failed", append(args, "status", status)...)
}

// logGate lets one log line a second through and counts those it holds
// back, with no lock: a flood of failures costs one line a second.
type logGate struct {
	second     atomic.Int64
	suppressed atomic.Uint64
}

// allow reports whether a line may be written at now, and how many were
// held back since the last one.
func (l *logGate) allow(now time.Time) (bool, uint64) {
	s := now.Unix()
	if last := l.second.Load(); last != s && l.second.CompareAndSwap(last, s) {
		return true, l.suppressed.Swap(0)
	}
	l.suppressed.Add(1)
	return false, 0
}
