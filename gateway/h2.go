package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// HTTP/2 to clients. A connection of the HTTPS listener whose ALPN
// chose "h2" is handed by the public listener's fasthttp server (through
// its NextProto) to that listener's [h2Front]: Go's own HTTP/2 server,
// an [http.Server] serving the connections handed to it on a listener of
// its own. Each stream is then carried into the one data path in a
// [fasthttp.RequestCtx] of its own ([h2Stream]): [Gateway.serve] screens,
// routes, prepares, picks, fails over, relays and observes it exactly as
// it does a request of HTTP/1.1, and the stream writes back what the
// handler left in the context. Only the two edges are HTTP/2's: reading
// the request into the context, and writing the response out of it.

// h2MaxStreams is the number of concurrent streams an HTTP/2 client may
// open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).
const h2MaxStreams = 250

// h2Front is the HTTP/2 server of one [listener], with that listener's
// settings. It serves the connections [h2Front.serveConn] hands it, and
// its shutdown sends each of them GOAWAY and lets their streams finish.
type h2Front struct {
	g   *Gateway
	srv *http.Server
	q   *connQueue
	// done is closed when srv.Serve has returned.
	done chan struct{}
	// ends maps each connection handed over to the channel closed when
	// the server is done with it.
	ends sync.Map
	// retiring is closed once the retirement's shutdown has returned.
	retiring     chan struct{}
	retireOnce   sync.Once
	shutdownOnce sync.Once
}

// newH2Front returns the HTTP/2 server of a listener with settings s:
// clientIdleTimeout closes an idle connection (after GOAWAY), a request
// body has [bodyTimeout] to arrive, and maxHeaderBytes bounds a request's
// header list (SETTINGS_MAX_HEADER_LIST_SIZE).
func newH2Front(g *Gateway, s listenerSettings) *h2Front {
	f := &h2Front{g: g, q: newConnQueue(), done: make(chan struct{}), retiring: make(chan struct{})}
	var protocols http.Protocols
	protocols.SetHTTP1(true) // a connection that did not negotiate h2 never comes here
	protocols.SetHTTP2(true)
	f.srv = &http.Server{
		Handler:        f,
		Protocols:      &protocols,
		ReadTimeout:    bodyTimeout,
		IdleTimeout:    s.idleTimeout,
		MaxHeaderBytes: s.maxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: h2MaxStreams,
		},
		ConnState:   f.connState,
		ConnContext: withConn,
		ErrorLog:    slog.NewLogLogger(g.logger.Handler(), slog.LevelDebug),
	}
	return f
}

// start serves the connections handed over until shutdown.
func (f *h2Front) start() {
	go func() {
		defer close(f.done)
		f.srv.Serve(f.q)
	}()
}

// serveConn is the NextProto handler for "h2": it hands the TLS
// connection under c to the HTTP/2 server and returns when the server is
// done with it, so that the fasthttp server counts it as open until then.
func (f *h2Front) serveConn(c net.Conn) error {
	tc, ok := c.(*tlsClientConn)
	if !ok {
		return c.Close()
	}
	end := make(chan struct{})
	f.ends.Store(tc.tls, end)
	if !f.q.put(tc.tls) {
		f.ends.Delete(tc.tls)
		return tc.tls.Close()
	}
	<-end
	return nil
}

// connState closes the end channel of a connection the server is done with.
func (f *h2Front) connState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	if end, ok := f.ends.LoadAndDelete(c); ok {
		close(end.(chan struct{}))
	}
}

// retire sends every connection GOAWAY, as a retired listener closes its
// HTTP/1.1 connections after their next response: their streams finish,
// and the clients open new connections to the server that took over.
func (f *h2Front) retire() {
	f.retireOnce.Do(func() {
		go func() {
			defer close(f.retiring)
			f.srv.Shutdown(context.Background())
		}()
	})
}

// shutdown sends every connection GOAWAY and waits, until ctx is done,
// for their streams to finish; then it closes what is left.
func (f *h2Front) shutdown(ctx context.Context) error {
	var err error
	f.shutdownOnce.Do(func() {
		if err = f.srv.Shutdown(ctx); err != nil {
			f.srv.Close()
		}
		<-f.done
		f.retireOnce.Do(func() { close(f.retiring) })
		<-f.retiring
	})
	return err
}

