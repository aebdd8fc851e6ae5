package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// tlsBackend is an https backend whose certificate a test CA testcert.Cert for
// api.internal only, which asks for a client certificate and names the
// one it got in its answers.
type tlsBackend struct {
	*httptest.Server
	cert atomic.Pointer[tls.Certificate]
}

// startTLSBackend starts a tlsBackend serving cert; clientCAs, when not
// nil, is the CA whose client certificates it requires.
func startTLSBackend(t *testing.T, cert testcert.Cert, clientCAs *testcert.CA) *tlsBackend {
	t.Helper()
	b := &tlsBackend{}
	c := cert.TLS(t)
	b.cert.Store(&c)
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "sni=%s client=%s", r.TLS.ServerName, client)
	}))
	b.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests are about
	b.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return b.cert.Load(), nil }}
	if clientCAs != nil {
		b.TLS.ClientCAs = clientCAs.Roots
		b.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	b.StartTLS()
	t.Cleanup(b.Close)
	return b
}

// backendTLSConfig is a config with one pool of server, probed every
// 50ms on / (failing probes never take it down, so that what a request
// meets is the TLS of the request), whose tls mapping holds tlsKeys.
func backendTLSConfig(server, tlsKeys string) string {
	return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\npools:\n  p:\n    healthCheck: {interval: 50ms, timeout: 1s, unhealthyThreshold: 1000}\n" +
		"    passive: {maxFails: 0}\n    servers: [" + server + "]\n    tls: {" + tlsKeys + "}\n"
}

// TestBackendTLS proxies to, and probes, an https backend whose
// certificate a private CA testcert.Cert for another name than its address, and
// which requires a client certificate: caFile, serverName and the client
// certificate are each needed, and insecureSkipVerify does without the
// first two.
func TestBackendTLS(t *testing.T) {
	serverCA, clientCA := testcert.NewCA(t, "backends"), testcert.NewCA(t, "gateway clients")
	dir := t.TempDir()
	caFile := serverCA.WriteRoot(t, dir, "backend-ca.pem")
	certFile, keyFile := clientCA.Issue(t, testcert.ECDSA, time.Time{}, "gateway-client").Write(t, dir, "client")
	b := startTLSBackend(t, serverCA.Issue(t, testcert.RSA, time.Time{}, "api.internal"), clientCA)
	full := fmt.Sprintf("caFile: %s, serverName: api.internal, certFile: %s, keyFile: %s", caFile, certFile, keyFile)
	for _, tt := range []struct {
		name, tls string
		status    int
		body      string
	}{
		{"caFile, serverName and a client certificate", full, 200, "sni=api.internal client=gateway-client"},
		{"insecureSkipVerify and a client certificate", fmt.Sprintf("insecureSkipVerify: true, certFile: %s, keyFile: %s", certFile, keyFile), 200, "sni= client=gateway-client"},
		{"no caFile: the system's roots", fmt.Sprintf("serverName: api.internal, certFile: %s, keyFile: %s", certFile, keyFile), 502, ""},
		{"no serverName: the address is verified", fmt.Sprintf("caFile: %s, certFile: %s, keyFile: %s", caFile, certFile, keyFile), 502, ""},
		{"no client certificate", fmt.Sprintf("caFile: %s, serverName: api.internal", caFile), 502, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, base := startGateway(t, backendTLSConfig(b.URL, tt.tls))
			status, body := get(t, &http.Client{}, base+"/")
			if status != tt.status || (tt.status == 200 && body != tt.body) {
				t.Fatalf("GET: %d %q, want %d %q", status, body, tt.status, tt.body)
			}
			// The probes speak TLS as the requests do.
			waitUntil(t, "a probe", func() bool { return statusOf(t, g, "p", b.URL).LastResult != "" })
			probe := statusOf(t, g, "p", b.URL)
			if ok := probe.LastResult == "ok"; ok != (tt.status == 200) {
				t.Errorf("the last probe said %q", probe.LastResult)
			}
		})
	}
}

