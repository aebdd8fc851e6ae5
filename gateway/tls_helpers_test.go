package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tlsGatewayConfig is a config with a plain and an HTTPS listener on free
// loopback ports serving the given certificates (certFile, keyFile
// pairs), one pool of server with health checks off, and extra top-level
// keys and tls keys.
func tlsGatewayConfig(server, tlsExtra, extra string, pairs ...string) string {
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:0\ntls:\n  listen: 127.0.0.1:0\n  certificates:\n")
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("    - {certFile: " + pairs[i] + ", keyFile: " + pairs[i+1] + "}\n")
	}
	b.WriteString(tlsExtra)
	b.WriteString("pools:\n  p:\n    healthCheck: {enabled: false}\n    servers: [" + server + "]\n")
	b.WriteString(extra)
	return b.String()
}

// handshake opens a TLS connection to addr asking for serverName (none
// when empty) and trusting roots, with change applied to the client's
// config; the caller closes it.
func handshake(addr, serverName string, roots *x509.CertPool, change func(*tls.Config)) (*tls.Conn, error) {
	cfg := &tls.Config{ServerName: serverName, RootCAs: roots, NextProtos: []string{"http/1.1"}}
	if serverName == "" {
		// Verify the chain, but against no name: there is none to send.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	if change != nil {
		change(cfg)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// servedLeaf returns the leaf certificate a handshake with addr for
// serverName gets, failing the test when the handshake fails.
func servedLeaf(t testing.TB, addr, serverName string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := handshake(addr, serverName, roots, nil)
	if err != nil {
		t.Fatalf("handshake with %s for %q: %v", addr, serverName, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// httpsClient returns a keep-alive client that trusts roots and sends
// serverName as SNI (the URL's host when empty).
func httpsClient(roots *x509.CertPool, serverName string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: serverName},
		ForceAttemptHTTP2: false,
	}, Timeout: 10 * time.Second}
}
