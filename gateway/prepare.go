package gateway

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/valyala/fasthttp"
)

// exchange is one proxied request's state from the moment a route matched
// until the last byte of the response has gone to the client. It is the
// response body stream the server writes from, so that the backend's
// in-flight count, the metrics and the access log see the end of a
// streamed response, not the end of the handler. Exchanges are pooled.
type exchange struct {
	g        *Gateway
	route    *route
	pool     *pool
	backend  *backend
	upstream *upstream // what backend.acquire returned
	start    time.Time
	status   int
	bytes    int64
	// failure says what broke the response off, for the access log.
	failure string

	// What the access log needs, copied out of the request before it is
	// rewritten for the backend.
	client netip.Addr
	method []byte
	host   []byte
	path   []byte

	// The request as backends get it: its head, written once and sent to
	// every backend tried, and its body.
	head       []byte
	hasBody    bool
	bodySize   int64 // -1: chunked
	limit      limitedReader
	upgrade    bool   // an Upgrade request, tunnelled after a 101
	upgradeTo  []byte // its Upgrade header
	expect     bool   // the client waits for 100 Continue, and the gateway for the backend's
	http10     bool   // the client speaks HTTP/1.0: no interim answers, no chunked body
	headOnly   bool   // a HEAD request
	maxBody    int64  // the body limit of the generation the request started on
	clientHash uint64
	scratch    []byte

	call call

	// ctx is the request's context until the response has been written,
	// and stall how long a write to the client may block.
	ctx      *fasthttp.RequestCtx
	stall    time.Duration
	deadline coarseDeadline

	// A chunked body's gathering (see [exchange.WriteTo]): the chunk
	// gathered so far and where chunks go.
	gathered []byte
	out      io.Writer
	written  int64
	outErr   error

	// pending carries the exchange from the ExpectHandler to the handler.
	pending pendingExchange
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// acquireExchange starts the exchange of ctx on route r and pool p.
func acquireExchange(g *Gateway, r *route, p *pool, ctx *fasthttp.RequestCtx) *exchange {
	ex := exchangePool.Get().(*exchange)
	ex.g, ex.route, ex.pool, ex.start, ex.ctx = g, r, p, ctx.Time(), ctx
	ex.pending.ex = ex
	return ex
}

// release returns ex to the pool.
func (ex *exchange) release() {
	ex.call.reset()
	ex.ctx, ex.stall, ex.deadline = nil, 0, coarseDeadline{}
	ex.g, ex.route, ex.pool, ex.backend, ex.upstream = nil, nil, nil, nil, nil
	ex.status, ex.bytes, ex.failure = 0, 0, ""
	ex.method, ex.host, ex.path = ex.method[:0], ex.host[:0], ex.path[:0]
	ex.head, ex.upgradeTo = ex.head[:0], ex.upgradeTo[:0]
	ex.hasBody, ex.bodySize, ex.upgrade, ex.expect, ex.http10, ex.headOnly = false, 0, false, false, false, false
	ex.clientHash, ex.maxBody = 0, 0
	ex.limit = limitedReader{}
	exchangePool.Put(ex)
}

// prepare starts the exchange of a request that admit routed to rt. It
// copies what the access log needs and rewrites the request for its
// backends: the client's Host is kept byte for byte, the target goes out
// in origin form (path and query byte-exact, a fragment dropped) whatever
// form the client used, hop-by-hop headers go (an Upgrade's are set
// again, and TE is reduced to "trailers" when the client accepts them),
// X-Forwarded-For gets the peer appended, X-Forwarded-Proto and -Host are
// set, and Expect stays only when expect says the gateway waits for the
// backend's 100 Continue. Then the route's rewritePrefix and request
// header rules change what they name, which validation keeps from the
// headers above. The head is then written once, for every backend the
// request may be tried on.
func (g *Gateway) prepare(ctx *fasthttp.RequestCtx, rt routed, expect bool) *exchange {
	ex := acquireExchange(g, rt.route, rt.pool, ctx)
	cfg := rt.gen.cfg
	h := &ctx.Request.Header
	h.SetNoDefaultContentType(true)
	peer := peerAddr(ctx)
	ex.client = rt.client
	ex.stall = cfg.ClientIdleTimeout
	ex.http10 = !h.IsHTTP11()
	ex.upgrade = isUpgrade(h)
	ex.headOnly = h.IsHead()
	ex.expect = expect
	ex.maxBody = cfg.MaxBodySize
	if g.accessLog.on() {
		ex.method = append(ex.method[:0], h.Method()...)
		ex.host = append(ex.host[:0], h.Host()...)
		ex.path = append(ex.path[:0], h.RequestURI()...)
	}
	if ex.upgrade {
		ex.upgradeTo = append(ex.upgradeTo[:0], h.Peek(fasthttp.HeaderUpgrade)...)
	}
	switch cl := h.ContentLength(); {
	case cl > 0:
		ex.hasBody, ex.bodySize = true, int64(cl)
	case cl == -1:
		ex.hasBody, ex.bodySize = true, -1
	}

	// One pass finds what must go; most requests have nothing to delete.
	hop, hasExpect := false, false
	for k := range h.All() {
		hop = hop || isHopByHop(k)
		hasExpect = hasExpect || equalFoldString(k, fasthttp.HeaderExpect)
	}
	if hop {
		trailers := hasToken(h.Peek(fasthttp.HeaderTE), "trailers")
		ex.scratch = deleteHopByHop(h, ex.scratch)
		if trailers {
			h.Set(fasthttp.HeaderTE, "trailers")
		}
		if ex.bodySize < 0 {
			h.SetContentLength(-1) // Transfer-Encoding: chunked again
		}
		if ex.upgrade {
			h.Set(fasthttp.HeaderConnection, "Upgrade")
			h.SetBytesV(fasthttp.HeaderUpgrade, ex.upgradeTo)
		}
	}
	if hasExpect && !expect {
		h.Del(fasthttp.HeaderExpect)
	}
	ex.scratch = forwardedHeaders(ctx, h, peer, cfg.TrustedProxies, ex.scratch)

	if target := h.RequestURI(); len(target) == 0 || target[0] != '/' || bytes.IndexByte(target, '#') >= 0 {
		ex.scratch = originForm(ex.scratch[:0], target)
		h.SetRequestURIBytes(ex.scratch)
	}
	if r := ex.route; r.hasRewrite {
		ex.scratch = rewriteTarget(ctx, r, ex.scratch)
	}
	if !ex.route.request.empty() {
		ex.route.request.apply(h)
	}
	// The client's version and its wish to close stay with the client:
	// the backend gets HTTP/1.1 on a connection it may keep.
	if ex.http10 {
		h.SetProtocolBytes(strHTTP11)
	}
	h.ResetConnectionClose()
	ex.head = h.AppendBytes(ex.head[:0])

	if ex.pool.algorithm == config.IPHash {
		ex.clientHash = rt.clientHash
		if ex.clientHash == 0 {
			ex.clientHash = clientHash(ex.client)
		}
	}
	return ex
}

// rewriteTarget replaces the route's path prefix at the start of the
// request's origin-form target with its rewritePrefix, as
// [rewritePrefix] says. scratch is reused and returned.
func rewriteTarget(ctx *fasthttp.RequestCtx, r *route, scratch []byte) []byte {
	h := &ctx.Request.Header
	out, ok := rewritePrefix(scratch[:0], h.RequestURI(), ctx.URI().RequestURI, r.prefix, r.rewrite)
	if ok {
		h.SetRequestURIBytes(out)
	}
	return out
}

// forwardedHeaders sets X-Forwarded-For to every value the client sent
// and the peer, in one header, and X-Forwarded-Proto and -Host, which are
// kept from a trusted proxy. scratch is reused and returned.
func forwardedHeaders(ctx *fasthttp.RequestCtx, h *fasthttp.RequestHeader, peer netip.Addr, trustedProxies []netip.Prefix, scratch []byte) []byte {
	buf := scratch[:0]
	sent := h.PeekAll(fasthttp.HeaderXForwardedFor)
	for _, v := range sent {
		buf = append(append(buf, v...), ", "...)
	}
	buf = peer.AppendTo(buf)
	if len(sent) > 1 {
		h.Del(fasthttp.HeaderXForwardedFor)
	}
	h.SetBytesV(fasthttp.HeaderXForwardedFor, buf)
	trusted := trustedPeer(peer, trustedProxies)
	if !trusted || len(h.Peek(fasthttp.HeaderXForwardedProto)) == 0 {
		if ctx.IsTLS() {
			h.Set(fasthttp.HeaderXForwardedProto, "https")
		} else {
			h.Set(fasthttp.HeaderXForwardedProto, "http")
		}
	}
	if !trusted || len(h.Peek(fasthttp.HeaderXForwardedHost)) == 0 {
		h.SetBytesV(fasthttp.HeaderXForwardedHost, h.Host())
	}
	return buf
}

// originForm appends to dst the origin form of a request target: the
// path and query of an absolute-form target ("http://host/p?q" gives
// "/p?q", "http://host?q" gives "/?q"), byte for byte, without a
// fragment. The asterisk form ("*") stays as it is.
func originForm(dst, target []byte) []byte {
	if i := bytes.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	if len(target) > 0 && (target[0] == '/' || target[0] == '*') {
		return append(dst, target...)
	}
	if i := bytes.Index(target, []byte("://")); i >= 0 {
		target = target[i+3:]
	}
	rest := target[len(target):]
	if i := bytes.IndexAny(target, "/?"); i >= 0 {
		rest = target[i:]
	}
	if len(rest) == 0 || rest[0] != '/' {
		dst = append(dst, '/')
	}
	return append(dst, rest...)
}

// attachBody puts ex's [limitedReader] in front of the request's body
// stream, which fasthttp sets up once the request's header is in (after
// 100 Continue for a request that expects it). The reader fails the
// stream past maxBodySize bytes when that is set, since a streamed chunked
// body escapes fasthttp's own limit, and remembers how the client's
// stream failed.
func (ex *exchange) attachBody(ctx *fasthttp.RequestCtx) {
	req := &ctx.Request
	if !ex.hasBody || !req.IsBodyStream() {
		ex.hasBody = false
		return
	}
	limit := ex.maxBody
	if limit <= 0 {
		limit = math.MaxInt64
	}
	ex.limit = limitedReader{r: req.BodyStream(), left: limit, size: ex.bodySize, conn: ctx.Conn(), header: &req.Header}
}

// bodyUnread reports whether the client's body has not been read to its
// end, so that its connection cannot carry another request.
func (ex *exchange) bodyUnread() bool {
	l := &ex.limit
	return ex.hasBody && !l.eof && (l.size < 0 || l.read < l.size)
}

// uploadFailure returns the status to answer with when the client's body
// stream, not the backend, ended the round trip, or 0: 413 past the size
// limit, 408 when the client was too slow, 400 otherwise.
func (ex *exchange) uploadFailure() (int, string) {
	var ne net.Error
	switch err := ex.limit.err; {
	case ex.limit.over:
		return fasthttp.StatusRequestEntityTooLarge, "request body too large\n"
	case err == nil:
		return 0, ""
	case errors.As(err, &ne) && ne.Timeout():
		return fasthttp.StatusRequestTimeout, "the request body did not arrive in time\n"
	}
	return fasthttp.StatusBadRequest, "the request body is malformed or incomplete\n"
}

// errBodyTooLarge ends a request body that passed the size limit.
var errBodyTooLarge = errors.New("request body too large")

// limitedReader is the client's body as the round trip sends it (a
// [requestBody]): it fails the stream once more than left bytes were
// read, handing on no byte past the limit, and records in err how the
// client's stream failed, a body shorter than its Content-Length (size)
// included. Unlike io.LimitedReader, fasthttp does not mistake it for a
// sized body.
type limitedReader struct {
	r          io.Reader
	left       int64
	size, read int64
	over, eof  bool
	err        error
	// conn is the client's connection, header the request's, where
	// fasthttp puts the trailer fields of a chunked body.
	conn   net.Conn
	header *fasthttp.RequestHeader
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.over {
		return 0, errBodyTooLarge
	}
	// Read at most one byte past the limit: that byte tells the body is
	// too large, and none of it is handed on.
	if int64(len(p)) > l.left {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		l.over = true
		n = int(l.left)
		l.left, l.read = 0, l.read+int64(n)
		return n, errBodyTooLarge
	}
	l.left -= int64(n)
	l.read += int64(n)
	switch {
	case err == io.EOF && l.size >= 0 && l.read < l.size:
		err = io.ErrUnexpectedEOF
	case err == io.EOF:
		l.eof = true
	}
	if err != nil && err != io.EOF {
		l.err = err
	}
	return n, err
}

// trailer returns the trailer fields of a chunked body that has ended.
func (l *limitedReader) trailer() []byte {
	if !l.eof || l.header == nil {
		return nil
	}
	t := l.header.TrailerHeader()
	return t[:len(t)-2] // without the empty line
}

// interrupt makes a read waiting for the client return at once; the
// connection cannot carry another request after it.
func (l *limitedReader) interrupt() {
	if l.conn != nil {
		l.conn.SetReadDeadline(aLongTimeAgo)
	}
}

// peerAddr returns the TCP peer of ctx.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if ta, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.IPv4Unspecified()
}

// trustedPeer reports whether peer is one of the trusted proxies.
func trustedPeer(peer netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// clientAddr returns the address that stands for the client: the TCP peer,
// or, when the peer is a trusted proxy, the rightmost address of
// X-Forwarded-For that is not itself a trusted proxy.
func clientAddr(h *fasthttp.RequestHeader, peer netip.Addr, trusted []netip.Prefix) netip.Addr {
	if len(trusted) == 0 || !trustedPeer(peer, trusted) {
		return peer
	}
	client := peer
	// Walk every X-Forwarded-For value; later ones were appended later.
	for _, v := range h.PeekAll(fasthttp.HeaderXForwardedFor) {
		for part := range bytes.SplitSeq(v, []byte(",")) {
			a, err := netip.ParseAddr(string(bytes.TrimSpace(part)))
			if err != nil {
				continue
			}
			a = a.Unmap()
			if !trustedPeer(a, trusted) {
				client = a
			}
		}
	}
	return client
}

var strHTTP11 = []byte("HTTP/1.1")
