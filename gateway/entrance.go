package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// An entrance is where one kind of client comes in: the public listener,
// the HTTPS listener (a [entrance.sibling] of the public one, whose
// connections join its queue in TLS) or the admin listener. It owns the
// sockets bound for it, takes every connection they accept into one
// queue, from which whichever server serves the entrance takes it, and
// counts the connections open through it. A server never owns a socket, so a reload can put a new server in
// front of the same socket, or a new socket in front of the same server,
// without a connection being refused, dropped or reset:
//
//   - Settings that shape the server (timeouts, header size) start a new
//     server on the same queue; the old one stops taking connections and
//     closes each of its own after its next response.
//   - A new address binds a new socket before the config is published.
//     The old socket does not close at once, since closing a listening
//     socket resets every connection the kernel has completed for it but
//     nobody accepted yet: it goes on accepting, into the same queue and
//     so to the new server, until no client has connected to it for
//     [retireQuiet] (at most [retireMax]), and closes then.
//
// maxConnections is one count per entrance, shared by every socket and
// server it has had: a connection counts from its accept to its close,
// whichever server serves it. Over the cap, a connection gets the gateway's
// own 503 (see [overCapAnswer]) and is closed.
type entrance struct {
	name   string // the config key, for logs
	logger *slog.Logger
	conns  chan net.Conn
	limit  *connLimit // nil: connections are not counted

	// onRefuse is called for each connection refused over the cap.
	onRefuse func()
	// wrap, when set, wraps every connection the sockets accept before it
	// is queued: TLS, for the HTTPS listener. Such an entrance closes a
	// connection over the cap without an answer, which its clients could
	// not read.
	wrap func(net.Conn) net.Conn

	mu       sync.Mutex
	current  *socket
	retiring []*socket
	shut     chan struct{} // closed by close
	closed   bool

	// wg counts the goroutines the entrance started: accept loops,
	// retirements and over-cap answers.
	wg sync.WaitGroup
	// answering bounds the over-cap answers in progress.
	answering chan struct{}
}

// How an old socket retires after a move: it closes once no client has
// connected to it for retireQuiet, or retireMax after the move.
const (
	retireQuiet = 250 * time.Millisecond
	retireMax   = 10 * time.Second
)

// maxConnectionsDefault is the cap when the config sets none: fasthttp's
// own default.
const maxConnectionsDefault = 256 * 1024

// maxOverCapAnswers bounds the over-cap answers that linger at once; past
// it a connection is answered and closed without lingering.
const maxOverCapAnswers = 64

func newEntrance(name string, logger *slog.Logger, limit *connLimit) *entrance {
	return &entrance{
		name:      name,
		logger:    logger,
		conns:     make(chan net.Conn),
		limit:     limit,
		shut:      make(chan struct{}),
		answering: make(chan struct{}, maxOverCapAnswers),
	}
}

// sibling returns an entrance called name whose connections, wrapped by
// wrap, join e's queue and count against e's cap: the HTTPS listener
// beside the plain one, served by the same server through e's views.
func (e *entrance) sibling(name string, wrap func(net.Conn) net.Conn) *entrance {
	s := newEntrance(name, e.logger, e.limit)
	s.conns, s.wrap = e.conns, wrap
	return s
}

// socket is one address bound for an [entrance], with the goroutine that
// accepts its connections.
type socket struct {
	e    *entrance
	addr string // as the config names it
	ln   net.Listener

	// lastAccept is when the socket last accepted a connection, in Unix
	// nanoseconds: a retiring socket closes once it is quiet.
	lastAccept atomic.Int64
	// revived is closed when a retiring socket is put back into service;
	// reused is set when [entrance.bind] took the socket back from
	// retirement, so that [entrance.discard] retires it again.
	revived   chan struct{}
	reused    bool
	closeOnce sync.Once
	done      chan struct{} // closed when the accept loop has ended
}

