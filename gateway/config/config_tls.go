package config

// TLSConfig is the `tls` section: the HTTPS listener and its certificates.
// Every file path in it is made absolute against the config file's
// directory when it is relative; decoding never reads the files.
type TLSConfig struct {
	// Listen is the HTTPS listener's address (key `listen`, required).
	Listen string
	// Certificates lists the certificates offered, in the file's order
	// (key `certificates`, at least one). A handshake gets the one whose
	// DNS names match its server name (SNI), else the first.
	Certificates []CertificateConfig
	// MinVersion is the lowest TLS version accepted: "1.2" (the default)
	// or "1.3" (key `minVersion`).
	MinVersion string
	// HTTP2 offers h2 besides http/1.1 in ALPN (key `http2`, default
	// true).
	HTTP2 bool
	// RedirectHTTP makes the plain listener answer every request with a
	// redirect to https, but for ACME HTTP-01 challenges (key
	// `redirectHTTP`, default false).
	RedirectHTTP bool
	// ClientCA is a PEM file of the CAs whose client certificates are
	// accepted (key `clientCA`); empty asks clients for none.
	ClientCA string
	// ClientAuth is what a client must show when ClientCA is set:
	// [ClientAuthRequire] (the default) or [ClientAuthVerifyIfGiven]
	// (key `clientAuth`); empty without ClientCA.
	ClientAuth string
}

// CertificateConfig is one entry of `tls.certificates`.
type CertificateConfig struct {
	// CertFile is the PEM certificate chain, leaf first (key `certFile`).
	CertFile string
	// KeyFile is the PEM private key of the leaf (key `keyFile`).
	KeyFile string
}

// The values of [TLSConfig.ClientAuth].
const (
	// ClientAuthRequire refuses a handshake without a client certificate
	// that the ClientCA signed.
	ClientAuthRequire = "require"
	// ClientAuthVerifyIfGiven accepts a handshake without a client
	// certificate, and verifies one that is given.
	ClientAuthVerifyIfGiven = "verify-if-given"
)

// The values of [TLSConfig.MinVersion].
const (
	TLSVersion12 = "1.2"
	TLSVersion13 = "1.3"
)

// BackendTLSConfig is how a pool's https:// servers are spoken to: the
// pool's `tls`, whose fields default to those of the top-level
// `backendTLS`. The zero value verifies servers against the system's roots
// under the server's host name, and presents no client certificate. File
// paths are made absolute against the config file's directory.
type BackendTLSConfig struct {
	// CAFile is a PEM file of the CAs that sign the servers' certificates
	// (key `caFile`); empty means the system's roots.
	CAFile string
	// CertFile and KeyFile are the client certificate presented to the
	// servers (keys `certFile` and `keyFile`, both or neither).
	CertFile string
	KeyFile  string
	// ServerName is the name the servers' certificates are verified
	// against, and sent as SNI (key `serverName`); empty means the host
	// of each server's URL.
	ServerName string
	// InsecureSkipVerify accepts any certificate from the servers (key
	// `insecureSkipVerify`, default false).
	InsecureSkipVerify bool
}

// keyAt is where a key that names a file is written, and what it says.
type keyAt struct {
	line, col int
	value     string
}

// Problem returns a [Problem] with message about the key at path (such as
// "tls.certificates[1].keyFile"), located where the file writes the key's
// value and quoting it, when the key names a file; otherwise it names the
// key path alone. It lets a caller that checks what the files a config
// names hold report as [Decode] does.
func (c *Config) Problem(path, message string) Problem {
	p := Problem{File: c.Source, Path: path, Message: message}
	if at, ok := c.keys[path]; ok {
		p.Line, p.Col, p.Value = at.line, at.col, at.value
	}
	return p
}

// NamesFile reports whether the key at path (such as
// "pools.api.tls.caFile") is written in the config's source and names a
// file: for a pool's setting, whether the pool sets it itself rather than
// taking it from `backendTLS`.
func (c *Config) NamesFile(path string) bool {
	_, ok := c.keys[path]
	return ok
}
