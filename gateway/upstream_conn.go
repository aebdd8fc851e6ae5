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

// dialFunc opens a connection as [net.Dialer.DialContext] does.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// upstream is how a backend is reached under one set of connection
// settings: it dials the backend's address with dial, wraps the
// connection in TLS for an https backend and in a [deadlineConn], and
// keeps idle keep-alive connections for the next request, the one used
// last first (so that surplus connections age out), closing each after
// idleFor. An upstream never changes its settings: when connectTimeout or
// idleTimeout changes, the backend gets a new upstream as a whole
// ([backend.setUpstream]) and the old one is retired
// ([upstream.retire]). The responseHeaderTimeout is not one of its
// settings: every connection reads it afresh from read.
type upstream struct {
	addr string      // "host:port" to dial
	tls  *tls.Config // nil for an http backend
	// material is the TLS material tls was made of, which a change of
	// it replaces the upstream for; nil for an http backend.
	material *clientTLS
	// serverName is the name tls was made for unless material names
	// another; empty for an http backend.
	serverName string
	connect    time.Duration
	idleFor    time.Duration
	// read is the backend's responseHeaderTimeout, the longest silence of
	// the backend per read or write; 0: none.
	read *sharedTimeout
	// maxConns and wait are [maxBackendConns] and [connWait].
	maxConns int
	wait     time.Duration
	// dial opens the TCP connections: [Options.DialContext] or [dialTCP].
	dial dialFunc

	// inFlight counts the requests and tunnels that [backend.acquire]
	// started on u and [backend.release] has not ended: once u is
	// retired and inFlight is 0, u holds no connection.
	inFlight atomic.Int64

	// mu guards the pool. Only the requests to this backend share it, for
	// the few instructions that take or return a connection.
	mu      sync.Mutex
	idle    []*upConn // oldest first
	open    int       // pooled connections open: idle and in use
	waiters []chan *upConn
	sweep   *time.Timer // closes idle connections as they expire
	swept   bool        // sweep is armed
	retired bool
}

// newUpstream returns the upstream of a backend at addr ("host:port"),
// speaking TLS with tlsConfig unless it is nil, connecting within connect,
// keeping idle connections for idleFor, cutting off a backend silent for
// longer than read holds and dialling with dial.
func newUpstream(addr string, tlsConfig *tls.Config, connect, idleFor time.Duration, read *sharedTimeout, dial dialFunc) *upstream {
	return &upstream{addr: addr, tls: tlsConfig, connect: connect, idleFor: idleFor, read: read,
		maxConns: maxBackendConns, wait: connWait, dial: dial}
}

// upConn is a connection to a backend with its read buffer.
type upConn struct {
	dc *deadlineConn
	br *bufio.Reader

	idleSince time.Time
	pooled    bool // counted in u.open, and may go back to the pool
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
// new one while fewer than u.maxConns are open, or the first one a
// request returns within u.wait. Idle connections past idleFor are
// closed by the sweep that [upstream.put] arms, not checked here.
func (u *upstream) get() (*upConn, error) {
	u.mu.Lock()
	if n := len(u.idle); n > 0 {
		c := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		c.reused = true
		return c, nil
	}
	if u.open < u.maxConns {
		u.open++
		u.mu.Unlock()
		return u.dialPooled()
	}
	ch := make(chan *upConn, 1)
	u.waiters = append(u.waiters, ch)
	u.mu.Unlock()
	return u.await(ch)
}

// await waits on ch for a connection handed over by [upstream.put], or
// for a slot freed by [upstream.discard] (nil), at most u.wait.
func (u *upstream) await(ch chan *upConn) (*upConn, error) {
	timer := time.NewTimer(u.wait)
	defer timer.Stop()
	select {
	case c := <-ch:
		if c == nil {
			return u.dialPooled()
		}
		c.reused = true
		return c, nil
	case <-timer.C:
	}
	u.mu.Lock()
	for i, w := range u.waiters {
		if w == ch {
			u.waiters = append(u.waiters[:i], u.waiters[i+1:]...)
			u.mu.Unlock()
			return nil, &dialError{err: errNoFreeConn}
		}
	}
	u.mu.Unlock()
	// Handed over just as the wait ended: take it.
	if c := <-ch; c != nil {
		c.reused = true
		return c, nil
	}
	return u.dialPooled()
}

// dialPooled dials a connection for a slot already counted in u.open,
// giving the slot back when the dial fails.
func (u *upstream) dialPooled() (*upConn, error) {
	c, err := u.newConn()
	if err != nil {
		u.mu.Lock()
		u.freeSlotLocked()
		u.mu.Unlock()
		return nil, err
	}
	c.pooled = true
	return c, nil
}

// dialOwn dials a connection that never joins the pool, for a tunnel.
func (u *upstream) dialOwn() (*upConn, error) {
	return u.newConn()
}

// newConn dials the backend within the connect timeout.
func (u *upstream) newConn() (*upConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), u.connect)
	defer cancel()
	raw, err := u.dial(ctx, "tcp", u.addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	conn := raw
	if u.tls != nil {
		tc := tls.Client(raw, u.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &dialError{err: err, tls: true}
		}
		conn = tc
	}
	dc := newDeadlineConn(conn, u.read)
	return &upConn{dc: dc, br: bufio.NewReaderSize(dc, backendReadBuffer)}, nil
}

