package gateway

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
)

// serve is the public listener's request handler. A request's way through
// the package follows its files: it is screened here and routed
// (route.go), its exchange is prepared (prepare.go), a backend is picked
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
	gen, p := g.admit(ctx)
	if p == nil {
		return
	}
	ex := g.prepare(ctx, gen, p, false)
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
	gen, p := g.admit(ctx)
	if p == nil {
		return ctx.Response.StatusCode()
	}
	g.forward(ctx, g.prepare(ctx, gen, p, true))
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

// admit screens a request and routes it. It returns the generation and
// the pool to send the request to, or answers it itself and returns a nil
// pool: 503 before any config, 400 for what [smuggled] and [screen]
// refuse, 308 to https on the plain listener with tls.redirectHTTP, 404
// when no route matches, 413 for a Content-Length over maxBodySize.
func (g *Gateway) admit(ctx *fasthttp.RequestCtx) (*generation, *pool) {
	gen := g.gen.Load()
	if gen == nil {
		g.reject(ctx, nil, fasthttp.StatusServiceUnavailable, "no configuration loaded\n")
		return nil, nil
	}
	h := &ctx.Request.Header
	if smuggled(h) {
		ctx.SetConnectionClose()
		g.reject(ctx, nil, fasthttp.StatusBadRequest, "Content-Length with Transfer-Encoding is not allowed\n")
		return nil, nil
	}
	if status, reason := screen(ctx); status != 0 {
		ctx.SetConnectionClose()
		g.reject(ctx, nil, status, reason)
		return nil, nil
	}
	if redirectsToHTTPS(ctx, gen.cfg) {
		g.redirectToHTTPS(ctx)
		return nil, nil
	}
	p := gen.match(h.Host(), ctx.Path())
	if p == nil {
		g.reject(ctx, nil, fasthttp.StatusNotFound, "no route for this host and path\n")
		return nil, nil
	}
	if limit := gen.cfg.MaxBodySize; limit > 0 && int64(h.ContentLength()) > limit {
		ctx.SetConnectionClose()
		g.reject(ctx, p, fasthttp.StatusRequestEntityTooLarge, "request body too large\n")
		return nil, nil
	}
	return gen, p
}

// reject refuses a request before any of its body was read; when it has
// one, its connection is closed lingeringly after the answer.
func (g *Gateway) reject(ctx *fasthttp.RequestCtx, p *pool, status int, reason string) {
	g.refuse(ctx, p, status, reason)
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

// isUpgrade reports whether the request asks to switch protocols.
func isUpgrade(h *fasthttp.RequestHeader) bool {
	return h.ConnectionUpgrade() && len(h.Peek(fasthttp.HeaderUpgrade)) > 0
}
