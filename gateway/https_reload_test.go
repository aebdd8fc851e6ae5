package gateway

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// keepAlive is an HTTP/1.1 client connection over TLS that sends request
// after request on the same connection.
type keepAlive struct {
	c  *tls.Conn
	br *bufio.Reader
}

// openKeepAlive opens a keep-alive TLS connection to addr for serverName.
func openKeepAlive(t *testing.T, addr, serverName string, ca *testcert.CA) *keepAlive {
	t.Helper()
	c, err := handshake(addr, serverName, ca.Roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAlive{c: c, br: bufio.NewReader(c)}
}

// get sends GET path on the connection and returns the status and body.
func (k *keepAlive) get(path string) (int, string, error) {
	k.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(k.c, "GET "+path+" HTTP/1.1\r\nHost: gw.example\r\n\r\n"); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), err
}

// TestHTTPSReloadKeepsSocket reloads configs that change the certificate
// list and the TLS settings: the HTTPS listener keeps its socket, a
// keep-alive connection opened before goes on with the certificate it
// started with, and new handshakes get the new settings. A new tls.listen
// is bound before the config applies, and one in use rejects it.
func TestHTTPSReloadKeepsSocket(t *testing.T) {
	ca := testcert.NewCA(t, "reload")
	dir := t.TempDir()
	one, two := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example"), ca.Issue(t, testcert.RSA, time.Time{}, "gw.example")
	c1, k1 := one.Write(t, dir, "one")
	c2, k2 := two.Write(t, dir, "two")
	b := startBackend(t, "b", nil)
	g, _ := startGateway(t, tlsGatewayConfig(b.URL, "", "", c1, k1))
	sock, addr := g.secure.currentSocket(), g.TLSAddr()
	held := openKeepAlive(t, addr, "gw.example", ca)
	if status, _, err := held.get("/"); status != 200 || err != nil {
		t.Fatalf("first request: %d %v", status, err)
	}

	rec := reloadOK(t, g, tlsGatewayConfig(b.URL, "  minVersion: \"1.3\"\n", "", c2, k2))
	if rec.Result != ResultApplied || g.secure.currentSocket() != sock || g.TLSAddr() != addr {
		t.Fatalf("reload %+v moved the HTTPS socket", rec)
	}
	if got := servedLeaf(t, addr, "gw.example", ca.Roots); !got.Equal(two.Leaf) {
		t.Error("a new handshake after the reload did not get the new certificate")
	}
	for i := range 3 {
		if status, _, err := held.get("/"); status != 200 || err != nil {
			t.Fatalf("request %d on the connection opened before: %d %v", i, status, err)
		}
	}
	if got := held.c.ConnectionState().PeerCertificates[0]; !got.Equal(one.Leaf) {
		t.Error("the connection opened before changed certificate")
	}

	// A new address is bound first: one in use rejects the config, and
	// the running listener serves on.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	moved := strings.Replace(tlsGatewayConfig(b.URL, "", "", c1, k1), "  listen: 127.0.0.1:0", "  listen: "+busy.Addr().String(), 1)
	if _, err := g.Load("test.yaml", []byte(moved), TriggerWatch); err == nil || !strings.Contains(err.Error(), "tls.listen") {
		t.Fatalf("a tls.listen in use: %v, want it rejected naming tls.listen", err)
	}
	if g.TLSAddr() != addr || servedLeaf(t, addr, "gw.example", ca.Roots) == nil {
		t.Fatal("the HTTPS listener did not serve on after a rejected move")
	}
	free := freeAddr(t)
	reloadOK(t, g, strings.Replace(tlsGatewayConfig(b.URL, "", "", c1, k1), "  listen: 127.0.0.1:0", "  listen: "+free, 1))
	if g.TLSAddr() != free {
		t.Fatalf("TLSAddr %q after the move, want %s", g.TLSAddr(), free)
	}
	if got := servedLeaf(t, free, "gw.example", ca.Roots); !got.Equal(one.Leaf) {
		t.Error("the new address does not serve the certificate")
	}
	if status, _, err := held.get("/"); status != 200 || err != nil {
		t.Fatalf("the connection to the old address after the move: %d %v", status, err)
	}
	waitRetired(t, g.secure)

	// Without tls the HTTPS listener stops; with it again it starts.
	reloadOK(t, g, poolConfig("round_robin", "", b.URL))
	if g.TLSAddr() != "" {
		t.Fatalf("TLSAddr %q without tls", g.TLSAddr())
	}
	reloadOK(t, g, tlsGatewayConfig(b.URL, "", "", c1, k1))
	if servedLeaf(t, g.TLSAddr(), "gw.example", ca.Roots) == nil {
		t.Fatal("the HTTPS listener did not start again")
	}
}