// bind returns a socket for addr that [entrance.commit] can make current:
// a socket retiring from addr, taken back from retirement, or a newly
// bound one. When the address is in use by a retiring socket under another
// spelling (":8080" and "0.0.0.0:8080"), the retiring sockets are closed at
// once and the bind is tried again.
func (e *entrance) bind(addr string) (*socket, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, s := range e.retiring {
		if s.addr == addr {
			e.retiring = append(e.retiring[:i], e.retiring[i+1:]...)
			close(s.revived)
			s.reused = true
			return s, nil
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && errors.Is(err, syscall.EADDRINUSE) && len(e.retiring) > 0 {
		for _, s := range e.retiring {
			s.close()
		}
		e.retiring = nil
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	s := &socket{e: e, addr: addr, ln: ln, done: make(chan struct{})}
	s.lastAccept.Store(time.Now().UnixNano())
	e.wg.Add(1)
	go s.accept()
	return s, nil
}

// discard undoes [entrance.bind] when its config was rejected after all: a
// newly bound socket closes, one taken back from retirement retires again.
func (e *entrance) discard(s *socket) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s == nil || s == e.current {
		return
	}
	if s.reused && !e.closed {
		e.retireLocked(s)
		return
	}
	s.close()
}

// commit makes s, from [entrance.bind], the entrance's current socket, and
// retires the socket it replaces. A nil s retires the current socket and
// leaves none.
func (e *entrance) commit(s *socket) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.current
	if s == old {
		return
	}
	if e.closed {
		if s != nil {
			s.close()
		}
		return
	}
	if s != nil {
		s.reused = false
	}
	e.current = s
	if old != nil {
		e.retireLocked(old)
	}
}

// retireLocked starts retiring s: it closes once quiet.
func (e *entrance) retireLocked(s *socket) {
	revived := make(chan struct{})
	s.revived = revived
	e.retiring = append(e.retiring, s)
	since := time.Now()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		tick := time.NewTicker(retireQuiet / 5)
		defer tick.Stop()
		for {
			select {
			case <-revived:
				return
			case <-s.done:
				return
			case now := <-tick.C:
				quiet := now.Sub(time.Unix(0, s.lastAccept.Load())) >= retireQuiet
				if !quiet && now.Sub(since) < retireMax {
					continue
				}
				e.mu.Lock()
				for i, r := range e.retiring {
					if r == s {
						e.retiring = append(e.retiring[:i], e.retiring[i+1:]...)
						s.close()
						break
					}
				}
				e.mu.Unlock()
				return
			}
		}
	}()
}

// close closes every socket of the entrance at once, so that new clients
// are refused and go elsewhere, and waits for the entrance's goroutines.
// Connections accepted and not yet taken by a server are closed.
func (e *entrance) close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.shut)
		if e.current != nil {
			e.current.close()
		}
		for _, s := range e.retiring {
			s.close()
		}
		e.retiring = nil
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// currentSocket returns the socket the entrance's servers take new
// connections from, or nil.
func (e *entrance) currentSocket() *socket {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current
}

// addr returns the address the current socket is bound to, or "" when
// there is none.
func (e *entrance) addr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.current == nil {
		return ""
	}
	return e.current.ln.Addr().String()
}

// close closes the listening socket; the accept loop ends soon after.
func (s *socket) close() {
	s.closeOnce.Do(func() { s.ln.Close() })
}

// accept runs until the socket is closed, counting each connection and
// handing it to the entrance's queue.
func (s *socket) accept() {
	e := s.e
	defer e.wg.Done()
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
				case <-e.shut:
					return
				}
			}
			return
		}
		backoff = 0
		s.lastAccept.Store(time.Now().UnixNano())
		if e.limit != nil {
			if !e.limit.take(e) {
				e.refuse(c)
				continue
			}
			c = &countedConn{Conn: c, limit: e.limit}
		}
		if e.wrap != nil {
			c = e.wrap(c)
		}
		select {
		case e.conns <- c:
		case <-e.shut:
			c.Close()
			return
		}
	}
}

// view returns a new [net.Listener] over the entrance's queue for one
// server. Closing it ends that server's share; the sockets stay open.
func (e *entrance) view() *entranceView {
	return &entranceView{e: e, closed: make(chan struct{})}
}

// entranceView is one server's [net.Listener] over an [entrance].
type entranceView struct {
	e         *entrance
	closed    chan struct{}
	closeOnce sync.Once
	// open counts the counted connections the view handed to its server
	// that are not closed yet.
	open atomic.Int64
}

var _ net.Listener = (*entranceView)(nil)

