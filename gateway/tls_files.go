package gateway

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// The TLS files a config names are read and checked here, at every apply
// that names a new one and at every change the watcher reads, by the same
// functions that `gateway validate` checks them with ([CheckFiles]).

// keyPair is a certificate chain and its private key, read from certFile
// and keyFile: the key matches the leaf and every certificate of the chain
// parses. A keyPair never changes; a rotation loads a new one.
type keyPair struct {
	certFile, keyFile string // absolute
	cert              tls.Certificate
	// names are the leaf's DNS names, lowercased.
	names []string
	// fingerprint is the hex SHA-256 of the leaf's DER bytes.
	fingerprint string
	// certHash and keyHash are the hex SHA-256 of the files' contents.
	certHash, keyHash string
}

// caBundle is a PEM file of CA certificates, for verifying peers.
type caBundle struct {
	file  string // absolute
	pool  *x509.CertPool
	certs []*x509.Certificate
	hash  string
}

// fileError is a file that could not be used: key is the config key that
// names it (certFile, keyFile, caFile or clientCA), message what is wrong.
type fileError struct {
	key     string
	message string
}

func (e *fileError) Error() string { return e.key + ": " + e.message }

// absPath returns path made absolute, so that it compares with what the
// watcher reads.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// readTLSFile reads a TLS file named by key, whose content must hold PEM.
func readTLSFile(path, key string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &fileError{key, fmt.Sprintf("cannot read %s: %v", path, err)}
	}
	return data, nil
}

// hashOf returns the hex SHA-256 of data.
func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// parseCertificates returns every CERTIFICATE block of the PEM data, each
// parsed; it is an error when there is none, when one does not parse, and
// when a PEM block is cut short or malformed. pem.Decode passes over such
// a block in silence, so a chain written half way, its leaf whole and its
// intermediate cut, would otherwise load as a shorter chain that clients
// cannot verify, instead of waiting, rejected, for the rest of the write.
func parseCertificates(data []byte, path, key string) ([][]byte, []*x509.Certificate, error) {
	var ders [][]byte
	var certs []*x509.Certificate
	cut := func() error {
		where := fmt.Sprintf("after certificate %d", len(certs))
		if len(certs) == 0 {
			where = "before the first certificate"
		}
		return &fileError{key, fmt.Sprintf("the PEM block %s in %s is cut short or malformed (a file still being written?)", where, path)}
	}
	for rest := data; ; {
		block, next := pem.Decode(rest)
		if block == nil {
			if len(certs) > 0 && bytes.Contains(rest, []byte(pemBegin)) {
				return nil, nil, cut()
			}
			break
		}
		// The part Decode read holds the block's own BEGIN line and one
		// more for each block it passed over.
		if bytes.Count(rest[:len(rest)-len(next)], []byte(pemBegin)) > 1 {
			return nil, nil, cut()
		}
		rest = next
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, &fileError{key, fmt.Sprintf("certificate %d in %s does not parse: %v", len(certs)+1, path, err)}
		}
		ders = append(ders, block.Bytes)
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, &fileError{key, fmt.Sprintf("no PEM certificate in %s", path)}
	}
	return ders, certs, nil
}

// pemBegin starts the first line of a PEM block.
const pemBegin = "-----BEGIN "

// loadKeyPair reads and checks the certificate chain at certFile (leaf
// first) and its private key at keyFile.
func loadKeyPair(certFile, keyFile string) (*keyPair, error) {
	certFile, keyFile = absPath(certFile), absPath(keyFile)
	certPEM, err := readTLSFile(certFile, "certFile")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readTLSFile(keyFile, "keyFile")
	if err != nil {
		return nil, err
	}
	ders, certs, err := parseCertificates(certPEM, certFile, "certFile")
	if err != nil {
		return nil, err
	}
	// The chain is whole and parses; X509KeyPair reads the key and checks
	// that it belongs to the leaf.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		msg := fmt.Sprintf("no usable private key in %s: %v", keyFile, strings.TrimPrefix(err.Error(), "tls: "))
		if strings.Contains(err.Error(), "does not match") {
			msg = fmt.Sprintf("the key in %s does not match the certificate in %s", keyFile, certFile)
		}
		return nil, &fileError{"keyFile", msg}
	}
	cert.Certificate, cert.Leaf = ders, certs[0]
	p := &keyPair{certFile: certFile, keyFile: keyFile, cert: cert,
		certHash: hashOf(certPEM), keyHash: hashOf(keyPEM)}
	sum := sha256.Sum256(ders[0])
	p.fingerprint = hex.EncodeToString(sum[:])
	for _, n := range certs[0].DNSNames {
		p.names = append(p.names, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	return p, nil
}

// leaf returns the pair's leaf certificate.
func (p *keyPair) leaf() *x509.Certificate { return p.cert.Leaf }

// loadCABundle reads the CA certificates of the PEM file at path, named by
// key.
func loadCABundle(path, key string) (*caBundle, error) {
	path = absPath(path)
	data, err := readTLSFile(path, key)
	if err != nil {
		return nil, err
	}
	_, certs, err := parseCertificates(data, path, key)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &caBundle{file: path, pool: pool, certs: certs, hash: hashOf(data)}, nil
}

// expired returns a warning when the pair's leaf is past its NotAfter at
// now, or "".
func (p *keyPair) expired(now time.Time) string {
	if na := p.leaf().NotAfter; now.After(na) {
		return fmt.Sprintf("the certificate in %s expired at %s", p.certFile, na.UTC().Format(time.RFC3339))
	}
	return ""
}

// CheckFiles reads and checks every file the config names, as applying it
// does: each certificate chain must parse, each key must match its
// certificate, and each CA file must hold certificates. problems are
// what keeps the config from applying, each naming the key of the file
// (tls.certificates[1].keyFile, say) where the config writes it; warnings
// are what would not, such as an expired certificate, which is served
// all the same. `gateway validate` reports both.
func CheckFiles(cfg *config.Config) (problems, warnings []config.Problem) {
	st, problems := loadTLSState(cfg, nil)
	if len(problems) > 0 {
		return problems, nil
	}
	now := time.Now()
	for _, ref := range st.refs {
		if w := st.pairs[ref.key].expired(now); w != "" {
			warnings = append(warnings, cfg.Problem(ref.path+".certFile", w))
		}
	}
	return nil, warnings
}
