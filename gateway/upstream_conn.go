package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The limits of a backend's connection pool, those of a fasthttp
// HostClient tuned for proxying: at most maxBackendConns connections at
// once, and a request that finds them all busy waits up to connWait for
// one before it fails over. A response head may take backendReadBuffer
// bytes.
const (
	maxBackendConns   = 1024
	connWait          = 2 * time.Second
	backendReadBuffer = 16 << 10
)

// transport opens, keeps and hands out the connections to one backend:
// it dials the backend's address over TCP, IPv4 or IPv6, wraps the
// connection in TLS for an https backend and in a [deadlineConn], and
// keeps idle keep-alive connections for the next request, the one used
// last first (so that surplus connections age out), closing each after
// idleFor. A transport serves one set of connection settings: settings
// that change get a new transport, and the old one is closed.
type transport struct {
	addr    string      // "host:port" to dial
	tls     *tls.Config // nil for an http backend
	connect time.Duration
	silence time.Duration // longest silence of the backend per read or write; 0: none
	idleFor time.Duration
	// maxConns and wait are [maxBackendConns] and [connWait].
	maxConns int
	wait     time.Duration

	// dial opens the TCP connection; [dialTCP] unless a test joins the
	// transport to an in-memory backend.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// mu guards the pool. Only the requests to this backend share it, for
	// the few instructions that take or return a connection.
	mu      sync.Mutex
	idle    []*upConn // oldest first
	open    int       // pooled connections open: idle and in use
	waiters []chan *upConn
	sweep   *time.Timer // closes idle connections as they expire
	swept   bool        // sweep is armed
	closed  bool
}

// newTransport returns the transport of a backend at addr ("host:port"),
// speaking TLS with tlsConfig unless it is nil.
func newTransport(addr string, tlsConfig *tls.Config, t backendTimeouts) *transport {
	return &transport{addr: addr, tls: tlsConfig, connect: t.connect, silence: t.read, idleFor: t.idle,
		maxConns: maxBackendConns, wait: connWait, dial: dialTCP}
}

// upConn is a connection to a backend with its read buffer.
type upConn struct {
	dc *deadlineConn
	br *bufio.Reader

	idleSince time.Time
	pooled    bool // counted in t.open, and may go back to the pool
	reused    bool // carried a request before this one
}

// dialError is a failure to connect to a backend: nothing reached it.
type dialError struct {
	err error
	tls bool // the TLS handshake failed, not the TCP connect
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// errNoFreeConn is the failure of a request that found every connection
// to its backend busy for [connWait].
var errNoFreeConn = errors.New("every connection to the backend stayed busy")

// get returns a connection for one request: the idle one used last, or a
// new one while fewer than t.maxConns are open, or the first one a
// request returns within t.wait. Idle connections past idleFor are
// closed by the sweep that [transport.put] arms, not checked here.
func (t *transport) get() (*upConn, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		c.reused = true
		return c, nil
	}
	if t.open < t.maxConns {
		t.open++
		t.mu.Unlock()
		return t.dialPooled()
	}
	ch := make(chan *upConn, 1)
	t.waiters = append(t.waiters, ch)
	t.mu.Unlock()
	return t.await(ch)
}

// await waits on ch for a connection handed over by [transport.put], or
// for a slot freed by [transport.discard] (nil), at most t.wait.
func (t *transport) await(ch chan *upConn) (*upConn, error) {
	timer := time.NewTimer(t.wait)
	defer timer.Stop()
	select {
	case c := <-ch:
		if c == nil {
			return t.dialPooled()
		}
		c.reused = true
		return c, nil
	case <-timer.C:
	}
	t.mu.Lock()
	for i, w := range t.waiters {
		if w == ch {
			t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
			t.mu.Unlock()
			return nil, &dialError{err: errNoFreeConn}
		}
	}
	t.mu.Unlock()
	// Handed over just as the wait ended: take it.
	if c := <-ch; c != nil {
		c.reused = true
		return c, nil
	}
	return t.dialPooled()
}

// dialPooled dials a connection for a slot already counted in t.open,
// giving the slot back when the dial fails.
func (t *transport) dialPooled() (*upConn, error) {
	c, err := t.newConn()
	if err != nil {
		t.mu.Lock()
		t.freeSlotLocked()
		t.mu.Unlock()
		return nil, err
	}
	c.pooled = true
	return c, nil
}

// dialOwn dials a connection that never joins the pool, for a tunnel.
func (t *transport) dialOwn() (*upConn, error) {
	return t.newConn()
}