// Accept returns the next connection of the entrance, or [net.ErrClosed]
// once the view or the entrance is closed.
func (v *entranceView) Accept() (net.Conn, error) {
	select {
	case <-v.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-v.e.conns:
		if cc := counted(c); cc != nil {
			cc.view = v
			v.open.Add(1)
		}
		return c, nil
	case <-v.closed:
	case <-v.e.shut:
	}
	return nil, net.ErrClosed
}

// Close ends the view; the entrance and its sockets stay open.
func (v *entranceView) Close() error {
	v.closeOnce.Do(func() { close(v.closed) })
	return nil
}

// Addr returns the address of the entrance's current socket.
func (v *entranceView) Addr() net.Addr {
	v.e.mu.Lock()
	defer v.e.mu.Unlock()
	if v.e.current == nil {
		return &net.TCPAddr{}
	}
	return v.e.current.ln.Addr()
}

// connLimit counts the connections open through an entrance against
// maxConnections.
type connLimit struct {
	max  atomic.Int64
	open atomic.Int64

	// refusing is set from the first refusal until a connection is taken
	// again; refused counts the refusals meanwhile. A full episode is
	// logged twice: when it begins and when it ends.
	refusing atomic.Bool
	refused  atomic.Int64
}

// setMax sets the cap; 0 means [maxConnectionsDefault]. Connections open
// over a lowered cap are not closed: new ones are refused until the count
// is under it.
func (l *connLimit) setMax(n int) {
	if n <= 0 {
		n = maxConnectionsDefault
	}
	l.max.Store(int64(n))
}

// take counts one more connection, or reports false when the cap is
// reached.
func (l *connLimit) take(e *entrance) bool {
	if l.open.Add(1) > l.max.Load() {
		l.open.Add(-1)
		l.refused.Add(1)
		if l.refusing.CompareAndSwap(false, true) {
			e.logger.Warn("maxConnections reached; new connections get 503", "listener", e.name,
				"maxConnections", l.max.Load())
		}
		return false
	}
	if l.refusing.Load() && l.refusing.CompareAndSwap(true, false) {
		e.logger.Info("below maxConnections again; accepting connections", "listener", e.name,
			"refused", l.refused.Swap(0))
	}
	return true
}

// countedConn is a connection counted in a [connLimit], and in the
// [entranceView] of the server that took it, until it is closed. It passes
// on the methods of the TCP connection it wraps that the gateway uses.
type countedConn struct {
	net.Conn
	limit  *connLimit
	view   *entranceView // set when a server takes the connection
	closed atomic.Bool
}

// counted returns the [countedConn] c is or wraps in TLS, or nil.
func counted(c net.Conn) *countedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	cc, _ := c.(*countedConn)
	return cc
}

// Close closes the connection and, the first time, uncounts it.
func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.limit.open.Add(-1)
		if c.view != nil {
			c.view.open.Add(-1)
		}
	}
	return c.Conn.Close()
}

// CloseWrite shuts down the writing side of the connection.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// SyscallConn returns the raw connection of the socket.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// overCapAnswer is what a connection over maxConnections gets before it is
// closed, before its request is read: the gateway's own plain 503.
const overCapAnswer = "HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 21\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"\r\n" +
	"too many connections\n"

// How a refused connection is closed (see [lingerClose]): after the
// answer, what the client still sends is read and dropped for at most
// overCapLingerTime or overCapLingerBytes, so that the client reads the
// 503 rather than a reset.
const (
	overCapLingerTime  = time.Second
	overCapLingerBytes = 64 << 10
)

// refuse answers c with [overCapAnswer] and closes it, lingering in a
// goroutine unless too many answers linger already. A connection of an
// entrance that wraps them (TLS) is closed without an answer.
func (e *entrance) refuse(c net.Conn) {
	if e.wrap != nil {
		c.Close()
		return
	}
	if e.onRefuse != nil {
		e.onRefuse()
	}
	c.SetWriteDeadline(time.Now().Add(overCapLingerTime))
	if _, err := io.WriteString(c, overCapAnswer); err != nil {
		c.Close()
		return
	}
	select {
	case e.answering <- struct{}{}:
	default:
		c.Close()
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { <-e.answering }()
		lingerClose(c, overCapLingerTime, overCapLingerBytes)
	}()
}
