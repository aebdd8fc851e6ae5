package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/valyala/fasthttp"
)

// listener is the public listener: a bound socket and the fasthttp server
// that serves it with the settings of the config that bound it.
type listener struct {
	cfg  listenerSettings
	sock *socket
	view *socketView
	srv  *fasthttp.Server
	done chan struct{}
}

// listenerSettings are the config keys that shape the public listener; a
// reload that changes any of them starts a new server, and one that changes
// the address binds a new socket.
type listenerSettings struct {
	addr                       string
	headerTimeout, idleTimeout time.Duration
	maxHeaderBytes             int
	maxConnections             int
}

func settingsOf(cfg *config.Config) listenerSettings {
	return listenerSettings{
		addr:           cfg.Listen,
		headerTimeout:  cfg.ClientHeaderTimeout,
		idleTimeout:    cfg.ClientIdleTimeout,
		maxHeaderBytes: cfg.MaxHeaderBytes,
		maxConnections: cfg.MaxConnections,
	}
}

// changed reports whether cfg needs a different listener than l.
func (l *listener) changed(cfg *config.Config) bool {
	return l.cfg != settingsOf(cfg)
}

// bodyTimeout bounds the time a client may take to send a request body
// once its header has arrived.
const bodyTimeout = 5 * time.Minute

// listen prepares the listener cfg asks for. When the address is the one
// the running listener has bound, its socket is shared, so that a reload
// changing only the listener's settings never refuses or drops a
// connection; otherwise a new socket is bound, and an address in use
// rejects the config.
func (g *Gateway) listen(cfg *config.Config) (*listener, error) {
	s := settingsOf(cfg)
	var sock *socket
	if old := g.listener; old != nil && old.cfg.addr == s.addr {
		sock = old.sock
	} else {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return nil, err
		}
		sock = newSocket(ln)
	}
	srv := &fasthttp.Server{
		Handler:                      g.serve,
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
		Concurrency:                  s.maxConnections,
		Logger:                       fasthttpLogger{g.logger},
	}
	return &listener{cfg: s, sock: sock, view: sock.view(), srv: srv, done: make(chan struct{})}, nil
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
// socket is closed.
func (l *listener) start() {
	go func() {
		defer close(l.done)
		l.srv.Serve(clientListener{l.view})
	}()
}

// stopAccepting ends l's share of the socket, closing the socket itself
// unless next goes on serving it; connections already accepted go on.
func (l *listener) stopAccepting(next *listener) {
	l.view.Close()
	<-l.done
	if next == nil || next.sock != l.sock {
		l.sock.close()
	}
}

// close releases a listener that was never started, and its socket unless
// running shares it.
func (l *listener) close(running *listener) {
	l.view.Close()
	if running == nil || running.sock != l.sock {
		l.sock.close()
	}
}

// shutdown stops accepting and waits, until ctx is done, for the
// connections in flight to finish. l's view is closed first: the server
// learns of it only once its Serve goroutine runs, and a shutdown that
// came before would otherwise leave Serve accepting for ever.
func (l *listener) shutdown(ctx context.Context) error {
	// Close the socket itself first, so that new clients are refused at
	// once and go elsewhere, rather than queue for a server that drains.
	l.view.Close()
	l.sock.close()
	err := l.srv.ShutdownWithContext(ctx)
	<-l.done
	return err
}

// socket is one bound address. A single goroutine accepts its connections
// and hands each to whichever server's [socketView] asks first, so one
// server can take over from another on the same socket without a
// connection being refused or dropped.
type socket struct {
	ln        net.Listener
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func newSocket(ln net.Listener) *socket {
	s := &socket{ln: ln, conns: make(chan net.Conn), closed: make(chan struct{}), done: make(chan struct{})}
	go s.accept()
	return s
}

// accept runs until the socket is closed.
func (s *socket) accept() {
	defer close(s.done)
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				// Out of descriptors, say: wait and go on, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-s.closed:
					return
				}
			}
			return
		}
		backoff = 0
		select {
		case s.conns <- c:
		case <-s.closed:
			c.Close()
			return
		}
	}
}

// view returns a new listener over the socket for one server.
func (s *socket) view() *socketView {
	return &socketView{s: s, closed: make(chan struct{})}
}

// close closes the socket and waits for its accept loop to end.
func (s *socket) close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.ln.Close()
	})
	<-s.done
}

// socketView is one server's [net.Listener] over a shared [socket]. Closing
// it ends that server's accepting; the socket stays open.
type socketView struct {
	s         *socket
	closed    chan struct{}
	closeOnce sync.Once
}

var _ net.Listener = (*socketView)(nil)

func (v *socketView) Accept() (net.Conn, error) {
	select {
	case c := <-v.s.conns:
		return c, nil
	case <-v.closed:
	case <-v.s.done:
	}
	return nil, net.ErrClosed
}

func (v *socketView) Close() error {
	v.closeOnce.Do(func() { close(v.closed) })
	return nil
}

func (v *socketView) Addr() net.Addr { return v.s.ln.Addr() }

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
	g.refuse(ctx, nil, status, fasthttp.StatusMessage(status)+"\n")
}

// fasthttpLogger sends fasthttp's own messages to the gateway's log.
type fasthttpLogger struct {
	l interface{ Debug(string, ...any) }
}

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("server", "message", fmt.Sprintf(format, args...))
}
