package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// TestHTTPSProxies serves an ECDSA certificate whose chain has an
// intermediate, and checks that requests over TLS are proxied as plain
// ones are, told apart by X-Forwarded-Proto, on keep-alive connections;
// the plain listener goes on serving beside it.
func TestHTTPSProxies(t *testing.T) {
	ca := testcert.NewCA(t, "proxy")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example", "127.0.0.1").Write(t, dir, "gw")
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s %s", r.Host, r.RequestURI, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"))
	})
	g, base := startGateway(t, tlsGatewayConfig(b.URL, "", "", certFile, keyFile))
	if g.TLSAddr() == "" || g.TLSAddr() == g.Addr() {
		t.Fatalf("TLSAddr %q beside Addr %q", g.TLSAddr(), g.Addr())
	}
	client := httpsClient(ca.Roots, "gw.example")
	conns := 0
	trace := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Roots, ServerName: "gw.example"},
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
	c, err := handshake(g.TLSAddr(), "gw.example", ca.Roots, nil)
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

// TestHTTPSCertificateBySNI serves three certificates, ECDSA and RSA, one
// of them a wildcard, and checks which one each server name gets: an
// exact DNS name first, then a one-label wildcard, else the first.
func TestHTTPSCertificateBySNI(t *testing.T) {
	ca := testcert.NewCA(t, "sni")
	dir := t.TempDir()
	first := ca.Issue(t, testcert.ECDSA, time.Time{}, "first.example", "www.first.example")
	wild := ca.Issue(t, testcert.RSA, time.Time{}, "*.wild.example")
	exact := ca.Issue(t, testcert.ECDSA, time.Time{}, "a.wild.example", "other.test")
	c1, k1 := first.Write(t, dir, "first")
	c2, k2 := wild.Write(t, dir, "wild")
	c3, k3 := exact.Write(t, dir, "exact")
	b := startBackend(t, "b", nil)
	g, _ := startGateway(t, tlsGatewayConfig(b.URL, "", "", c1, k1, c2, k2, c3, k3))
	for _, tt := range []struct {
		sni  string
		want testcert.Cert
	}{
		{"first.example", first},
		{"www.first.example", first},
		{"a.wild.example", exact}, // the exact name wins over the wildcard listed before it
		{"b.wild.example", wild},
		{"B.Wild.Example", wild},
		{"other.test", exact},
		{"deep.b.wild.example", first}, // a wildcard covers one label only
		{"wild.example", first},
		{"unknown.example", first},
		{"", first}, // no SNI
	} {
		// Unverified, since the first certificate does not name every
		// server name asked for: what counts is what was sent.
		c, err := handshake(g.TLSAddr(), tt.sni, ca.Roots, func(c *tls.Config) { c.InsecureSkipVerify = true })
		if err != nil {
			t.Fatalf("handshake for %q: %v", tt.sni, err)
		}
		if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(tt.want.Leaf) {
			t.Errorf("SNI %q got the certificate of %v, want that of %v", tt.sni, got.DNSNames, tt.want.Leaf.DNSNames)
		}
		c.Close()
	}
	// Two certificates for one name, ECDSA first: a client that takes RSA
	// only gets the RSA one.
	dualEC, dualRSA := ca.Issue(t, testcert.ECDSA, time.Time{}, "dual.example"), ca.Issue(t, testcert.RSA, time.Time{}, "dual.example")
	c4, k4 := dualEC.Write(t, dir, "dual-ec")
	c5, k5 := dualRSA.Write(t, dir, "dual-rsa")
	reloadOK(t, g, tlsGatewayConfig(b.URL, "", "", c1, k1, c2, k2, c3, k3, c4, k4, c5, k5))
	if got := servedLeaf(t, g.TLSAddr(), "dual.example", ca.Roots); !got.Equal(dualEC.Leaf) {
		t.Errorf("dual.example got %v, want the ECDSA certificate", got.PublicKeyAlgorithm)
	}
	rsaOnly := func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	}
	rc, err := handshake(g.TLSAddr(), "dual.example", ca.Roots, rsaOnly)
	if err != nil {
		t.Fatalf("RSA-only handshake for dual.example: %v", err)
	}
	if got := rc.ConnectionState().PeerCertificates[0]; !got.Equal(dualRSA.Leaf) {
		t.Errorf("an RSA-only client got %v, want the RSA certificate", got.PublicKeyAlgorithm)
	}
	rc.Close()

	// The RSA wildcard verifies, through the intermediate.
	if got := servedLeaf(t, g.TLSAddr(), "c.wild.example", ca.Roots); !got.Equal(wild.Leaf) {
		t.Errorf("verified handshake for c.wild.example got %v", got.DNSNames)
	}
}