// newConn dials the backend within the connect timeout.
func (t *transport) newConn() (*upConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), t.connect)
	defer cancel()
	raw, err := t.dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	conn := raw
	if t.tls != nil {
		tc := tls.Client(raw, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &dialError{err: err, tls: true}
		}
		conn = tc
	}
	dc := newDeadlineConn(conn, t.silence)
	return &upConn{dc: dc, br: bufio.NewReaderSize(dc, backendReadBuffer)}, nil
}

// put gives back a connection that can carry another request: to a
// request waiting for one, or to the idle list.
func (t *transport) put(c *upConn) {
	if !c.pooled {
		c.dc.Close()
		return
	}
	c.idleSince = time.Now()
	t.mu.Lock()
	if t.closed {
		t.freeSlotLocked()
		t.mu.Unlock()
		c.dc.Close()
		return
	}
	if len(t.waiters) > 0 {
		w := t.waiters[0]
		t.waiters = append(t.waiters[:0], t.waiters[1:]...)
		t.mu.Unlock()
		w <- c
		return
	}
	t.idle = append(t.idle, c)
	if !t.swept {
		t.swept = true
		if t.sweep == nil {
			t.sweep = time.AfterFunc(t.idleFor, t.sweepIdle)
		} else {
			t.sweep.Reset(t.idleFor)
		}
	}
	t.mu.Unlock()
}

// discard closes a connection that cannot carry another request.
func (t *transport) discard(c *upConn) {
	c.dc.Close()
	if !c.pooled {
		return
	}
	t.mu.Lock()
	t.freeSlotLocked()
	t.mu.Unlock()
}

// freeSlotLocked passes a pooled connection's slot to the first waiting
// request, which dials, or frees it.
func (t *transport) freeSlotLocked() {
	if len(t.waiters) > 0 {
		w := t.waiters[0]
		t.waiters = append(t.waiters[:0], t.waiters[1:]...)
		w <- nil
		return
	}
	t.open--
}

// sweepIdle closes the idle connections that have been idle for idleFor,
// and arms itself for the next one to expire.
func (t *transport) sweepIdle() {
	now := time.Now()
	t.mu.Lock()
	n := 0
	for n < len(t.idle) && now.Sub(t.idle[n].idleSince) >= t.idleFor {
		n++
	}
	expired := make([]*upConn, n)
	copy(expired, t.idle)
	rest := copy(t.idle, t.idle[n:])
	clear(t.idle[rest:])
	t.idle = t.idle[:rest]
	t.open -= n
	if rest > 0 {
		t.sweep.Reset(t.idle[0].idleSince.Add(t.idleFor).Sub(now))
	} else {
		t.swept = false
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.dc.Close()
	}
}

// closeIdle closes the idle connections, which a backend that reset one
// of them has most likely closed too.
func (t *transport) closeIdle() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.open -= len(idle)
	t.mu.Unlock()
	for _, c := range idle {
		c.dc.Close()
	}
}

// close closes the idle connections now and every other one when its
// request ends. Requests still running on an older generation may go on
// asking for connections; they get new ones, closed after use.
func (t *transport) close() {
	t.mu.Lock()
	t.closed = true
	if t.sweep != nil {
		t.sweep.Stop()
		t.swept = false
	}
	t.mu.Unlock()
	t.closeIdle()
}

// dialTCP connects to addr, a "host:port" whose host is an IP address or
// a name, over IPv4 or IPv6, trying each address the name resolves to.
// The localhost names of RFC 6761 always reach the loopback interface on
// both families, whatever the hosts file says, as browsers and curl do:
// a backend that listens only on ::1 is reached as localhost too.
func dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !isLocalhost(host) {
		return d.DialContext(ctx, network, addr)
	}
	c, err := d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	if err == nil {
		return c, nil
	}
	if c, err6 := d.DialContext(ctx, network, net.JoinHostPort("::1", port)); err6 == nil {
		return c, nil
	}
	return nil, err
}

// isLocalhost reports whether host is "localhost" or a name under it.
func isLocalhost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	return strings.EqualFold(host, "localhost") ||
		len(host) > len(".localhost") && strings.EqualFold(host[len(host)-len(".localhost"):], ".localhost")
}

