package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPSProxies serves an ECDSA certificate whose chain has an
// intermediate, and checks that requests over TLS are proxied as plain
// ones are, told apart by X-Forwarded-Proto, on keep-alive connections;
// the plain listener goes on serving beside it.
func TestHTTPSProxies(t *testing.T) {
	ca := newTestCA(t, "proxy")
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, "ecdsa", time.Time{}, "gw.example", "127.0.0.1").write(t, dir, "gw")
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s %s", r.Host, r.RequestURI, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"))
	})
	g, base := startGateway(t, tlsGatewayConfig(b.URL, "", "", certFile, keyFile))
	if g.TLSAddr() == "" || g.TLSAddr() == g.Addr() {
		t.Fatalf("TLSAddr %q beside Addr %q", g.TLSAddr(), g.Addr())
	}
	client := httpsClient(ca.roots, "gw.example")
	conns := 0
	trace := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.roots, ServerName: "gw.example"},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conns++
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	client.Transport = trace
	for i := range 3 {
		status, body := get(t, client, "https://"+g.TLSAddr()+"/a?b="+fmt.Sprint(i))
		if want := fmt.Sprintf("%s /a?b=%d https 127.0.0.1", g.TLSAddr(), i); status != 200 || body != want {
			t.Fatalf("GET over TLS: %d %q, want 200 %q", status, body, want)
		}
	}
	if conns != 1 {
		t.Errorf("three requests took %d connections, want one kept alive", conns)
	}
	if status, body := get(t, &http.Client{}, base+"/p"); status != 200 || !strings.HasSuffix(body, " /p http 127.0.0.1") {
		t.Fatalf("GET over the plain listener: %d %q", status, body)
	}
	// The chain holds the intermediate: a client that knows only the
	// root verifies it.
	c, err := handshake(g.TLSAddr(), "gw.example", ca.roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := len(c.ConnectionState().PeerCertificates); n != 2 {
		t.Errorf("the chain served has %d certificates, want the leaf and the intermediate", n)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN chose %q, want http/1.1", p)
	}
	noBackendFailed(t, g)
}
