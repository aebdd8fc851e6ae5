package gateway

import (
	"bufio"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// tunnel turns the connection of an upgrade request that the backend
// answered with 101 into a tunnel: the handler hands the client
// connection over, the backend's 101 head goes first, then bytes are
// copied both ways until either side closes. The backend connection is
// the exchange's own, never a pooled one, and reads from the backend are
// cut off after responseHeaderTimeout of silence, as nginx's
// proxy_read_timeout closes a silent WebSocket.
func (ex *exchange) tunnel(ctx *fasthttp.RequestCtx) {
	c := &ex.call
	if c.sending {
		// A body sent with the upgrade request goes out whole first.
		c.writer.Wait()
		c.sending = false
	}
	ex.scratch = ctx.Response.Header.AppendBytes(ex.scratch[:0])
	ex.ctx = nil
	ex.g.tunnels.Add(1)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(ex.pipeTunnel)
}

// pipeTunnel runs the tunnel on the hijacked client connection.
func (ex *exchange) pipeTunnel(client net.Conn) {
	g := ex.g
	defer g.tunnels.Done()
	conn := ex.call.conn
	untrack := g.trackTunnel(client, conn.dc)
	defer untrack()
	if _, err := client.Write(ex.scratch); err == nil {
		ex.bytes = pipe(client, conn.dc, conn.br)
	}
	ex.call.end()
	b := ex.backend
	b.served.Add(1)
	b.release(ex.upstream)
	g.observe(ex)
	ex.release()
}

// pipe copies client to backend and backend (starting with what br has
// buffered) to client until both directions end; when one direction ends,
// the other is shut down too. It returns the bytes sent to the client.
func pipe(client, backend net.Conn, br *bufio.Reader) int64 {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(backend, client)
		closeWrite(backend)
	}()
	n, _ := io.Copy(client, br)
	closeWrite(client)
	// The backend is done: stop waiting for a silent client.
	client.SetReadDeadline(time.Now())
	wg.Wait()
	return n
}

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) {
	if dc, ok := c.(*deadlineConn); ok {
		c = dc.Conn
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// tunnelSet tracks the connections of open tunnels so that shutdown can
// close what is still open when its time is up.
type tunnelSet struct {
	sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// trackTunnel records the two ends of a tunnel until the returned func is
// called.
func (g *Gateway) trackTunnel(a, b net.Conn) func() {
	t := &g.tunnels
	t.mu.Lock()
	if t.conns == nil {
		t.conns = make(map[net.Conn]struct{})
	}
	t.conns[a], t.conns[b] = struct{}{}, struct{}{}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.conns, a)
		delete(t.conns, b)
		t.mu.Unlock()
	}
}

// closeAll closes every tunnel still open.
func (t *tunnelSet) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.Close()
	}
}
