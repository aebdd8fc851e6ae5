// Package testcert issues certificates for tests: a root CA, an
// intermediate the root signed, and leaf certificates the intermediate
// signs, with ECDSA P-256 or RSA keys, as PEM, as files and as
// [tls.Certificate] values. Every chain it issues holds the intermediate,
// so that a client that trusts only the root verifies it as it would a
// public one.
package testcert

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
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The key kinds [CA.Issue] takes.
const (
	ECDSA = "ecdsa" // P-256
	RSA   = "rsa"   // 2048 bits
)

// CA is a root certificate and an intermediate it signed, which signs
// what [CA.Issue] issues.
type CA struct {
	// Root is the root certificate; Roots is a pool of it alone, for
	// clients, and RootPEM its PEM encoding, for CA files.
	Root    *x509.Certificate
	Roots   *x509.CertPool
	RootPEM []byte

	inter    *x509.Certificate
	interKey crypto.Signer
	interPEM []byte
}

// Cert is a certificate a [CA] issued: the chain, leaf first and then the
// intermediate, and the private key, as PEM; and the parsed leaf.
type Cert struct {
	CertPEM, KeyPEM []byte
	Leaf            *x509.Certificate
}

// NewKey returns a new private key of kind, [ECDSA] or [RSA].
func NewKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case RSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case ECDSA:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("testcert: unknown key kind %q", kind)
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

// NewCA returns a CA whose root and intermediate are named after name,
// valid for a day.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	authority := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
	}
	rootKey, interKey := NewKey(t, ECDSA), NewKey(t, ECDSA)
	rootTmpl := authority(name + " root")
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	interDER, err := x509.CreateCertificate(rand.Reader, authority(name+" intermediate"), root, interKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(interDER)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	return &CA{Root: root, Roots: roots, RootPEM: pemOf("CERTIFICATE", rootDER),
		inter: inter, interKey: interKey, interPEM: pemOf("CERTIFICATE", interDER)}
}

// pemOf encodes der as a PEM block of typ.
func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// Issue returns a certificate for servers and clients alike, named for
// names (DNS names, wildcards among them, or IP addresses; the first is
// also the subject's common name), with a key of kind ([ECDSA] or [RSA]),
// valid from an hour ago until notAfter, or for a day when it is zero.
func (ca *CA) Issue(t testing.TB, kind string, notAfter time.Time, names ...string) Cert {
	t.Helper()
	key := NewKey(t, kind)
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
	return Cert{CertPEM: append(pemOf("CERTIFICATE", der), ca.interPEM...), KeyPEM: pemOf("PRIVATE KEY", keyDER), Leaf: leaf}
}

// TLS returns c as a [tls.Certificate].
func (c Cert) TLS(t testing.TB) tls.Certificate {
	t.Helper()
	cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Write writes c to dir/name.crt and dir/name.key, and returns their
// paths.
func (c Cert) Write(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	WriteFile(t, certFile, c.CertPEM)
	WriteFile(t, keyFile, c.KeyPEM)
	return certFile, keyFile
}

// WriteRoot writes the CA's root to dir/name, a CA file, and returns its
// path.
func (ca *CA) WriteRoot(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	WriteFile(t, path, ca.RootPEM)
	return path
}

// WriteFile writes data to path in place, as a tool that truncates and
// writes does.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