// TestBackendTLSChangeKeepsHealth changes a pool's TLS settings by a
// reload: the backend is carried with its health and counters, and gets
// new connections; a reload that leaves them alone keeps its connections.
func TestBackendTLSChangeKeepsHealth(t *testing.T) {
	ca := testcert.NewCA(t, "backends")
	dir := t.TempDir()
	caFile := ca.WriteRoot(t, dir, "ca.pem")
	sameCA := ca.WriteRoot(t, dir, "copy-of-ca.pem")
	b := startTLSBackend(t, ca.Issue(t, testcert.ECDSA, time.Time{}, "api.internal"), nil)
	g, base := startGateway(t, backendTLSConfig(b.URL, "caFile: "+caFile+", serverName: api.internal"))
	getN(t, &http.Client{}, base+"/", 3, "sni=api.internal client=none")
	be := backendAt(t, g, "p", b.URL)
	u := be.upstream.Load()

	reloadOK(t, g, backendTLSConfig(b.URL, "caFile: "+caFile+", serverName: api.internal")+"maxBodySize: 1MiB\n")
	if be.upstream.Load() != u {
		t.Error("a reload that left the TLS settings alone replaced the connections")
	}
	rec := reloadOK(t, g, backendTLSConfig(b.URL, "caFile: "+sameCA+", serverName: api.internal"))
	if rec.Carried != 1 || backendAt(t, g, "p", b.URL) != be {
		t.Fatalf("reload %+v did not carry the backend", rec)
	}
	if be.upstream.Load() == u {
		t.Error("another caFile kept the connections")
	}
	if !be.health.Healthy() || be.served.Load() != 3 {
		t.Errorf("the backend lost its state: healthy %t, %d served", be.health.Healthy(), be.served.Load())
	}
	getN(t, &http.Client{}, base+"/", 2, "sni=api.internal client=none")
	u.mu.Lock()
	idle, retired := len(u.idle), u.retired
	u.mu.Unlock()
	if u.inFlight.Load() != 0 || idle != 0 || !retired {
		t.Error("the replaced connections stayed open")
	}
}

// TestBackendCARotation rotates a backend caFile through the run loop: a
// backend that moved to a certificate of a new CA is unreachable until
// the caFile holds that CA, and then reachable on new connections, its
// health kept; the rotation is recorded with the file.
func TestBackendCARotation(t *testing.T) {
	oldCA, newCA := testcert.NewCA(t, "old"), testcert.NewCA(t, "new")
	dir := t.TempDir()
	caFile := oldCA.WriteRoot(t, dir, "ca.pem")
	b := startTLSBackend(t, oldCA.Issue(t, testcert.ECDSA, time.Time{}, "api.internal"), nil)
	r := startRun(t, backendTLSConfig(b.URL, "caFile: "+caFile+", serverName: api.internal"), RunOptions{Watch: true})
	g, base := r.g, "http://"+r.g.Addr()
	getN(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, base+"/", 1, "sni=api.internal client=none")
	be := backendAt(t, g, "p", b.URL)

	next := newCA.Issue(t, testcert.ECDSA, time.Time{}, "api.internal").TLS(t)
	b.cert.Store(&next)
	b.CloseClientConnections()
	if status, _ := get(t, &http.Client{}, base+"/"); status != 502 {
		t.Fatalf("a backend whose CA the gateway does not trust: %d, want 502", status)
	}
	testcert.WriteFile(t, caFile, append(oldCA.RootPEM, newCA.RootPEM...))
	waitUntil(t, "the CA file's record", func() bool { return len(certificateRecords(g)) > 0 })
	rec := certificateRecords(g)[0]
	if rec.Result != ResultApplied || rec.File != caFile {
		t.Fatalf("record %+v, want applied naming %s", rec, caFile)
	}
	getN(t, &http.Client{}, base+"/", 2, "sni=api.internal client=none")
	if backendAt(t, g, "p", b.URL) != be || be.served.Load() != 3 {
		t.Errorf("the backend was not kept: %d served", be.served.Load())
	}
	if v, _ := sampleValue(scrape(t, g), "gateway_tls_certificate_last_reload_successful", "certFile", caFile); v != 1 {
		t.Errorf("gateway_tls_certificate_last_reload_successful{certFile=caFile} = %v, want 1", v)
	}
	testcert.WriteFile(t, caFile, []byte("garbage"))
	waitUntil(t, "the garbage CA file's record", func() bool { return len(certificateRecords(g)) > 1 })
	if rec := certificateRecords(g)[1]; rec.Result != ResultRejected || !strings.Contains(rec.Error, "no PEM certificate") {
		t.Fatalf("record %+v, want rejected", rec)
	}
	getN(t, &http.Client{}, base+"/", 1, "sni=api.internal client=none")
	if _, err := os.Stat(caFile); err != nil {
		t.Fatal(err)
	}
}
