package gateway

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// inmemoryProxy is a gateway and its backend joined by in-memory
// connections, with a client that reaches the gateway the same way: the
// whole data path of a proxied request without a socket, so that
// benchmarks measure the gateway's own cost.
type inmemoryProxy struct {
	client *fasthttp.HostClient
}

// startInmemoryProxy serves config with one pool of one backend answering
// with handler, all over [fasthttputil.InmemoryListener]s. The server URL
// in config is never dialled.
func startInmemoryProxy(tb testing.TB, config string, handler fasthttp.RequestHandler) *inmemoryProxy {
	tb.Helper()
	backendLn := fasthttputil.NewInmemoryListener()
	backend := &fasthttp.Server{Handler: handler, NoDefaultServerHeader: true}
	backendDone := make(chan struct{})
	go func() {
		defer close(backendDone)
		backend.Serve(backendLn)
	}()

	g := New(Options{})
	if _, err := g.Load("bench.yaml", []byte(config), TriggerStart); err != nil {
		tb.Fatalf("load: %v", err)
	}
	for _, p := range g.current().pools {
		for _, b := range p.backends {
			b.transport.Load().dial = func(context.Context, string, string) (net.Conn, error) {
				return backendLn.Dial()
			}
		}
	}
	frontLn := fasthttputil.NewInmemoryListener()
	frontDone := make(chan struct{})
	go func() {
		defer close(frontDone)
		g.listener.srv.Serve(frontLn)
	}()

	peer := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000}
	client := &fasthttp.HostClient{
		Addr:                     "gateway.test",
		Dial:                     func(string) (net.Conn, error) { return frontLn.DialWithLocalAddr(peer) },
		NoDefaultUserAgentHeader: true,
		MaxConns:                 256,
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		client.CloseIdleConnections()
		g.Shutdown(ctx)
		<-frontDone
		backend.ShutdownWithContext(ctx)
		<-backendDone
	})
	return &inmemoryProxy{client: client}
}
