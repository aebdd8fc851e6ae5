package gateway

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// serve is the public listener's request handler. A request's way through
// the package follows its files: it is screened here and routed
// (route.go, split.go, rate_limit.go), its exchange is prepared (prepare.go), a backend is picked
// and tried, failing over to the next (pick.go), in a round trip
// (roundtrip.go) over the backend's connections (upstream_conn.go), the
// response is relayed (relay.go, or tunnel.go after a 101), and the
// exchange is counted and logged (observe.go).
func (g *Gateway) serve(ctx *fasthttp.RequestCtx) {
	noLinger(ctx)
	if p, ok := ctx.UserValue(pendingKey{}).(*pendingExchange); ok {
		ctx.RemoveUserValue(pendingKey{})
		g.resume(ctx, p.ex)
		return
	}
	rt, ok := g.admit(ctx)
	if !ok {
		return
	}
	ex := g.prepare(ctx, rt, false)
	ex.attachBody(ctx)
	g.forward(ctx, ex)
}

// expect is the server's ExpectHandler, which runs when a request asks
// for 100-continue, before any of its body is read. The gateway does what
// curl and HAProxy do: it forwards Expect and holds the body back until
// the backend sends 100 Continue, or for at most [expectWait] without an
// answer. Then expect returns 100, the server sends the client its one
// 100 Continue, and the handler goes on with the exchange stashed here. A
// backend that answers at once (401, 413) has that answer relayed, and
// the client, told no 100, need not send its body: expect returns the
// answer's status, which makes the server write it and close the
// connection. A request refused before any backend (no route, over
// maxBodySize) is answered the same way.
func (g *Gateway) expect(ctx *fasthttp.RequestCtx) int {
	noLinger(ctx)
	h := &ctx.Request.Header
	if cl := h.ContentLength(); cl != -1 && cl <= 0 || isUpgrade(h) {
		return fasthttp.StatusContinue // nothing to hold back
	}
	rt, ok := g.admit(ctx)
	if !ok {
		return ctx.Response.StatusCode()
	}
	g.forward(ctx, g.prepare(ctx, rt, true))
	if ctx.UserValue(pendingKey{}) != nil {
		return fasthttp.StatusContinue
	}
	return ctx.Response.StatusCode()
}

// pendingKey is the user value key of a [pendingExchange].
type pendingKey struct{}

// pendingExchange carries an exchange whose client is told to continue
// from the ExpectHandler to the handler. Should the handler never run (the
// client's connection broke), the server closes it with the request, and
// the exchange ends.
type pendingExchange struct {
	ex *exchange
}

// stash keeps ex for the handler, which resumes it.
func (ex *exchange) stash(ctx *fasthttp.RequestCtx) {
	ctx.SetUserValue(pendingKey{}, &ex.pending)
}

// Close ends an exchange the handler never resumed.
func (p *pendingExchange) Close() error {
	ex := p.ex
	ex.call.end()
	ex.backend.release(ex.upstream)
	ex.release()
	return nil
}

// routed is where [Gateway.admit] sends a request: the generation it
// started on, the route it matched, the pool it goes to, and the address
// that stands for its client.
type routed struct {
	gen    *generation
	route  *route
	pool   *pool
	client netip.Addr
	// clientHash is the hash of client, when the route or the pool needs
	// one (see [clientHash]).
	clientHash uint64
}

