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
// in-flight count, the metrics and the access log see the end of a streamed
// response, not the end of the handler. Exchanges are pooled.
type exchange struct {
	g        *Gateway
	pool     *pool
	backend  *backend
	upstream *upstream // what backend.acquire returned
	resp     *fasthttp.Response
	body     io.Reader
	start    time.Time
	status   int
	bytes    int64

	// What the access log needs, copied out of the request context, which
	// is recycled when the handler returns.
	client netip.Addr
	method []byte
	host   []byte
	path   []byte

	scratch []byte
	limit   limitedReader

	// ctx is the request's context while the server writes a streamed
	// response, and stall how long a write to the client may block.
	ctx      *fasthttp.RequestCtx
	stall    time.Duration
	deadline coarseDeadline

	// A chunked body's gathering (see [exchange.WriteTo]): the backend
	// connection, the chunk gathered so far and where chunks go.
	conn     *deadlineConn
	gathered []byte
	out      io.Writer
	written  int64
	outErr   error
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// acquireExchange starts the exchange of ctx on pool p.
func acquireExchange(g *Gateway, p *pool, ctx *fasthttp.RequestCtx) *exchange {
	ex := exchangePool.Get().(*exchange)
	ex.g, ex.pool, ex.start = g, p, ctx.Time()
	return ex
}

// release returns ex to the pool.
func (ex *exchange) release() {
	ex.ctx, ex.stall, ex.deadline, ex.conn = nil, 0, coarseDeadline{}, nil
	ex.g, ex.pool, ex.backend, ex.upstream, ex.resp, ex.body = nil, nil, nil, nil, nil, nil
	ex.status, ex.bytes = 0, 0
	ex.method, ex.host, ex.path = ex.method[:0], ex.host[:0], ex.path[:0]
	ex.limit = limitedReader{}
	exchangePool.Put(ex)
}

// hopHeaders are the hop-by-hop headers a proxy must not forward (RFC 9110
// section 7.6.1), besides those the Connection header names.
var hopHeaders = []string{
	fasthttp.HeaderConnection, "Keep-Alive", fasthttp.HeaderProxyConnection,
	fasthttp.HeaderProxyAuthenticate, fasthttp.HeaderProxyAuthorization,
	fasthttp.HeaderTE, fasthttp.HeaderTrailer, fasthttp.HeaderTransferEncoding,
	fasthttp.HeaderUpgrade,
}

// prepare rewrites the request for its backend: the client's Host is kept,
// hop-by-hop headers go, X-Forwarded-For gets the client appended and
// X-Forwarded-Proto and -Host are set. It returns the hash of the client's
// address for ip_hash.
func (ex *exchange) prepare(ctx *fasthttp.RequestCtx, cfg *config.Config) uint64 {
	req := &ctx.Request
	h := &req.Header
	req.UseHostHeader = true
	h.SetNoDefaultContentType(true)
	peer := peerAddr(ctx)
	ex.client = clientAddr(h, peer, cfg.TrustedProxies)
	ex.stall = cfg.ClientIdleTimeout
	if ex.g.accessLog.on() {
		ex.method = append(ex.method[:0], h.Method()...)
		ex.host = append(ex.host[:0], h.Host()...)
		ex.path = append(ex.path[:0], h.RequestURI()...)
	}
	// One pass finds what must go; most requests have nothing to delete.
	hop, expect := false, false
	for k := range h.All() {
		hop = hop || isHopByHop(k)
		expect = expect || equalFoldString(k, fasthttp.HeaderExpect)
	}
	if hop {
		ex.scratch = deleteHopByHop(h, ex.scratch)
	}
	if expect {
		h.Del(fasthttp.HeaderExpect)
	}

	// X-Forwarded-For: every value the client sent, then the peer, in
	// one header.
	buf := ex.scratch[:0]
	sent := h.PeekAll(fasthttp.HeaderXForwardedFor)
	for _, v := range sent {
		buf = append(append(buf, v...), ", "...)
	}
	buf = peer.AppendTo(buf)
	if len(sent) > 1 {
		h.Del(fasthttp.HeaderXForwardedFor)
	}
	h.SetBytesV(fasthttp.HeaderXForwardedFor, buf)
	ex.scratch = buf
	trusted := trustedPeer(peer, cfg.TrustedProxies)
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
	if ex.pool.algorithm == config.IPHash {
		return clientHash(ex.client)
	}
	return 0
}

// stripHopByHop deletes the hop-by-hop headers of a response header,
// including every header its Connection header names. One pass over the
// header finds whether there is any; only then are they deleted, so the
// usual response costs no deletion. scratch is reused and returned.
func stripHopByHop(h *fasthttp.ResponseHeader, scratch []byte) []byte {
	for k := range h.All() {
		if isHopByHop(k) {
			return deleteHopByHop(h, scratch)
		}
	}
	return scratch
}

// isHopByHop reports whether name is one of [hopHeaders].
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2, 7, 10, 16, 17, 18, 19:
		for _, hop := range hopHeaders {
			if equalFoldString(name, hop) {
				return true
			}
		}
	}
	return false
}

