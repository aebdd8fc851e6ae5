package gateway

import (
	"crypto/tls"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// How long, and how much, a lingering close reads from a client that is
// still sending a body nobody will read.
const (
	lingerTime  = 5 * time.Second
	lingerBytes = 32 << 20
)

// clientListener hands the server each accepted connection as a
// [clientConn], or a [tlsClientConn] for one of the HTTPS listener.
type clientListener struct {
	net.Listener
}

// Accept returns the next connection.
func (l clientListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok {
		return &tlsClientConn{clientConn: clientConn{Conn: tc}, tls: tc}, nil
	}
	return &clientConn{Conn: c}, nil
}

// tlsClientConn is a [clientConn] over TLS. It shows the server its TLS
// state, so that fasthttp runs the handshake on the connection's own
// goroutine (bounded by clientHeaderTimeout), hands a connection whose
// ALPN chose another protocol to that protocol's handler, and tells the
// requests that they came over TLS (ctx.IsTLS, X-Forwarded-Proto https).
type tlsClientConn struct {
	clientConn
	tls *tls.Conn
}

// Handshake runs the TLS handshake, if it has not run yet.
func (c *tlsClientConn) Handshake() error { return c.tls.Handshake() }

// ConnectionState returns the state of the TLS connection.
func (c *tlsClientConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// handshakeFailed reports whether c is a TLS connection whose handshake
// did not complete: it carries no request.
func handshakeFailed(c net.Conn) bool {
	tc, ok := c.(*tlsClientConn)
	return ok && !tc.tls.ConnectionState().HandshakeComplete
}

// asClientConn returns the [clientConn] that c is or holds, or nil.
func asClientConn(c net.Conn) *clientConn {
	switch c := c.(type) {
	case *clientConn:
		return c
	case *tlsClientConn:
		return &c.clientConn
	}
	return nil
}

// clientConn is a client connection that can close lingeringly. When the
// gateway answers before it has read the client's body (an early 401 or
// 413 to an upload), closing the socket while the client still sends
// would reset the connection, and the client's kernel would throw the
// answer away unread. A lingering close shuts down the writing side after
// the answer, then reads and drops what the client still sends, for at
// most [lingerTime] and [lingerBytes], before it closes, as nginx's
// lingering_close does.
type clientConn struct {
	net.Conn
	// linger is set by the request being served, on the connection's
	// goroutine, and read by Close there or after the handler hijacked
	// the connection.
	linger bool
}

// Close closes c, lingeringly when the last request asked for it.
func (c *clientConn) Close() error {
	if !c.linger {
		return c.Conn.Close()
	}
	c.linger = false
	return lingerClose(c.Conn, lingerTime, lingerBytes)
}

// lingerClose closes c after shutting down its writing side and reading
// and dropping what the peer still sends, for at most d and n bytes, so
// that a peer still sending reads the answer it was given rather than a
// reset. A connection that cannot shut down its writing side is closed at
// once. A TLS connection sends its close_notify, and what the peer still
// sends is dropped unread beneath TLS.
func lingerClose(c net.Conn, d time.Duration, n int64) error {
	if tc, ok := c.(*tls.Conn); ok {
		tc.CloseWrite()
		c = tc.NetConn()
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.SetReadDeadline(time.Now().Add(d))
		io.CopyN(io.Discard, c, n)
	}
	return c.Close()
}

// closeLingering makes the server close the connection of ctx after this
// request's answer, and close it lingeringly: the request's body was not
// read to its end, so the connection cannot carry another request, and
// the client may still be sending it. Reads from the client are cut off
// at once, so that the server does not wait for that body either.
func closeLingering(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose()
	if c := asClientConn(ctx.Conn()); c != nil {
		c.linger = true
		c.Conn.SetReadDeadline(aLongTimeAgo)
	}
}

// noLinger clears what an earlier request on the connection of ctx asked
// of its close; it is a safeguard, as closeLingering makes sure the
// connection carries no further request.
func noLinger(ctx *fasthttp.RequestCtx) {
	if c := asClientConn(ctx.Conn()); c != nil {
		c.linger = false
	}
}