// connQueue is the [net.Listener] an [h2Front] serves: the connections
// handed to it, until it is closed.
type connQueue struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// put hands c to the server, or reports false once the queue is closed.
func (q *connQueue) put(c net.Conn) bool {
	select {
	case q.conns <- c:
		return true
	case <-q.closed:
		return false
	}
}

// Accept returns the next connection handed over.
func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

// Close stops the queue taking connections.
func (q *connQueue) Close() error {
	q.closeOnce.Do(func() { close(q.closed) })
	return nil
}

// Addr returns a placeholder: the connections come from the entrance.
func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{} }

// h2Stream is one HTTP/2 stream as the data path sees it: a
// [fasthttp.RequestCtx] over a [net.Conn] that stands for the stream. Its
// remote and local addresses and its TLS state are those of the client's
// connection; its deadlines are the stream's own (a read deadline in the
// past ends a read of the request body waiting for the client); reading
// and writing it directly is not possible. Streams are pooled.
type h2Stream struct {
	ctx fasthttp.RequestCtx
	tc  *tls.Conn
	w   http.ResponseWriter
	rc  *http.ResponseController
	r   *http.Request
}

var h2Streams = sync.Pool{New: func() any { return new(h2Stream) }}

// errStreamConn is the error of reading or writing an [h2Stream] as a
// connection.
var errStreamConn = errors.New("an HTTP/2 stream is not a connection")

// ServeHTTP serves one HTTP/2 stream through [Gateway.serve], or
// refuses a gRPC request with 415 (see [isGRPC]).
func (f *h2Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tc, ok := connOf(r)
	if !ok {
		http.Error(w, "no connection", http.StatusInternalServerError)
		return
	}
	s := h2Streams.Get().(*h2Stream)
	s.tc, s.w, s.r = tc, w, r
	s.rc = http.NewResponseController(w)
	ctx := &s.ctx
	ctx.Init2(s, fasthttpLogger{f.g.logger}, false)
	ctx.Response.Header.SetNoDefaultContentType(true)
	s.readRequest(r)
	if isGRPC(r) {
		f.g.refuse(ctx, nil, http.StatusUnsupportedMediaType, "gRPC is not supported: backends are spoken to in HTTP/1.1\n")
	} else {
		f.g.serve(ctx)
	}
	s.writeResponse()
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.ResetUserValues()
	s.tc, s.w, s.rc, s.r = nil, nil, nil, nil
	h2Streams.Put(s)
}

// isGRPC reports whether r is a gRPC request ("application/grpc", with
// or without a "+codec" suffix; gRPC-Web, which HTTP/1.1 carries, is
// not). gRPC needs HTTP/2 up to the backend, which the gateway does not
// speak: forwarded in HTTP/1.1, such a request would fail at a gRPC
// server and count against it.
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// connKey is the context key of a request's [tls.Conn].
type connKey struct{}

// withConn is the server's ConnContext: it keeps the connection in the
// context of its requests.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connOf returns the TLS connection the HTTP/2 request r came on.
func connOf(r *http.Request) (*tls.Conn, bool) {
	tc, ok := r.Context().Value(connKey{}).(*tls.Conn)
	return tc, ok
}