// put gives back a connection that can carry another request: to a
// request waiting for one, or to the idle list.
func (u *upstream) put(c *upConn) {
	if !c.pooled {
		c.dc.Close()
		return
	}
	c.idleSince = time.Now()
	u.mu.Lock()
	if u.retired {
		u.freeSlotLocked()
		u.mu.Unlock()
		c.dc.Close()
		return
	}
	if len(u.waiters) > 0 {
		w := u.waiters[0]
		u.waiters = append(u.waiters[:0], u.waiters[1:]...)
		u.mu.Unlock()
		w <- c
		return
	}
	u.idle = append(u.idle, c)
	if !u.swept {
		u.swept = true
		if u.sweep == nil {
			u.sweep = time.AfterFunc(u.idleFor, u.sweepIdle)
		} else {
			u.sweep.Reset(u.idleFor)
		}
	}
	u.mu.Unlock()
}

// discard closes a connection that cannot carry another request.
func (u *upstream) discard(c *upConn) {
	c.dc.Close()
	if !c.pooled {
		return
	}
	u.mu.Lock()
	u.freeSlotLocked()
	u.mu.Unlock()
}

// freeSlotLocked passes a pooled connection's slot to the first waiting
// request, which dials, or frees it.
func (u *upstream) freeSlotLocked() {
	if len(u.waiters) > 0 {
		w := u.waiters[0]
		u.waiters = append(u.waiters[:0], u.waiters[1:]...)
		w <- nil
		return
	}
	u.open--
}

// sweepIdle closes the idle connections that have been idle for idleFor,
// and arms itself for the next one to expire.
func (u *upstream) sweepIdle() {
	now := time.Now()
	u.mu.Lock()
	n := 0
	for n < len(u.idle) && now.Sub(u.idle[n].idleSince) >= u.idleFor {
		n++
	}
	expired := make([]*upConn, n)
	copy(expired, u.idle)
	rest := copy(u.idle, u.idle[n:])
	clear(u.idle[rest:])
	u.idle = u.idle[:rest]
	u.open -= n
	if rest > 0 {
		u.sweep.Reset(u.idle[0].idleSince.Add(u.idleFor).Sub(now))
	} else {
		u.swept = false
	}
	u.mu.Unlock()
	for _, c := range expired {
		c.dc.Close()
	}
}

// closeIdle closes the idle connections, which a backend that reset one
// of them has most likely closed too.
func (u *upstream) closeIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle = nil
	u.open -= len(idle)
	u.mu.Unlock()
	for _, c := range idle {
		c.dc.Close()
	}
}

// retire closes u's connections once they are unused: the idle ones at
// once, and each one in use when its request ends, rather than back to
// the pool. A request that took u just before it was retired may still
// ask it for a connection; it gets a new one, closed after use.
func (u *upstream) retire() {
	u.mu.Lock()
	u.retired = true
	if u.sweep != nil {
		u.sweep.Stop()
		u.swept = false
	}
	u.mu.Unlock()
	u.closeIdle()
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

// sharedTimeout is a timeout that every connection of a backend reads
// afresh on each use, so that a reload that changes it applies to the
// connections already open.
type sharedTimeout struct{ ns atomic.Int64 }

// get returns the timeout; 0 means none.
func (t *sharedTimeout) get() time.Duration { return time.Duration(t.ns.Load()) }

// set changes the timeout.
func (t *sharedTimeout) set(d time.Duration) { t.ns.Store(int64(d)) }

// deadlineConn arms a deadline before every read and every write, so a
// backend that goes silent, or stops reading an upload, for longer than
// the timeout is cut off, however long the whole exchange takes (nginx's
// proxy_read_timeout and proxy_send_timeout); a timeout of 0 arms none.
// The timeout is loaded afresh on every call, so a reload that changes it
// applies to the connections already open. The deadlines are
// [coarseDeadline]s, moved seldom. A deadlineConn also tells the exchange
// gathering a response over it when a read is about to wait for the
// network (see [exchange.WriteTo]), and can be aborted from another
// goroutine.
type deadlineConn struct {
	net.Conn
	timeout       *sharedTimeout
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

// newDeadlineConn wraps c with deadlines of the timeout that timeout
// holds.
func newDeadlineConn(c net.Conn, timeout *sharedTimeout) *deadlineConn {
	dc := &deadlineConn{Conn: c, timeout: timeout}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			dc.raw, dc.probe = raw, unreadProbe(&dc.unread)
		}
	}
	return dc
}

// Read arms the read deadline: a silent backend is cut off after the
// timeout and at most the deadline's slack later. While a waiter is set,
// it is told first when the read is going to wait for the network.
func (c *deadlineConn) Read(p []byte) (int, error) {
	if d := c.timeout.get(); d > 0 && !c.pinned {
		if at, move := c.readDeadline.next(time.Now(), d); move {
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
	if d := c.timeout.get(); d > 0 {
		if at, move := c.writeDeadline.next(time.Now(), d); move {
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
	if c.timeout.get() <= 0 {
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
