package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/valyala/fasthttp"
)

// The HTTPS listener is the public listener's server behind a second
// [entrance], whose sockets wrap every connection they accept in TLS
// before it joins the same queue: one server, one connection cap, one
// hand-over across reloads for both. The handshake runs on the
// connection's own goroutine once a server takes it (see
// [tlsClientConn]), never in the accept loop, bounded by
// clientHeaderTimeout. Its tls.Config is that of the running [tlsState],
// read with one atomic load per handshake ([Gateway.serverTLSConfig]), so
// that a rotated certificate or new TLS settings apply from the next
// handshake on, and every open connection keeps what it started with.

// TLSAddr returns the address the HTTPS listener is bound to, or "" when
// there is none.
func (g *Gateway) TLSAddr() string {
	return g.secure.addr()
}

// errNoTLS fails a handshake when no config with tls is being served.
var errNoTLS = errors.New("no certificate is configured")

// serverTLSConfig is the GetConfigForClient of the HTTPS listener: the
// tls.Config of the running TLS material.
func (g *Gateway) serverTLSConfig(*tls.ClientHelloInfo) (*tls.Config, error) {
	if st := g.tls.Load(); st != nil && st.server != nil {
		return st.server.config, nil
	}
	return nil, errNoTLS
}

// commitTLS publishes the TLS material that st loaded for cfg, puts the
// HTTPS listener's new socket into service and retires the one it
// replaces. It is called under g.mu, once cfg's generation is published.
func (g *Gateway) commitTLS(st *stage, cfg *config.Config) {
	prev := g.tls.Swap(st.tls)
	g.warnExpired(st.tls, prev)
	switch st.plan.tlsListen {
	case actionStart, actionMove:
		from := g.secure.addr()
		g.secure.commit(st.tlsSocket)
		if st.plan.tlsListen == actionMove {
			g.logger.Info("HTTPS listener moved; the old address closes once its clients have gone",
				"listen", g.secure.addr(), "from", from)
		}
	case actionStop:
		// Connections the retiring socket still accepts fail their
		// handshake: there is no certificate any more.
		g.secure.commit(nil)
	}
	g.tlsListenAddr = ""
	port := ""
	if cfg.TLS != nil {
		g.tlsListenAddr = cfg.TLS.Listen
		if _, p, err := net.SplitHostPort(g.secure.addr()); err == nil && p != "443" {
			port = ":" + p
		}
	}
	g.httpsPort.Store(&port)
}

// warnExpired logs each certificate of st that prev did not have and that
// has expired: it is served all the same, as a web server would.
func (g *Gateway) warnExpired(st, prev *tlsState) {
	now := time.Now()
	for _, ref := range st.refs {
		p := st.pairs[ref.key]
		if prev != nil && prev.pairs[ref.key] == p {
			continue
		}
		if w := p.expired(now); w != "" {
			g.logger.Warn("certificate expired; it is served all the same", "certFile", p.certFile,
				"notAfter", p.leaf().NotAfter)
		}
	}
}

// acmeChallenges is the path prefix of ACME HTTP-01 challenges, which the
// plain listener routes as usual when it redirects everything else to
// https.
var acmeChallenges = []byte("/.well-known/acme-challenge/")

// redirectsToHTTPS reports whether the request of ctx, under cfg, is one
// the plain listener answers with a redirect to https.
func redirectsToHTTPS(ctx *fasthttp.RequestCtx, cfg *config.Config) bool {
	return cfg.TLS != nil && cfg.TLS.RedirectHTTP && !ctx.IsTLS() && !bytes.HasPrefix(ctx.Path(), acmeChallenges)
}

// redirectToHTTPS answers a request of the plain listener with 308 and
// Location: https://HOST[:PORT]/PATH?QUERY, where HOST is the request's
// host without its port and :PORT the HTTPS listener's port unless it is
// 443. A request with a body has its connection closed lingeringly, as
// every answer before the body does.
func (g *Gateway) redirectToHTTPS(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	loc := append(make([]byte, 0, 64), "https://"...)
	loc = append(loc, stripPort(h.Host())...)
	if port := g.httpsPort.Load(); port != nil {
		loc = append(loc, *port...)
	}
	loc = originForm(loc, h.RequestURI())
	ctx.Response.Header.SetBytesV(fasthttp.HeaderLocation, loc)
	g.reject(ctx, nil, nil, fasthttp.StatusPermanentRedirect, "")
}
