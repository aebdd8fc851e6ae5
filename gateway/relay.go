package gateway

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// relay hands the backend's final response, whose head try left in
// ctx.Response.Header, to the client: the head now, with the route's
// response header rules applied, the body as the server writes it. No
// Content-Type or Server is added to the head;
// hop-by-hop fields go, and the connection to the client stays
// the client's: the backend's version and its wish to close are its own.
// A body already in the read buffer is copied and the exchange ends at
// once; a longer one is streamed, and the exchange ends when the server
// closes it ([exchange.Close]). An HTTP/1.0 client gets a body of unknown
// length delimited by the end of the connection rather than chunked; a
// 101 to an upgrade request turns the connection into a tunnel.
func (ex *exchange) relay(ctx *fasthttp.RequestCtx) {
	out := &ctx.Response
	h := &out.Header
	ex.status = h.StatusCode()
	if !ex.route.response.empty() {
		ex.route.response.apply(h)
	}
	if ex.status == fasthttp.StatusSwitchingProtocols {
		ex.tunnel(ctx)
		return
	}
	ex.scratch = stripHopByHop(h, ex.scratch)
	h.ResetConnectionClose()
	h.SetProtocol(nil)
	if ex.http10 {
		h.Del(fasthttp.HeaderTrailer)
	}
	ex.armWrite(ctx)

	r := &ex.call.resp
	br := ex.call.conn.br
	switch {
	case r.mode == bodyNone:
		ex.finish()
	case r.mode == bodyLength && r.left <= int64(br.Buffered()) && len(h.PeekTrailerKeys()) == 0:
		body, _ := br.Peek(int(r.left))
		out.SetBody(body)
		ex.bytes = int64(len(body))
		br.Discard(len(body))
		r.left, r.err = 0, io.EOF
		ex.finish()
	case ex.http10 && r.mode != bodyLength:
		ex.relayUntilClose(ctx)
	default:
		size := -1
		if r.mode == bodyLength {
			size = int(r.left)
		}
		out.SetBodyStream(ex, size)
		if bytes.HasPrefix(h.ContentType(), []byte("text/event-stream")) {
			out.ImmediateHeaderFlush = true
		}
	}
}

// Read passes the backend's body to the server, counting bytes. Each read
// gives the server's next write to the client the exchange's stall time
// (the client idle timeout): a client that stops reading for that long is
// cut off, and the server's Close then frees the backend connection. At
// the end of a chunked body the backend's trailer fields are handed on.
func (ex *exchange) Read(p []byte) (int, error) {
	if ex.stall > 0 && ex.ctx != nil {
		if at, move := ex.deadline.next(time.Now(), ex.stall); move {
			ex.ctx.SetWriteDeadline(at)
		}
	}
	r := &ex.call.resp
	n, err := r.Read(p)
	ex.bytes += int64(n)
	if err == io.EOF && len(r.trailer) > 0 && !ex.http10 && ex.ctx != nil {
		addTrailer(&ex.ctx.Response.Header, r.trailer)
	}
	return n, err
}

// addTrailer adds the "Name: value\r\n" lines of trailer to h as trailer
// fields, which the server writes after the last chunk. A field that may
// not be a trailer (Content-Length, Host, ...) is dropped.
func addTrailer(h *fasthttp.ResponseHeader, trailer []byte) {
	for line := range bytes.SplitSeq(trailer, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || h.AddTrailerBytes(name) != nil {
			continue
		}
		h.AddBytesKV(name, bytes.TrimSpace(value))
	}
}

// Close is called by the server when it has written the body or given up
// on the client: the exchange ends.
func (ex *exchange) Close() error {
	ex.finish()
	return nil
}

// finish ends the exchange: the round trip ends (the connection goes back
// to the pool if it can), a body the backend broke off is counted against
// it, the backend's request is no longer in flight, the metrics and the
// access log see it, and ex is released. A client whose body was not read
// to its end gets its connection closed lingeringly.
func (ex *exchange) finish() {
	c := &ex.call
	b := ex.backend
	broken := c.resp.err
	c.end()
	switch broken {
	case errBodyCut, errBodyTimeout, errBodyInvalid:
		ex.failure = broken.Error()
		ex.g.backendFailed(ex.pool, b, ex.failure)
		ex.g.warnFailure(ex.pool, b, 0, ex.failure, nil)
	}
	if ex.ctx != nil && ex.bodyUnread() {
		closeLingering(ex.ctx)
	}
	b.served.Add(1)
	b.release(ex.upstream)
	ex.g.observe(ex)
	ex.release()
}

// interim writes an interim answer, 103 Early Hints say, to the client
// before the final one, unless the client speaks HTTP/1.0, which knows
// none (RFC 9110, section 15.2); an HTTP/2 stream sends it as HEADERS
// ([h2Stream.interim]). The server writes nothing itself until
// the handler returns, and it flushed the previous answer (see
// [exchange.relay]), so the bytes go straight to the connection.
func (ex *exchange) interim(h *fasthttp.ResponseHeader) {
	if ex.http10 || ex.ctx == nil {
		return
	}
	ex.scratch = stripHopByHop(h, ex.scratch)
	if s, ok := ex.ctx.Conn().(*h2Stream); ok {
		s.interim(h)
		return
	}
	buf := append(ex.scratch[:0], "HTTP/1.1 "...)
	buf = strconv.AppendInt(buf, int64(h.StatusCode()), 10)
	buf = append(buf, ' ')
	if msg := h.StatusMessage(); len(msg) > 0 {
		buf = append(buf, msg...)
	} else {
		buf = append(buf, fasthttp.StatusMessage(h.StatusCode())...)
	}
	buf = append(buf, "\r\n"...)
	for k, v := range h.All() {
		if equalFoldString(k, fasthttp.HeaderContentLength) {
			continue
		}
		buf = append(append(append(append(buf, k...), ": "...), v...), "\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	ex.scratch = buf
	ex.armWrite(ex.ctx)
	ex.ctx.Conn().Write(buf)
}

// armWrite gives the next write to the client the exchange's stall time.
// Every answer sets such a deadline, which also makes the server flush it
// before the connection's next request is read: an interim answer that
// [exchange.interim] writes straight to the connection never overtakes
// it.
func (ex *exchange) armWrite(ctx *fasthttp.RequestCtx) {
	var at time.Time
	if ex.stall > 0 {
		at, _ = ex.deadline.next(time.Now(), ex.stall)
	}
	ctx.SetWriteDeadline(at)
}

// relayUntilClose relays a body of unknown length to an HTTP/1.0 client,
// which cannot read chunks: the head says Connection: close and no
// length, and the body ends where the connection does. The server cannot
// write such a response, so the handler takes the connection over.
func (ex *exchange) relayUntilClose(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.SetConnectionClose()
	ex.scratch = h.AppendBytes(ex.scratch[:0])
	ex.ctx = nil
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(ex.writeUntilClose)
}

// writeUntilClose writes the head and body relayUntilClose prepared to
// the client's connection c, then ends the exchange; the server closes c.
func (ex *exchange) writeUntilClose(c net.Conn) {
	defer ex.finish()
	var deadline coarseDeadline
	write := func(p []byte) error {
		if at, move := deadline.next(time.Now(), ex.stall); move {
			c.SetWriteDeadline(at)
		}
		_, err := c.Write(p)
		return err
	}
	if write(ex.scratch) != nil {
		return
	}
	bp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bp)
	for {
		n, err := ex.Read(*bp)
		if n > 0 && write((*bp)[:n]) != nil {
			return
		}
		if err != nil {
			return
		}
	}
}
