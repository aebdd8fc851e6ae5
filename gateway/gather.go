package gateway

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// A chunked response body comes from the backend in the chunks the
// backend chose, often a few KiB each, and fasthttp writes and flushes
// every chunk it reads to the client: one system call per backend chunk.
// An exchange instead gathers what has already arrived into larger chunks
// and writes them whenever its next read of the backend would wait for the
// network, so the client gets fewer, larger writes and no byte later than
// it would have: the read-until-it-would-block of an event loop.

// gatherSize is how much of a chunked body an exchange gathers at most
// before it writes a chunk: a little less than the server's write buffer,
// so that a chunk and its framing leave in one write.
const gatherSize = serverWriteBuffer - 1<<10

var gatherBuffers = sync.Pool{New: func() any {
	b := make([]byte, gatherSize)
	return &b
}}

// waiter is told by a [deadlineConn] that a read is about to wait for the
// network.
type waiter interface {
	beforeWait()
}

// newDeadlineConn wraps a backend connection made by the gateway's dialer
// in a [deadlineConn] with deadlines of the timeout read holds (0: none)
// that can tell a [waiter] when a read would wait.
func newDeadlineConn(c net.Conn, read *sharedTimeout) *deadlineConn {
	dc := &deadlineConn{Conn: c, read: read}
	dc.addr = backendAddr{Addr: c.RemoteAddr(), conn: dc}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			dc.raw, dc.probe = raw, unreadProbe(&dc.unread)
		}
	}
	return dc
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

// RemoteAddr returns the backend's address. fasthttp hands it on as the
// response's [fasthttp.Response.RemoteAddr], which leads an exchange from
// the response back to c.
func (c *deadlineConn) RemoteAddr() net.Addr {
	if c.addr.conn == nil {
		return c.Conn.RemoteAddr()
	}
	return &c.addr
}

// backendAddr is the remote address of a [deadlineConn] and the way back
// to it.
type backendAddr struct {
	net.Addr
	conn *deadlineConn
}

// SupportsBodyWriteTo tells fasthttp that [exchange.WriteTo] may stand in
// for Read: it is true for a chunked body on a connection that can tell
// when a read would wait.
func (ex *exchange) SupportsBodyWriteTo() bool { return ex.conn != nil }

// WriteTo relays the body to w, fasthttp's chunk writer, gathering chunks
// as the package comment above tells.
func (ex *exchange) WriteTo(w io.Writer) (int64, error) {
	bp := gatherBuffers.Get().(*[]byte)
	ex.gathered, ex.out, ex.written, ex.outErr = (*bp)[:0], w, 0, nil
	ex.conn.waiter = ex
	defer func() {
		ex.conn.waiter = nil
		ex.gathered, ex.out = nil, nil
		gatherBuffers.Put(bp)
	}()
	for {
		off := len(ex.gathered)
		n, err := ex.Read(ex.gathered[off:cap(ex.gathered)])
		if len(ex.gathered) != off {
			// beforeWait wrote what was gathered while the read went on.
			copy(ex.gathered[:n], ex.gathered[off:off+n])
			ex.gathered = ex.gathered[:n]
		} else {
			ex.gathered = ex.gathered[:off+n]
		}
		if err != nil || len(ex.gathered) == cap(ex.gathered) {
			ex.beforeWait()
		}
		switch {
		case ex.outErr != nil:
			return ex.written, ex.outErr
		case err == io.EOF:
			return ex.written, nil
		case err != nil:
			return ex.written, err
		}
	}
}

// beforeWait writes what ex has gathered to the client.
func (ex *exchange) beforeWait() {
	if len(ex.gathered) == 0 || ex.outErr != nil {
		return
	}
	n, err := ex.out.Write(ex.gathered)
	ex.written += int64(n)
	ex.outErr = err
	ex.gathered = ex.gathered[:0]
}