// readRequest copies r's head into the context's request as HTTP/1.1
// has it: the method, the target (:path), Host from :authority, the
// header fields, the Content-Length when the client gave one or a
// chunked body otherwise, and the body as the request's body stream.
func (s *h2Stream) readRequest(r *http.Request) {
	h := &s.ctx.Request.Header
	h.SetMethod(r.Method)
	h.SetRequestURI(r.RequestURI)
	h.SetHost(r.Host)
	for k, vs := range r.Header {
		if k == "Host" || k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	switch {
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
		// No body. A content-length the client sent (0) is kept; without
		// one the request goes out unframed, as an HTTP/1.1 GET does.
		if len(r.Header["Content-Length"]) > 0 {
			h.SetContentLength(0)
		}
	case r.ContentLength > 0:
		s.ctx.Request.SetBodyStream(r.Body, int(r.ContentLength))
	default:
		s.ctx.Request.SetBodyStream(r.Body, -1)
	}
}

// writeResponse writes what the handler left in the context to the
// stream: the status and header fields, hop-by-hop ones aside, and the
// body, a streamed one flushed as each piece arrives from the backend
// (so that server-sent events reach the client as they are sent), with
// the backend's trailer fields after it. The body stream is closed at the
// end, which ends the exchange.
func (s *h2Stream) writeResponse() {
	resp := &s.ctx.Response
	out := s.w.Header()
	// No Content-Type is sniffed and added, as on HTTP/1.1.
	out["Content-Type"] = nil
	for k, v := range resp.Header.All() {
		if h2Forbidden(k) {
			continue
		}
		key := string(k)
		if key == "Content-Type" {
			out[key] = []string{string(v)}
			continue
		}
		out[key] = append(out[key], string(v))
	}
	s.w.WriteHeader(resp.StatusCode())
	if !resp.IsBodyStream() {
		if body := resp.Body(); len(body) > 0 {
			s.w.Write(body)
		}
		return
	}
	if resp.ImmediateHeaderFlush {
		s.rc.Flush()
	}
	body := resp.BodyStream()
	bp := bodyBuffers.Get().(*[]byte)
	for {
		n, err := body.Read(*bp)
		if n > 0 {
			if _, werr := s.w.Write((*bp)[:n]); werr != nil {
				break
			}
			if s.rc.Flush() != nil {
				break
			}
		}
		if err != nil {
			if err == io.EOF {
				for _, k := range resp.Header.PeekTrailerKeys() {
					if v := resp.Header.PeekBytes(k); len(v) > 0 {
						out[http.TrailerPrefix+string(k)] = []string{string(v)}
					}
				}
			}
			break
		}
	}
	bodyBuffers.Put(bp)
	resp.CloseBodyStream()
}

// h2Forbidden reports whether a response header field k may not go out
// over HTTP/2: the connection-specific ones (RFC 9113, section 8.2.2),
// and Trailer, which the trailer fields themselves declare.
func h2Forbidden(k []byte) bool {
	for _, f := range [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Trailer"} {
		if equalFoldString(k, f) {
			return true
		}
	}
	return false
}

// interim sends an interim (1xx) response with the header fields of h.
func (s *h2Stream) interim(h *fasthttp.ResponseHeader) {
	out := s.w.Header()
	var keys []string
	for k, v := range h.All() {
		if h2Forbidden(k) || equalFoldString(k, fasthttp.HeaderContentLength) {
			continue
		}
		key := string(k)
		if _, had := out[key]; !had {
			keys = append(keys, key)
		}
		out[key] = append(out[key], string(v))
	}
	s.w.WriteHeader(h.StatusCode())
	for _, k := range keys {
		delete(out, k)
	}
}

// Read fails: the request body is read through the request.
func (s *h2Stream) Read([]byte) (int, error) { return 0, errStreamConn }

// Write fails: the response is written by [h2Stream.writeResponse].
func (s *h2Stream) Write([]byte) (int, error) { return 0, errStreamConn }

// Close does nothing: the stream ends when its handler returns.
func (s *h2Stream) Close() error { return nil }

// LocalAddr returns the local address of the client's connection.
func (s *h2Stream) LocalAddr() net.Addr { return s.tc.LocalAddr() }

// RemoteAddr returns the address of the client.
func (s *h2Stream) RemoteAddr() net.Addr { return s.tc.RemoteAddr() }

// SetDeadline sets both deadlines of the stream.
func (s *h2Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of reading the request body.
func (s *h2Stream) SetReadDeadline(t time.Time) error { return s.rc.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of writing the response.
func (s *h2Stream) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

// Handshake does nothing: the connection's handshake is done.
func (s *h2Stream) Handshake() error { return nil }

// ConnectionState returns the TLS state of the client's connection.
func (s *h2Stream) ConnectionState() tls.ConnectionState { return s.tc.ConnectionState() }