// deadlineConn arms a deadline before every read and every write, so a
// backend that goes silent, or stops reading an upload, for longer than
// timeout is cut off, however long the whole exchange takes (nginx's
// proxy_read_timeout and proxy_send_timeout); a timeout of 0 arms none.
// The deadlines are [coarseDeadline]s, moved seldom. A deadlineConn also
// tells the exchange gathering a response over it when a read is about to
// wait for the network (see [exchange.WriteTo]), and can be aborted from
// another goroutine.
type deadlineConn struct {
	net.Conn
	timeout       time.Duration
	readDeadline  coarseDeadline
	writeDeadline coarseDeadline
	// pinned holds the read deadline set by [deadlineConn.readBy] until
	// [deadlineConn.unpin].
	pinned  bool
	aborted atomic.Bool

	raw    syscall.RawConn // nil when the connection has no descriptor
	probe  func(fd uintptr)
	unread int    // bytes the kernel holds for reading, as probe saw them
	waiter waiter // told before a read waits, while an exchange gathers
}

// waiter is told by a [deadlineConn] that a read is about to wait for the
// network.
type waiter interface {
	beforeWait()
}

// errAborted is what the reads and writes of an aborted [deadlineConn]
// return.
var errAborted = errors.New("the exchange was ended")

// newDeadlineConn wraps c with deadlines of timeout.
func newDeadlineConn(c net.Conn, timeout time.Duration) *deadlineConn {
	dc := &deadlineConn{Conn: c, timeout: timeout}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			dc.raw, dc.probe = raw, unreadProbe(&dc.unread)
		}
	}
	return dc
}

// Read arms the read deadline: a silent backend is cut off after timeout
// and at most the deadline's slack later. While a waiter is set, it is
// told first when the read is going to wait for the network.
func (c *deadlineConn) Read(p []byte) (int, error) {
	if c.timeout > 0 && !c.pinned {
		if at, move := c.readDeadline.next(time.Now(), c.timeout); move {
			if err := c.Conn.SetReadDeadline(at); err != nil {
				return 0, err
			}
		}
	}
	// After the deadline: an abort that came before it has set one in
	// the past, or is seen here.
	if c.aborted.Load() {
		return 0, errAborted
	}
	if c.waiter != nil && !c.readable() {
		c.waiter.beforeWait()
	}
	return c.Conn.Read(p)
}

// Write arms the write deadline the same way.
func (c *deadlineConn) Write(p []byte) (int, error) {
	if c.timeout > 0 {
		if at, move := c.writeDeadline.next(time.Now(), c.timeout); move {
			if err := c.Conn.SetWriteDeadline(at); err != nil {
				return 0, err
			}
		}
	}
	if c.aborted.Load() {
		return 0, errAborted
	}
	return c.Conn.Write(p)
}

// readBy makes reads wait until at at most, whatever the timeout, until
// [deadlineConn.unpin].
func (c *deadlineConn) readBy(at time.Time) error {
	c.pinned = true
	c.readDeadline = coarseDeadline{}
	return c.Conn.SetReadDeadline(at)
}

// unpin ends [deadlineConn.readBy]: the next read arms the timeout again.
func (c *deadlineConn) unpin() {
	c.pinned = false
	if c.timeout <= 0 {
		c.Conn.SetReadDeadline(time.Time{})
	}
}

// abort makes every read and write of c, those waiting now included,
// fail with [errAborted] or a timeout. It may be called from any
// goroutine; c cannot be used for another request afterwards.
func (c *deadlineConn) abort() {
	c.aborted.Store(true)
	c.Conn.SetDeadline(aLongTimeAgo)
}

// isAborted reports whether [deadlineConn.abort] was called.
func (c *deadlineConn) isAborted() bool { return c.aborted.Load() }

// tellsWaits reports whether c can tell a [waiter] that a read is about to
// wait: whether it can ask the kernel what the socket holds.
func (c *deadlineConn) tellsWaits() bool { return c.probe != nil }

// tellWaits makes c tell w before each read that would wait, until it is
// called with nil.
func (c *deadlineConn) tellWaits(w waiter) { c.waiter = w }

// aLongTimeAgo is a deadline in the past, which makes waiting reads and
// writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

// closedByPeer reports whether an idle connection can no longer carry a
// request: the backend closed it, or sent something unasked (a TLS
// close_notify, say). It asks the kernel without waiting, and says no
// when it cannot tell.
func (c *deadlineConn) closedByPeer() bool {
	raw := c.raw
	if raw == nil {
		if tc, ok := c.Conn.(*tls.Conn); ok {
			if sc, ok := tc.NetConn().(syscall.Conn); ok {
				raw, _ = sc.SyscallConn()
			}
		}
	}
	return raw != nil && peerClosed(raw)
}

// readable reports whether the kernel holds bytes for c, so that a read
// would not wait. It says no when it cannot tell.
func (c *deadlineConn) readable() bool {
	if c.raw == nil || c.probe == nil {
		return false
	}
	c.unread = 0
	if c.raw.Control(c.probe) != nil {
		return false
	}
	return c.unread > 0
}