// admit screens a request and routes it. It returns where the request
// goes, or answers it itself and returns false: 503 before any config,
// 400 for what [smuggled] and [screen] refuse, 308 to https on the plain
// listener with tls.redirectHTTP, 404 when no route matches, 429 past the
// route's rate limit, the route's redirect, and 413 for a Content-Length
// over maxBodySize.
func (g *Gateway) admit(ctx *fasthttp.RequestCtx) (routed, bool) {
	gen := g.gen.Load()
	if gen == nil {
		g.reject(ctx, nil, nil, fasthttp.StatusServiceUnavailable, "no configuration loaded\n")
		return routed{}, false
	}
	h := &ctx.Request.Header
	if smuggled(h) {
		ctx.SetConnectionClose()
		g.reject(ctx, nil, nil, fasthttp.StatusBadRequest, "Content-Length with Transfer-Encoding is not allowed\n")
		return routed{}, false
	}
	if status, reason := screen(ctx); status != 0 {
		ctx.SetConnectionClose()
		g.reject(ctx, nil, nil, status, reason)
		return routed{}, false
	}
	if redirectsToHTTPS(ctx, gen.cfg) {
		g.redirectToHTTPS(ctx)
		return routed{}, false
	}
	req := routeRequest{host: h.Host(), path: ctx.Path(), method: h.Method(), header: h}
	r := gen.routes.match(&req)
	if r == nil {
		g.reject(ctx, nil, nil, fasthttp.StatusNotFound, "no route for this host and path\n")
		return routed{}, false
	}
	rt := routed{gen: gen, route: r, client: clientAddr(h, peerAddr(ctx), gen.cfg.TrustedProxies)}
	if r.limiter != nil || r.split != nil && r.split.sticky {
		rt.clientHash = clientHash(rt.client)
	}
	if r.limiter != nil {
		if ok, wait := r.limiter.allow(rt.client, rt.clientHash, time.Now()); !ok {
			if r.stats != nil {
				r.stats.limited.Add(1)
			}
			ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(retryAfter(wait), 10))
			g.reject(ctx, r, nil, fasthttp.StatusTooManyRequests, "too many requests\n")
			return routed{}, false
		}
	}
	switch {
	case r.redirect != nil:
		g.redirect(ctx, r)
		return routed{}, false
	case r.split != nil:
		rt.pool = r.split.pick(rt.clientHash)
	default:
		rt.pool = r.pool
	}
	if limit := gen.cfg.MaxBodySize; limit > 0 && int64(h.ContentLength()) > limit {
		ctx.SetConnectionClose()
		g.reject(ctx, r, rt.pool, fasthttp.StatusRequestEntityTooLarge, "request body too large\n")
		return routed{}, false
	}
	return rt, true
}

// redirect answers a request that matched a redirecting route r.
func (g *Gateway) redirect(ctx *fasthttp.RequestCtx, r *route) {
	h := &ctx.Request.Header
	target := h.RequestURI()
	if len(target) == 0 || target[0] != '/' || bytes.IndexByte(target, '#') >= 0 {
		target = originForm(nil, target) // absolute form, rare
	}
	bp := locationBuffers.Get().(*[]byte)
	*bp = r.redirect.location((*bp)[:0], ctx.IsTLS(), h.Host(), target, ctx.URI().RequestURI)
	ctx.Response.Header.SetBytesV(fasthttp.HeaderLocation, *bp)
	locationBuffers.Put(bp)
	g.reject(ctx, r, nil, r.redirect.code, "")
}

// locationBuffers holds the buffers redirect locations are built in.
var locationBuffers = sync.Pool{New: func() any { return new([]byte) }}

// reject refuses a request, for route r and pool p when it got so far,
// before any of its body was read; when it has one, its connection is
// closed lingeringly after the answer.
func (g *Gateway) reject(ctx *fasthttp.RequestCtx, r *route, p *pool, status int, reason string) {
	g.answer(ctx, r, p, status, reason)
	if cl := ctx.Request.Header.ContentLength(); cl > 0 || cl == -1 {
		closeLingering(ctx)
	}
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
// header for routing and forwarding (RFC 9112, section 3.2.2); its scheme
// decides nothing. An HTTP/1.0 request without Host gets the address the
// client connected to, which the backend's HTTP/1.1 request must carry.
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

var strHTTP10 = []byte("HTTP/1.0")

// smuggled reports whether a request carries both Content-Length and
// Transfer-Encoding, which fasthttp accepts (chunked wins) but a proxy must
// refuse rather than forward.
func smuggled(h *fasthttp.RequestHeader) bool {
	if h.ContentLength() != -1 {
		return false
	}
	raw := h.RawHeaders()
	for line := range bytes.SplitSeq(raw, []byte("\n")) {
		if len(line) > len("content-length:") && bytes.EqualFold(line[:len("content-length:")], []byte("content-length:")) {
			return true
		}
	}
	return false
}

// isUpgrade reports whether the request asks to switch protocols to one
// the gateway tunnels. An upgrade to cleartext HTTP/2 (h2c) is not one: a
// backend that switched would get every later request of the connection
// through the tunnel, past routes, limits, header rules and logs (h2c
// smuggling), so such a request is proxied as a plain one, its Upgrade
// and HTTP2-Settings removed with the other hop-by-hop headers.
func isUpgrade(h *fasthttp.RequestHeader) bool {
	if !h.ConnectionUpgrade() {
		return false
	}
	up := h.Peek(fasthttp.HeaderUpgrade)
	return len(up) > 0 && !hasToken(up, "h2c")
}