// TestHTTPSClientCertificates checks clientCA with each clientAuth: a
// client certificate the CA signed is required, or verified when given;
// one another CA signed is refused either way.
func TestHTTPSClientCertificates(t *testing.T) {
	ca, clients, strangers := testcert.NewCA(t, "server"), testcert.NewCA(t, "clients"), testcert.NewCA(t, "strangers")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, dir, "gw")
	clientCA := clients.WriteRoot(t, dir, "clients.pem")
	good, bad := clients.Issue(t, testcert.ECDSA, time.Time{}, "alice"), strangers.Issue(t, testcert.RSA, time.Time{}, "mallory")
	b := startBackend(t, "b", nil)
	// withCert sends c whatever CAs the server names as acceptable.
	withCert := func(c testcert.Cert) func(*tls.Config) {
		cert := c.TLS(t)
		return func(cfg *tls.Config) {
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		}
	}
	// request sends one request over a new TLS connection and returns the
	// status, or the error of the handshake or of the request.
	request := func(addr string, change func(*tls.Config)) (int, error) {
		c, err := handshake(addr, "gw.example", ca.Roots, change)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: gw.example\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err // TLS 1.3 reports a refused certificate here
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, tt := range []struct {
		auth                   string
		none, signed, stranger bool // whether each client is served
	}{
		{"", false, true, false}, // require is the default
		{"  clientAuth: require\n", false, true, false},
		{"  clientAuth: verify-if-given\n", true, true, false},
	} {
		name := strings.TrimSpace(tt.auth)
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			g, _ := startGateway(t, tlsGatewayConfig(b.URL, "  clientCA: "+clientCA+"\n"+tt.auth, "", certFile, keyFile))
			for _, c := range []struct {
				name   string
				change func(*tls.Config)
				served bool
			}{
				{"no certificate", nil, tt.none},
				{"a certificate of the client CA", withCert(good), tt.signed},
				{"a certificate of another CA", withCert(bad), tt.stranger},
			} {
				status, err := request(g.TLSAddr(), c.change)
				if c.served && (err != nil || status != 200) {
					t.Errorf("%s: %d, %v; want 200", c.name, status, err)
				}
				if !c.served && err == nil {
					t.Errorf("%s: answered %d; want the handshake refused", c.name, status)
				}
			}
		})
	}
}

// TestHTTPSMinVersion checks that minVersion 1.3 refuses TLS 1.2 clients,
// and that 1.2, the default, takes them.
func TestHTTPSMinVersion(t *testing.T) {
	ca := testcert.NewCA(t, "version")
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, t.TempDir(), "gw")
	b := startBackend(t, "b", nil)
	tls12 := func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }
	g, _ := startGateway(t, tlsGatewayConfig(b.URL, "", "", certFile, keyFile))
	c, err := handshake(g.TLSAddr(), "gw.example", ca.Roots, tls12)
	if err != nil {
		t.Fatalf("TLS 1.2 under the default minVersion: %v", err)
	}
	c.Close()
	reloadOK(t, g, tlsGatewayConfig(b.URL, "  minVersion: \"1.3\"\n", "", certFile, keyFile))
	if c, err := handshake(g.TLSAddr(), "gw.example", ca.Roots, tls12); err == nil {
		c.Close()
		t.Fatal("TLS 1.2 under minVersion 1.3: the handshake succeeded")
	}
	c, err = handshake(g.TLSAddr(), "gw.example", ca.Roots, nil)
	if err != nil || c.ConnectionState().Version != tls.VersionTLS13 {
		t.Fatalf("TLS 1.3 under minVersion 1.3: %v", err)
	}
	c.Close()
}

// TestHTTPSRedirect checks redirectHTTP: every request of the plain
// listener gets 308 to the same host, path and query over https, on the
// HTTPS listener's port, but for ACME HTTP-01 challenges, which are
// proxied; requests over TLS are proxied.
func TestHTTPSRedirect(t *testing.T) {
	ca := testcert.NewCA(t, "redirect")
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, t.TempDir(), "gw")
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "proxied "+r.RequestURI) })
	g, base := startGateway(t, tlsGatewayConfig(b.URL, "  redirectHTTP: true\n", "accessLog: "+t.TempDir()+"/a.log\n", certFile, keyFile))
	_, port, _ := net.SplitHostPort(g.TLSAddr())
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct{ method, host, target, want string }{
		{"GET", "gw.example", "/a/b?c=d&e=%2F", "https://gw.example:" + port + "/a/b?c=d&e=%2F"},
		{"POST", "gw.example:8080", "/form", "https://gw.example:" + port + "/form"},
		{"HEAD", "[::1]:8080", "/", "https://[::1]:" + port + "/"},
		{"GET", "gw.example", "/.well-known/acme-challengeX", "https://gw.example:" + port + "/.well-known/acme-challengeX"},
	} {
		req, _ := http.NewRequest(tt.method, base+tt.target, strings.NewReader(""))
		if tt.method == "POST" {
			req.Body = io.NopCloser(strings.NewReader("field=1"))
			req.ContentLength = 7
		}
		req.Host = tt.host
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != tt.want {
			t.Errorf("%s %s (Host %s): %d Location %q, want 308 %q", tt.method, tt.target, tt.host, resp.StatusCode, resp.Header.Get("Location"), tt.want)
		}
		if body != "" {
			t.Errorf("%s %s: a body %q", tt.method, tt.target, body)
		}
	}
	// An absolute-form target keeps its path and query.
	c, err := net.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET http://gw.example/x?y HTTP/1.1\r\nHost: ignored\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 308 || resp.Header.Get("Location") != "https://gw.example:"+port+"/x?y" {
		t.Errorf("absolute-form target: %v, %v", resp, err)
	}
	// ACME HTTP-01 challenges go through.
	if status, body := get(t, noFollow, base+"/.well-known/acme-challenge/token123"); status != 200 || body != "proxied /.well-known/acme-challenge/token123" {
		t.Errorf("ACME challenge: %d %q, want it proxied", status, body)
	}
	if status, body := get(t, httpsClient(ca.Roots, "gw.example"), "https://"+g.TLSAddr()+"/a"); status != 200 || body != "proxied /a" {
		t.Errorf("over TLS: %d %q, want it proxied", status, body)
	}
}