// equalFoldString reports whether b and s are equal under ASCII case
// folding, without converting either.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if x, y := b[i]|0x20, s[i]|0x20; x != y || (x < 'a' || x > 'z') && b[i] != s[i] {
			return false
		}
	}
	return true
}

// deleteHopByHop deletes the hop-by-hop headers of a request or response
// header, including every header its Connection header names. scratch is
// reused and returned.
func deleteHopByHop(h interface {
	Peek(string) []byte
	Del(string)
	DelBytes([]byte)
}, scratch []byte) []byte {
	if conn := h.Peek(fasthttp.HeaderConnection); len(conn) > 0 {
		scratch = append(scratch[:0], conn...)
		for tok := range bytes.SplitSeq(scratch, []byte(",")) {
			tok = bytes.TrimSpace(tok)
			if len(tok) > 0 && !bytes.EqualFold(tok, []byte("close")) && !bytes.EqualFold(tok, []byte("keep-alive")) {
				h.DelBytes(tok)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	return scratch
}

// watchBody puts ex's [limitedReader] in front of req's body stream, if
// req has one, and reports whether it did. The reader fails the stream
// past limit bytes when limit is positive, since a streamed chunked body
// escapes fasthttp's own limit, and it remembers a failure of the client's
// stream (a malformed chunk, a body cut short, a timeout), so that a round
// trip it broke is not held against the backend.
func (ex *exchange) watchBody(req *fasthttp.Request, limit int64) bool {
	if !req.IsBodyStream() {
		return false
	}
	if limit <= 0 {
		limit = math.MaxInt64
	}
	size := max(req.Header.ContentLength(), -1)
	ex.limit = limitedReader{r: req.BodyStream(), left: limit, size: int64(size)}
	req.SetBodyStream(&ex.limit, size)
	return true
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

// limitedReader passes a request body stream on and fails it once more
// than left bytes were read, handing on no byte past the limit. Unlike
// io.LimitedReader, fasthttp does not mistake it for a sized body. It
// records in err how the client's stream failed, a body shorter than its
// Content-Length (size) included.
type limitedReader struct {
	r          io.Reader
	left       int64
	size, read int64
	over       bool
	err        error
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
	if err == io.EOF && l.read < l.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		l.err = err
	}
	return n, err
}

// relay hands the backend's response to the client: the header now, the
// body as the server writes it. ex then belongs to the response and is
// released when the server closes the body.
func (ex *exchange) relay(ctx *fasthttp.RequestCtx, b *backend, resp *fasthttp.Response) {
	ex.backend, ex.resp, ex.status = b, resp, resp.StatusCode()
	out := &ctx.Response
	resp.Header.CopyTo(&out.Header)
	ex.scratch = stripHopByHop(&out.Header, ex.scratch)
	if s := resp.BodyStream(); s != nil {
		ex.body, ex.ctx = s, ctx
		size := resp.Header.ContentLength()
		if size < 0 {
			size = -1
			if a, ok := resp.RemoteAddr().(*backendAddr); ok {
				ex.conn = a.conn
			}
		}
		out.SetBodyStream(ex, size)
		if bytes.HasPrefix(resp.Header.ContentType(), []byte("text/event-stream")) {
			out.ImmediateHeaderFlush = true
		}
		return
	}
	if ex.stall > 0 {
		ctx.SetWriteDeadline(time.Now().Add(ex.stall))
	}
	out.SetBodyRaw(nil)
	if body := resp.Body(); len(body) > 0 {
		out.SetBody(body)
	}
	ex.finish()
}

// Read passes the backend's body to the server, counting bytes. Each read
// gives the server's next write to the client the exchange's stall time
// (the client idle timeout): a client that stops reading for that long is
// cut off, and the server's Close then frees the backend connection.
func (ex *exchange) Read(p []byte) (int, error) {
	if ex.stall > 0 {
		if at, move := ex.deadline.next(time.Now(), ex.stall); move {
			ex.ctx.SetWriteDeadline(at)
		}
	}
	n, err := ex.body.Read(p)
	ex.bytes += int64(n)
	return n, err
}

// Close is called by the server when it has written the body or given up
// on the client: the backend connection goes back to its pool (or is
// closed when unread), and the exchange ends.
func (ex *exchange) Close() error {
	err := ex.resp.CloseBodyStream()
	ex.finish()
	return err
}

// finish ends the exchange: the backend's request is no longer in flight,
// the metrics and the access log see it, and ex is released.
func (ex *exchange) finish() {
	b := ex.backend
	b.served.Add(1)
	b.release(ex.upstream)
	ex.g.observe(ex)
	fasthttp.ReleaseResponse(ex.resp)
	ex.release()
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
