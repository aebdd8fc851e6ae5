package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is the certificate authority of a test: a root, and an
// intermediate it signed, which signs every certificate the test issues,
// so that each chain served has an intermediate in it.
type testCA struct {
	root, inter *x509.Certificate
	interKey    crypto.Signer
	roots       *x509.CertPool
	rootPEM     []byte
	interPEM    []byte
}

// newKey returns a new private key: ECDSA P-256, or RSA 2048 for "rsa".
func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	if kind == "rsa" {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// serial returns a random serial number.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newTestCA returns a root and an intermediate named name.
func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	rootKey := newKey(t, "ecdsa")
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name + " root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	interKey := newKey(t, "ecdsa")
	itmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name + " intermediate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, itmpl, root, interKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(interDER)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	return &testCA{root: root, inter: inter, interKey: interKey, roots: roots,
		rootPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		interPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: interDER})}
}

// issued is a certificate the test CA issued: the chain (leaf, then the
// intermediate) and the key, as PEM.
type issued struct {
	certPEM, keyPEM []byte
	leaf            *x509.Certificate
}

// issue returns a server and client certificate for names (DNS names, or
// IP addresses) with a key of kind ("ecdsa" or "rsa"), valid until
// notAfter (a day from now when zero).
func (ca *testCA) issue(t testing.TB, kind string, notAfter time.Time, names ...string) issued {
	t.Helper()
	key := newKey(t, kind)
	if notAfter.IsZero() {
		notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, key.Public(), ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.interPEM...)
	return issued{certPEM: certPEM, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), leaf: leaf}
}

// tlsCert returns c as a tls.Certificate.
func (c issued) tlsCert(t testing.TB) tls.Certificate {
	t.Helper()
	cert, err := tls.X509KeyPair(c.certPEM, c.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// write writes c to dir/name.crt and dir/name.key and returns the paths.
func (c issued) write(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeFile(t, certFile, c.certPEM)
	writeFile(t, keyFile, c.keyPEM)
	return certFile, keyFile
}

// writeFile writes data to path in place.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCA writes the root of ca to dir/name and returns the path.
func (ca *testCA) writeRoot(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, ca.rootPEM)
	return path
}

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
