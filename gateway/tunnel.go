package gateway

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// tunnel proxies an Upgrade request (WebSocket and the like). A
// HostClient would pool the connection after a 101 and write the next
// request into the upgraded stream, so the backend is dialled directly: the
// request goes out with its Upgrade intact, and after the backend's 101 the
// client connection is hijacked and bytes are copied both ways until either
// side closes. Any other answer is relayed as a normal response.
func (g *Gateway) tunnel(ctx *fasthttp.RequestCtx, gen *generation, p *pool) {
	h := &ctx.Request.Header
	upgrade := string(h.Peek(fasthttp.HeaderUpgrade))
	ex := acquireExchange(g, p, ctx)
	client := ex.prepare(ctx, gen.cfg)
	h.Set(fasthttp.HeaderConnection, "Upgrade")
	h.Set(fasthttp.HeaderUpgrade, upgrade)

	var tried uint64
	for attempt := 0; attempt < len(p.backends); attempt++ {
		i := p.selector.pick(p, client, tried)
		if i < 0 {
			break
		}
		b := p.backends[i]
		conn, err := g.dialBackend(b)
		if err != nil {
			g.passiveFailure(p, b, "connect failed")
			if i >= 64 {
				break
			}
			tried |= 1 << uint(i)
			continue
		}
		g.upgradeOn(ctx, ex, b, conn)
		return
	}
	ex.release()
	if tried == 0 {
		ctx.Response.Header.Set("Retry-After", "1")
		g.refuse(ctx, p, fasthttp.StatusServiceUnavailable, "no healthy backend for this route\n")
		return
	}
	g.refuse(ctx, p, fasthttp.StatusBadGateway, "no backend could be reached\n")
}

// dialBackend opens a connection to b for a tunnel.
func (g *Gateway) dialBackend(b *backend) (net.Conn, error) {
	u := b.upstream.Load()
	c, err := u.dialTCP(b.addr)
	if err != nil {
		return nil, err
	}
	if u.tls != nil {
		tc := tls.Client(c, u.tls)
		tc.SetDeadline(time.Now().Add(u.connect))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		tc.SetDeadline(time.Time{})
		c = tc
	}
	return c, nil
}

// upgradeOn sends the upgrade request over conn and either tunnels (101) or
// relays the backend's answer.
func (g *Gateway) upgradeOn(ctx *fasthttp.RequestCtx, ex *exchange, b *backend, conn net.Conn) {
	ex.upstream = b.acquire()
	fail := func(status int, reason string, kind upstreamFailure) {
		conn.Close()
		b.release(ex.upstream)
		b.failures.Add(1)
		g.passiveFailure(ex.pool, b, kind.String())
		p := ex.pool
		ex.release()
		g.refuse(ctx, p, status, reason)
	}
	// Reads from the backend, the 101 and then the tunnel's downstream
	// bytes, are cut off after responseHeaderTimeout of silence, as nginx's
	// proxy_read_timeout closes a silent WebSocket.
	upstream := &deadlineConn{Conn: conn, read: &b.read}
	if d := b.read.get(); d > 0 {
		conn.SetWriteDeadline(time.Now().Add(d))
	}
	bw := bufio.NewWriter(conn)
	if err := ctx.Request.Write(bw); err != nil {
		fail(fasthttp.StatusBadGateway, "no backend could be reached\n", failReset)
		return
	}
	if err := bw.Flush(); err != nil {
		fail(fasthttp.StatusBadGateway, "no backend could be reached\n", failReset)
		return
	}
	conn.SetWriteDeadline(time.Time{})
	br := bufio.NewReader(upstream)
	resp := fasthttp.AcquireResponse()
	resp.Header.DisableNormalizing()
	if err := resp.Header.Read(br); err != nil {
		fasthttp.ReleaseResponse(resp)
		kind := classify(err)
		status := fasthttp.StatusBadGateway
		if kind == failTimeout {
			status = fasthttp.StatusGatewayTimeout
		}
		fail(status, "the backend did not complete the upgrade\n", kind)
		return
	}
	if resp.StatusCode() != fasthttp.StatusSwitchingProtocols {
		// Not upgraded: read the body and relay it as a normal answer.
		resp.Header.SetConnectionClose()
		if err := resp.ReadBody(br, 64<<20); err != nil {
			fasthttp.ReleaseResponse(resp)
			fail(fasthttp.StatusBadGateway, "the backend sent a bad response\n", failOther)
			return
		}
		conn.Close()
		ex.backend, ex.resp, ex.status = b, resp, resp.StatusCode()
		resp.Header.CopyTo(&ctx.Response.Header)
		ex.scratch = stripHopByHop(&ctx.Response.Header, ex.scratch)
		ctx.Response.SetBody(resp.Body())
		ex.finish()
		return
	}
	// 101: the handler hands the client connection over; the head of the
	// backend's answer goes first, then bytes flow both ways.
	head := append([]byte(nil), resp.Header.Header()...)
	fasthttp.ReleaseResponse(resp)
	ex.backend, ex.status = b, fasthttp.StatusSwitchingProtocols
	g.tunnels.Add(1)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		defer g.tunnels.Done()
		untrack := g.trackTunnel(client, conn)
		defer untrack()
		if _, err := client.Write(head); err == nil {
			ex.bytes = pipe(client, conn, br)
		}
		conn.Close()
		ex.finishTunnel()
	})
}

// finishTunnel ends an exchange whose connection was upgraded.
func (ex *exchange) finishTunnel() {
	b := ex.backend
	b.served.Add(1)
	b.release(ex.upstream)
	ex.g.observe(ex)
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
