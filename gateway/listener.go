package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync/atomic"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/valyala/fasthttp"
)

// listener is one server of the public [entrance]: a fasthttp server with
// the settings of the config that started it, taking connections from its
// view of the entrance.
type listener struct {
	cfg  listenerSettings
	view *entranceView
	srv  *fasthttp.Server
	done chan struct{} // closed when Serve has returned
	// h2 serves the connections of the HTTPS listener that negotiate
	// HTTP/2, with the same settings.
	h2 *h2Front

	// retired is set once a newer server has taken over: every response
	// then closes its connection.
	retired atomic.Bool
}

// listenerSettings are the config keys that shape the public listener's
// server; a reload that changes any of them starts a new server. Neither
// the address nor maxConnections is one of them: both belong to the
// [entrance], and a new address or cap applies to the running server.
type listenerSettings struct {
	headerTimeout, idleTimeout time.Duration
	maxHeaderBytes             int
}

func settingsOf(cfg *config.Config) listenerSettings {
	return listenerSettings{
		headerTimeout:  cfg.ClientHeaderTimeout,
		idleTimeout:    cfg.ClientIdleTimeout,
		maxHeaderBytes: cfg.MaxHeaderBytes,
	}
}

// bodyTimeout bounds the time a client may take to send a request body
// once its header has arrived.
const bodyTimeout = 5 * time.Minute

// newListener returns the server cfg asks for, serving the public entrance
// once started: plain connections, and those of the HTTPS listener in TLS.
// A TLS connection's handshake runs on the connection's goroutine, bounded
// by ReadTimeout (clientHeaderTimeout); when its ALPN chooses "h2"
// (which [alpnProtocols] offers with tls.http2), the server's NextProto
// hands the connection to the listener's [h2Front] instead, whose
// streams take the same data path.
func (g *Gateway) newListener(cfg *config.Config) *listener {
	s := settingsOf(cfg)
	l := &listener{cfg: s, view: g.public.view(), done: make(chan struct{}), h2: newH2Front(g, s)}
	l.srv = &fasthttp.Server{
		Handler:                      l.handler(g.serve),
		ErrorHandler:                 g.serveError,
		HeaderReceived:               bodyDeadline,
		ExpectHandler:                g.expect,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		ReadBufferSize:               s.maxHeaderBytes,
		WriteBufferSize:              serverWriteBuffer,
		ReadTimeout:                  s.headerTimeout,
		IdleTimeout:                  s.idleTimeout,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		// An idle keep-alive connection gives its write buffer back to
		// the server's pool after each response. (Its read buffer stays:
		// fasthttp keeps it while it streams request bodies.)
		ReduceMemoryUsage: true,
		// The entrance enforces maxConnections for all servers together
		// and answers over it itself; this server never refuses one.
		Concurrency: math.MaxInt32,
		Logger:      fasthttpLogger{g.logger},
	}
	l.srv.NextProto("h2", l.h2.serveConn)
	return l
}

// handler returns serve, followed, once l is retired, by closing the
// connection after the response.
func (l *listener) handler(serve fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		serve(ctx)
		if l.retired.Load() {
			ctx.SetConnectionClose()
		}
	}
}

// serverWriteBuffer is the size of a client connection's write buffer:
// large enough that a 64 KiB response leaves in a few writes, small
// enough that 256 connections hold 8 MiB of them.
const serverWriteBuffer = 32 << 10

// bodyDeadline gives a request with a body [bodyTimeout] to send it, in
// place of the header timeout that ran until its header arrived. A request
// without one keeps the header timeout, which none of its reads outlives,
// and its connection's timer is left alone.
func bodyDeadline(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if h.ContentLength() == 0 {
		return fasthttp.RequestConfig{}
	}
	return fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
}

// start serves the listener in a goroutine that ends when its view of the
// entrance is closed.
func (l *listener) start() {
	l.h2.start()
	go func() {
		defer close(l.done)
		l.srv.Serve(clientListener{l.view})
	}()
}

// retire stops l taking connections and closes each of its connections
// after its next response, which says Connection: close, or at l's idle
// timeout if none comes: no connection keeps an old config's settings for
// more than one request. Idle connections are not closed at once, since a
// client may be sending on one as it closes and see an error. Its HTTP/2
// connections get GOAWAY: their open streams finish, and their clients
// open new connections for the next ones.
func (l *listener) retire() {
	l.view.Close()
	<-l.done
	l.retired.Store(true)
	l.h2.retire()
}

// shutdown stops l taking connections and waits, until ctx is done, for
// its connections to finish: HTTP/2 ones get GOAWAY and finish their
// open streams. What is left when ctx is done is closed.
func (l *listener) shutdown(ctx context.Context) error {
	l.view.Close()
	h2err := make(chan error, 1)
	go func() { h2err <- l.h2.shutdown(ctx) }()
	err := l.srv.ShutdownWithContext(ctx)
	<-l.done
	return errors.Join(err, <-h2err)
}

// serveError answers a request the server could not read: 431 for a header
// too large, 408 for a client too slow, 413 for a body too large, and 400
// for anything malformed. The connection is closed after each: at once
// after a 408, lingeringly after the others, whose client may still be
// sending what the server did not read (see [closeLingering]).
func (g *Gateway) serveError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	status := fasthttp.StatusBadRequest
	switch {
	case errors.As(err, &small):
		status = fasthttp.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &ne) && ne.Timeout():
		status = fasthttp.StatusRequestTimeout
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status = fasthttp.StatusRequestEntityTooLarge
	}
	ctx.SetConnectionClose()
	if handshakeFailed(ctx.Conn()) {
		// Not a request: a TLS handshake that failed (or timed out) has
		// nothing to answer on.
		g.logger.Debug("TLS handshake failed", "client", ctx.RemoteAddr().String(), "error", err)
		return
	}
	g.refuse(ctx, nil, status, fasthttp.StatusMessage(status)+"\n")
	if status != fasthttp.StatusRequestTimeout {
		closeLingering(ctx)
	}
}

// fasthttpLogger sends fasthttp's own messages to the gateway's log.
type fasthttpLogger struct {
	l interface{ Debug(string, ...any) }
}

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("server", "message", fmt.Sprintf(format, args...))
}
