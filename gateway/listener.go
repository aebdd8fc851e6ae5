package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"
)

// listener is the public listener: one bound address and the fasthttp
// server that serves it with the settings of the config that bound it.
type listener struct {
	cfg  listenerSettings
	ln   net.Listener
	srv  *fasthttp.Server
	done chan struct{}
}

// listenerSettings are the config keys that shape the public listener; a
// reload that changes any of them binds a new listener.
type listenerSettings struct {
	addr                       string
	headerTimeout, idleTimeout time.Duration
	maxHeaderBytes             int
	maxConnections             int
}

func settingsOf(cfg *Config) listenerSettings {
	return listenerSettings{
		addr:           cfg.Listen,
		headerTimeout:  cfg.ClientHeaderTimeout,
		idleTimeout:    cfg.ClientIdleTimeout,
		maxHeaderBytes: cfg.MaxHeaderBytes,
		maxConnections: cfg.MaxConnections,
	}
}

// changed reports whether cfg needs a different listener than l.
func (l *listener) changed(cfg *Config) bool {
	return l.cfg != settingsOf(cfg)
}

// bodyTimeout bounds the time a client may take to send a request body
// once its header has arrived.
const bodyTimeout = 5 * time.Minute

// listen binds the listener cfg asks for. The socket is bound with
// SO_REUSEPORT so that a reload changing only the listener's settings can
// bind the same address again before the old socket is closed.
func (g *Gateway) listen(cfg *Config) (*listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	s := settingsOf(cfg)
	srv := &fasthttp.Server{
		Handler:                      g.serve,
		ErrorHandler:                 g.serveError,
		HeaderReceived:               func(*fasthttp.RequestHeader) fasthttp.RequestConfig { return fasthttp.RequestConfig{ReadTimeout: bodyTimeout} },
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		ReadBufferSize:               s.maxHeaderBytes,
		WriteBufferSize:              16 << 10,
		ReadTimeout:                  s.headerTimeout,
		IdleTimeout:                  s.idleTimeout,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Concurrency:                  s.maxConnections,
		Logger:                       fasthttpLogger{g.logger},
	}
	return &listener{cfg: s, ln: ln, srv: srv, done: make(chan struct{})}, nil
}

// start serves the listener in a goroutine that ends when the listener is
// closed.
func (l *listener) start() {
	go func() {
		defer close(l.done)
		l.srv.Serve(l.ln)
	}()
}

// stopAccepting closes the socket; connections already accepted go on.
func (l *listener) stopAccepting() {
	l.ln.Close()
	<-l.done
}

// close releases a listener that was never started.
func (l *listener) close() { l.ln.Close() }

// shutdown stops accepting and waits, until ctx is done, for the
// connections in flight to finish.
func (l *listener) shutdown(ctx context.Context) error {
	err := l.srv.ShutdownWithContext(ctx)
	<-l.done
	return err
}

// serveError answers a request the server could not read: 431 for a header
// too large, 408 for a client too slow, 413 for a body too large, and 400
// for anything malformed. The connection is closed after each.
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
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.SetStatusCode(status)
	ctx.Response.SetBodyString(fasthttp.StatusMessage(status) + "\n")
}

// fasthttpLogger sends fasthttp's own messages to the gateway's log.
type fasthttpLogger struct{ l interface{ Debug(string, ...any) } }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("server", "message", fmt.Sprintf(format, args...))
}