// TestHTTPSFileProblems checks that a config whose TLS files cannot be
// used is rejected naming the key and where it is written, with the
// running config serving on, and that CheckFiles, which `gateway
// validate` uses, says the same, and warns of an expired certificate.
func TestHTTPSFileProblems(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	testcert.WriteFile(t, garbage, []byte("not PEM at all\n"))
	ca := testcert.NewCA(t, "files")
	good, other := ca.Issue(t, testcert.ECDSA, time.Time{}, "a.example"), ca.Issue(t, testcert.ECDSA, time.Time{}, "b.example")
	c1, k1 := good.Write(t, dir, "good")
	_, k2 := other.Write(t, dir, "other")
	expired := ca.Issue(t, testcert.ECDSA, time.Now().Add(-time.Minute), "old.example")
	c3, k3 := expired.Write(t, dir, "expired")
	missing := filepath.Join(dir, "missing.pem")
	b := startBackend(t, "b", nil)
	g, _ := startGateway(t, tlsGatewayConfig(b.URL, "", "", c1, k1))
	addr := g.TLSAddr()

	for _, tt := range []struct {
		name, config, path, msg string
	}{
		{"a key of another certificate", tlsGatewayConfig(b.URL, "", "", c1, k1, c1, k2), "tls.certificates[1].keyFile", "does not match the certificate"},
		{"a missing certificate", tlsGatewayConfig(b.URL, "", "", missing, k1), "tls.certificates[0].certFile", "no such file or directory"},
		{"a certificate file without PEM", tlsGatewayConfig(b.URL, "", "", garbage, k1), "tls.certificates[0].certFile", "no PEM certificate"},
		{"a key file without a key", tlsGatewayConfig(b.URL, "", "", c1, garbage), "tls.certificates[0].keyFile", "no usable private key"},
		{"a client CA without certificates", tlsGatewayConfig(b.URL, "  clientCA: "+garbage+"\n", "", c1, k1), "tls.clientCA", "no PEM certificate"},
		{"a backend CA file that is missing", tlsGatewayConfig(b.URL, "", "backendTLS: {caFile: "+missing+"}\n", c1, k1), "backendTLS.caFile", "no such file"},
		{"a pool's client key of another certificate", tlsGatewayConfig(b.URL, "", "", c1, k1) + "    tls: {certFile: " + c1 + ", keyFile: " + k2 + "}\n", "pools.p.tls.keyFile", "does not match"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Decode("test.yaml", []byte(tt.config))
			if err != nil {
				t.Fatal(err)
			}
			problems, _ := CheckFiles(cfg)
			if len(problems) != 1 || problems[0].Path != tt.path || !strings.Contains(problems[0].Message, tt.msg) || problems[0].Line == 0 {
				t.Errorf("CheckFiles: %v, want one problem at %s saying %q, with its line", problems, tt.path, tt.msg)
			}
			_, err = g.Apply(cfg, TriggerWatch)
			var ce *config.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "test.yaml:") || !strings.Contains(err.Error(), tt.path+": ") {
				t.Errorf("Apply: %v, want a config error naming %s", err, tt.path)
			}
			if got := servedLeaf(t, addr, "a.example", ca.Roots); !got.Equal(good.Leaf) {
				t.Error("the running certificate stopped serving")
			}
		})
	}

	cfg, err := config.Decode("test.yaml", []byte(tlsGatewayConfig(b.URL, "", "", c1, k1, c3, k3)))
	if err != nil {
		t.Fatal(err)
	}
	problems, warnings := CheckFiles(cfg)
	if len(problems) != 0 || len(warnings) != 1 || warnings[0].Path != "tls.certificates[1].certFile" || !strings.Contains(warnings[0].Message, "expired") {
		t.Fatalf("CheckFiles of an expired certificate: %v, %v; want one warning", problems, warnings)
	}
	// An expired certificate is served all the same, as web servers do.
	reloadOK(t, g, tlsGatewayConfig(b.URL, "", "", c1, k1, c3, k3))
	c, err := handshake(addr, "old.example", ca.Roots, func(c *tls.Config) { c.InsecureSkipVerify = true })
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !c.ConnectionState().PeerCertificates[0].Equal(expired.Leaf) {
		t.Error("the expired certificate is not served")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("the missing file exists")
	}
}