// TestHTTPSDataPath runs what the data path does beyond a plain GET over
// TLS: a response streamed event by event, an early answer to an upload
// the client goes on sending (read, not reset, thanks to the lingering
// close), a WebSocket-style tunnel, and the connection cap, over which a
// TLS connection is closed without an answer it could not read.
func TestHTTPSDataPath(t *testing.T) {
	ca := testcert.NewCA(t, "datapath")
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, t.TempDir(), "gw")
	release := make(chan struct{})
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "data: two\n\n")
		case "/upload":
			w.Header().Set("Connection", "close")
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		case "/ws":
			upgradeHandler(echo)(w, r)
		}
	})
	g, _ := startGateway(t, tlsGatewayConfig(b.URL, "", "maxConnections: 3\n", certFile, keyFile))

	t.Run("event stream", func(t *testing.T) {
		resp, err := httpsClient(ca.Roots, "gw.example").Get("https://" + g.TLSAddr() + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
			t.Fatalf("first event before the stream ends: %q, %v", line, err)
		}
		close(release)
		rest, _ := io.ReadAll(br)
		if string(rest) != "\ndata: two\n\n" {
			t.Fatalf("rest of the stream %q", rest)
		}
	})

	t.Run("early answer to an upload", func(t *testing.T) {
		k := openKeepAlive(t, g.TLSAddr(), "gw.example", ca)
		const size = 20 << 20
		k.c.SetDeadline(time.Now().Add(3 * lingerTime))
		fmt.Fprintf(k.c, "POST /upload HTTP/1.1\r\nHost: gw.example\r\nContent-Length: %d\r\n\r\n", size)
		chunk := []byte(strings.Repeat("u", 64<<10))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := k.c.Write(chunk); err != nil {
				t.Fatalf("the client could send %d of its %d bytes, then: %v; want the gateway to read them after answering", sent, size, err)
			}
		}
		resp, err := http.ReadResponse(k.br, nil)
		if err != nil {
			t.Fatalf("reading the answer after the upload: %v", err)
		}
		body, err := io.ReadAll(resp.Body) // until the gateway's close_notify
		if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || string(body) != "too large\n" {
			t.Fatalf("got %d %q, %v; want the backend's 413 in full, then the end of the stream", resp.StatusCode, body, err)
		}
	})

	t.Run("tunnel", func(t *testing.T) {
		k := openKeepAlive(t, g.TLSAddr(), "gw.example", ca)
		k.c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(k.c, "GET /ws HTTP/1.1\r\nHost: gw.example\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		resp, err := http.ReadResponse(k.br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v, %v", resp, err)
		}
		io.WriteString(k.c, "ping over TLS")
		buf := make([]byte, len("ping over TLS"))
		if _, err := io.ReadFull(k.br, buf); err != nil || string(buf) != "ping over TLS" {
			t.Fatalf("echo %q, %v", buf, err)
		}
	})

	t.Run("over the cap", func(t *testing.T) {
		waitUntil(t, "the earlier connections to close", func() bool { return g.public.limit.open.Load() <= 1 })
		var held []*keepAlive
		for len(held) < 3 {
			k := openKeepAlive(t, g.TLSAddr(), "gw.example", ca)
			if status, _, err := k.get("/"); status != 200 || err != nil {
				t.Fatalf("a connection under the cap: %d %v", status, err)
			}
			held = append(held, k)
			if g.public.limit.open.Load() >= 3 {
				break
			}
		}
		c, err := handshake(g.TLSAddr(), "gw.example", ca.Roots, nil)
		if err == nil {
			c.Close()
			t.Fatal("a TLS connection over the cap got a handshake")
		}
		if n := g.metrics.unrouted.load(503); n != 0 {
			t.Errorf("a refused TLS connection counted as %d answers 503; it got none", n)
		}
	})
}
