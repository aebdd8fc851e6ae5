package gateway

import (
	"bytes"
	"strings"
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
	if status, reason := screen(ctx); status != 0 {
		ctx.SetConnectionClose()
		g.refuse(ctx, nil, status, reason)
		return
	}
	p := gen.match(h.Host(), ctx.Path())
	if p == nil {
		g.refuse(ctx, nil, fasthttp.StatusNotFound, "no route for this host and path\n")
		return
	}
	if isUpgrade(h) {
		g.tunnel(ctx, gen, p)
		return
	}
	cfg := gen.cfg
	if limit := cfg.MaxBodySize; limit > 0 {
		if cl := h.ContentLength(); int64(cl) > limit {
			ctx.SetConnectionClose()
			g.refuse(ctx, p, fasthttp.StatusRequestEntityTooLarge, "request body too large\n")
			return
		}
	}
	ex := acquireExchange(g, p, ctx)
	client := ex.prepare(ctx, cfg)
	g.forward(ctx, ex, p, client, cfg.MaxBodySize)
}

// forward sends the prepared request to a backend of p and relays the
// response, or answers with an error status when no backend can. maxBody is
// the body limit of the generation the request started on.
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, ex *exchange, p *pool, client uint64, maxBody int64) {
	req := &ctx.Request
	bodyless := !req.IsBodyStream() && len(req.Body()) == 0
	if ex.watchBody(req, maxBody) {
		bodyless = false
	}
	var tried uint64
	failure := failNone
	flushed := false
	for attempt := 0; attempt <= len(p.backends); attempt++ {
		i := p.selector.pick(p, client, tried)
		if i < 0 {
			break
		}
		b := p.backends[i]
		resp := fasthttp.AcquireResponse()
		u := b.acquire()
		err := u.client.Do(req, resp)
		if err == nil {
			if resp.StatusCode() >= 500 && p.on5xx {
				g.passiveFailure(p, b, "status "+statusText(resp.StatusCode()))
			}
			ex.upstream = u
			ex.relay(ctx, b, resp)
			return
		}
		b.release(u)
		fasthttp.ReleaseResponse(resp)
		if status, reason := ex.uploadFailure(); status != 0 {
			// The client's body broke the round trip: not the backend's fault.
			ex.release()
			ctx.SetConnectionClose()
			g.refuse(ctx, p, status, reason)
			return
		}
		b.failures.Add(1)
		failure = classify(err)
		g.passiveFailure(p, b, failure.String())
		// Nothing reached a backend that refused the connection, and a
		// backend that reset it before any response byte gave no answer:
		// the request goes to the next backend, unless its body has been
		// streamed out already and cannot be sent again.
		retry := failure == failConnect || (failure == failReset && bodyless)
		if !retry || i >= 64 {
			break
		}
		if failure == failReset && !flushed {
			// A backend that restarted leaves every pooled connection to it
			// dead, more than the client's own retry gets through: drop
			// them, and let b be picked again on a fresh connection.
			u.client.CloseIdleConnections()
			flushed = true
			continue
		}
		tried |= 1 << uint(i)
	}
	ex.release()
	switch failure {
	case failNone:
		ctx.Response.Header.Set("Retry-After", "1")
		g.refuse(ctx, p, fasthttp.StatusServiceUnavailable, "no healthy backend for this route\n")
	case failTimeout:
		g.refuse(ctx, p, fasthttp.StatusGatewayTimeout, "the backend did not answer in time\n")
	default:
		g.refuse(ctx, p, fasthttp.StatusBadGateway, "no backend could be reached\n")
	}
}

// passiveFailure counts a failed exchange with b towards its passive
// ejection, and ejects it when p keeps another healthy backend.
func (g *Gateway) passiveFailure(p *pool, b *backend, reason string) {
	passive := b.settings.Load().passive
	if passive.MaxFails <= 0 {
		return
	}
	if b.health.ReportFailure(time.Now(), passive) && p.healthyOtherThan(b) {
		b.health.Eject(passive.EjectFor, passive.Reason()+", the last: "+reason)
	}
}

// refuse answers the request itself with status and a plain-text reason.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, p *pool, status int, reason string) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.SetStatusCode(status)
	ctx.Response.SetBodyString(reason)
	g.observeRefusal(ctx, p, status)
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

// screen refuses what fasthttp accepts but a proxy must not pass on, and
// fills in what the forwarded request lacks. It returns the status and
// reason to refuse the request with, or 0:
//   - a version other than HTTP/1.0 and HTTP/1.1, which fasthttp would
//     forward verbatim ("HTTP/2.0"): 505;
//   - CONNECT, which would ask a backend to open a tunnel for the client:
//     405;
//   - a header name with white space in it ("Transfer Encoding"), which
//     fasthttp keeps as it is while a backend may read it otherwise: 400;
//   - a Host that is not a host and port (RFC 3986, section 3.2.2), such
//     as one with non-ASCII bytes, which route matching would fold by
//     Unicode rules ("\u017fecret" would match "secret"): 400.
//
// An absolute-form target names the host itself, so it replaces the Host
// header for routing and forwarding (RFC 9112, section 3.2.2); an HTTP/1.0
// request without Host gets the address the client connected to, which the
// backend's HTTP/1.1 request must carry.
func screen(ctx *fasthttp.RequestCtx) (int, string) {
	h := &ctx.Request.Header
	if p := h.Protocol(); !bytes.Equal(p, strHTTP11) && !bytes.Equal(p, strHTTP10) {
		return fasthttp.StatusHTTPVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported\n"
	}
	if h.IsConnect() {
		return fasthttp.StatusMethodNotAllowed, "CONNECT is not supported\n"
	}
	for k := range h.All() {
		if bytes.IndexByte(k, ' ') >= 0 || bytes.IndexByte(k, '\t') >= 0 {
			return fasthttp.StatusBadRequest, "white space in a header name is not allowed\n"
		}
	}
	if uri := h.RequestURI(); len(uri) > 0 && uri[0] != '/' && uri[0] != '*' {
		h.SetHostBytes(ctx.URI().Host())
	}
	if len(h.Host()) == 0 {
		h.SetHost(ctx.LocalAddr().String())
	}
	for _, c := range h.Host() {
		if !hostByte(c) {
			return fasthttp.StatusBadRequest, "malformed Host header\n"
		}
	}
	return 0, ""
}

// hostByte reports whether c may appear in a Host header: in a reg-name,
// an IP literal or the port (RFC 3986, section 3.2.2).
func hostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~!$&'()*+,;=%:[]", c) >= 0
}

var (
	strHTTP11 = []byte("HTTP/1.1")
	strHTTP10 = []byte("HTTP/1.0")
)