// TestHTTPSHandshakes checks that handshakes never hold the accept loop:
// a client that connects and sends nothing does not keep another from
// being served, and is cut off at clientHeaderTimeout. A handshake that
// fails is no request: nothing is counted or logged as one.
func TestHTTPSHandshakes(t *testing.T) {
	ca := testcert.NewCA(t, "handshakes")
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, t.TempDir(), "gw")
	b := startBackend(t, "b", nil)
	logPath := filepath.Join(t.TempDir(), "access.log")
	g, _ := startGateway(t, tlsGatewayConfig(b.URL, "", "clientHeaderTimeout: 1s\naccessLog: "+logPath+"\n", certFile, keyFile))
	silent := make([]net.Conn, 20)
	for i := range silent {
		c, err := net.Dial("tcp", g.TLSAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent[i] = c
	}
	start := time.Now()
	if status, _ := get(t, httpsClient(ca.Roots, "gw.example"), "https://"+g.TLSAddr()+"/"); status != 200 {
		t.Fatalf("status %d beside silent connections", status)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("a handshake beside 20 silent connections took %v", d)
	}
	// The silent ones are closed at the header timeout.
	silent[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent[0].Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a silent connection: read %d, %v; want it closed by the gateway", n, err)
	}
	// Plain HTTP to the HTTPS port, and a client that trusts nothing.
	c, err := net.Dial("tcp", g.TLSAddr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c)
	c.Close()
	if _, err := handshake(g.TLSAddr(), "gw.example", testcert.NewCA(t, "other").Roots, nil); err == nil {
		t.Fatal("a handshake with a client that does not trust the chain succeeded")
	}
	// Shutting down waits for every connection, and writes the log out.
	if lines := accessLogLines(t, g, logPath); len(lines) != 1 {
		t.Errorf("access log %q, want the one request", lines)
	}
	if n := g.metrics.unrouted.load(400); n != 0 {
		t.Errorf("failed handshakes counted as %d requests answered 400", n)
	}
}

// TestLeakTLSChanges reloads with, in turn, another tls.listen address,
// another certificate list, another minVersion and no tls at all, with an
// HTTPS request through each: the sockets, connections and goroutines
// that each change retires are all gone once it has retired.
func TestLeakTLSChanges(t *testing.T) {
	reloads := 200
	if leakLong() {
		reloads = 1000
	}
	ca := testcert.NewCA(t, "leak")
	dir := t.TempDir()
	c1, k1 := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, dir, "one")
	c2, k2 := ca.Issue(t, testcert.RSA, time.Time{}, "gw.example").Write(t, dir, "two")
	b := startBackend(t, "b", nil)
	addrs := []string{freeAddr(t), freeAddr(t)}
	config := func(i int) string {
		if i%7 == 6 {
			return poolConfig("round_robin", "", b.URL)
		}
		pairs := []string{c1, k1}
		if i%3 == 1 {
			pairs = []string{c2, k2, c1, k1}
		}
		version := "\"1.2\""
		if i%4 == 3 {
			version = "\"1.3\""
		}
		return strings.Replace(tlsGatewayConfig(b.URL, "  minVersion: "+version+"\n", "", pairs...),
			"  listen: 127.0.0.1:0", "  listen: "+addrs[i/5%2], 1)
	}
	g, _ := startGateway(t, config(0))
	client := httpsClient(ca.Roots, "gw.example")
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 1
	run := func(n int) {
		t.Helper()
		for i := range n {
			reloadOK(t, g, config(i+1))
			if g.TLSAddr() == "" {
				continue
			}
			if status, _ := get(t, client, "https://"+g.TLSAddr()+"/"); status != 200 {
				t.Fatalf("reload %d: %d over TLS", i, status)
			}
		}
		client.CloseIdleConnections()
		waitRetired(t, g.secure)
	}
	run(14)
	baseline := measure(t)
	run(reloads)
	settle(t, baseline, client.CloseIdleConnections)
}

// TestHTTPSOnlyAfterReload reloads a config with a plain and an HTTPS
// listener into one without `listen`: the plain socket stops accepting
// once its clients have gone, /reloads records the listener stopped, and
// HTTPS serves on. Putting `listen` back starts a plain listener again.
func TestHTTPSOnlyAfterReload(t *testing.T) {
	ca := testcert.NewCA(t, "https-only")
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, t.TempDir(), "gw")
	b := startBackend(t, "b", nil)
	both := tlsGatewayConfig(b.URL, "", "", certFile, keyFile)
	g, base := startGateway(t, both)
	plain := strings.TrimPrefix(base, "http://")
	if status, _ := get(t, &http.Client{}, base+"/"); status != 200 {
		t.Fatalf("plain GET before: %d", status)
	}

	rec := reloadOK(t, g, strings.Replace(both, "listen: 127.0.0.1:0\ntls:", "tls:", 1))
	if rec.Listener != "stop" {
		t.Errorf("the reload that drops listen recorded listener %q, want stop", rec.Listener)
	}
	if g.Addr() != "" {
		t.Errorf("Addr() = %q after listen was dropped, want none", g.Addr())
	}
	waitUntil(t, "the plain socket to close", func() bool {
		c, err := net.DialTimeout("tcp", plain, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	k := openKeepAlive(t, g.TLSAddr(), "gw.example", ca)
	if status, _, err := k.get("/"); status != 200 || err != nil {
		t.Fatalf("HTTPS GET after listen was dropped: %d %v", status, err)
	}

	rec = reloadOK(t, g, both)
	if rec.Listener != "start" || g.Addr() == "" {
		t.Fatalf("putting listen back: listener %q, Addr %q; want start and an address", rec.Listener, g.Addr())
	}
	if status, _ := get(t, &http.Client{}, "http://"+g.Addr()+"/"); status != 200 {
		t.Errorf("plain GET after listen came back: %d", status)
	}
}
