package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gatewayhq/gateway/gateway/config"
)

// tlsState is the TLS material of the running config, loaded from the
// files it names: the key pairs and CA bundles, what the HTTPS listener
// serves, and the TLS of each backend TLS setting. A tlsState never
// changes once published ([Gateway.tls]); an apply that names other files,
// or a file the watcher read changed, publishes a new one, under g.mu.
// Objects whose files did not change are shared with the state before, so
// that backends keep their connections and a config reload never reads a
// file again that it had read.
type tlsState struct {
	in      tlsInputs
	pairs   map[pairKey]*keyPair
	cas     map[string]*caBundle
	clients map[config.BackendTLSConfig]*clientTLS
	// server is what the HTTPS listener serves; nil without tls.
	server *serverTLS
	// refs lists every key pair with the key path that names it first, in
	// config order.
	refs []pairRef
	// failed holds, by file (a pair's certFile, or a CA file), the error
	// of the last reload of it when that was rejected.
	failed map[string]string
}

// pairKey identifies a key pair by its absolute file paths.
type pairKey struct{ certFile, keyFile string }

// pairRef is where a config names a key pair: path is the mapping that
// holds certFile and keyFile ("tls.certificates[0]",
// "pools.api.tls"), and server tells a certificate the HTTPS listener
// serves from a client certificate shown to backends.
type pairRef struct {
	path   string
	key    pairKey
	server bool
}

// tlsInputs are the settings of a config that name TLS files.
type tlsInputs struct {
	server  *config.TLSConfig
	clients []clientInput
}

// clientInput is one backend TLS setting of a config, with the paths of
// the mappings that name its files: the pool's tls when it sets them
// itself, else backendTLS.
type clientInput struct {
	settings         config.BackendTLSConfig
	caPath, certPath string
}

// tlsInputsOf returns the TLS settings of cfg.
func tlsInputsOf(cfg *config.Config) tlsInputs {
	in := tlsInputs{server: cfg.TLS}
	for _, p := range cfg.Pools {
		own := "pools." + p.Name + ".tls"
		c := clientInput{settings: p.TLS, caPath: "backendTLS", certPath: "backendTLS"}
		if cfg.NamesFile(own + ".caFile") {
			c.caPath = own
		}
		if cfg.NamesFile(own + ".certFile") {
			c.certPath = own
		}
		in.clients = append(in.clients, c)
	}
	return in
}

// loadTLSState loads the TLS material of cfg, taking from prev (nil for
// none) every pair and CA bundle whose files it loaded already, and
// reading the others. It returns every file that cannot be used as a
// problem of cfg, naming its key.
func loadTLSState(cfg *config.Config, prev *tlsState) (*tlsState, []config.Problem) {
	var problems []config.Problem
	st := assembleTLS(tlsInputsOf(cfg), prev, func(path, message string) {
		problems = append(problems, cfg.Problem(path, message))
	})
	if len(problems) > 0 {
		return nil, problems
	}
	return st, nil
}

// assembleTLS builds the state for in: pairs and CA bundles come from
// prev when it has them, and are read otherwise; a file that cannot be
// used is reported to fail with its key path, and leaves the state
// incomplete. Client TLS settings whose material prev has unchanged keep
// their object, so that backends keep their connections.
func assembleTLS(in tlsInputs, prev *tlsState, fail func(path, message string)) *tlsState {
	if prev == nil {
		prev = &tlsState{}
	}
	st := &tlsState{in: in, pairs: make(map[pairKey]*keyPair), cas: make(map[string]*caBundle),
		clients: make(map[config.BackendTLSConfig]*clientTLS), failed: make(map[string]string)}
	report := func(path string, err error) {
		var fe *fileError
		if errors.As(err, &fe) {
			fail(path+"."+fe.key, fe.message)
			return
		}
		fail(path, err.Error())
	}
	keepFailed := func(file string) {
		if e, ok := prev.failed[file]; ok {
			st.failed[file] = e
		}
	}
	pair := func(certFile, keyFile, path string, server bool) *keyPair {
		k := pairKey{absPath(certFile), absPath(keyFile)}
		p, err := reuseOrLoad(k, st.pairs, prev.pairs, func() (*keyPair, error) { return loadKeyPair(certFile, keyFile) })
		if err != nil {
			report(path, err)
			return nil
		}
		if _, seen := st.pairs[k]; !seen {
			st.refs = append(st.refs, pairRef{path: path, key: k, server: server})
		}
		st.pairs[k] = p
		keepFailed(k.certFile)
		return p
	}
	ca := func(file, path, key string) *caBundle {
		file = absPath(file)
		b, err := reuseOrLoad(file, st.cas, prev.cas, func() (*caBundle, error) { return loadCABundle(file, key) })
		if err != nil {
			report(path, err)
			return nil
		}
		st.cas[file] = b
		keepFailed(file)
		return b
	}

	if t := in.server; t != nil {
		var certs []*keyPair
		complete := true
		for i, c := range t.Certificates {
			p := pair(c.CertFile, c.KeyFile, fmt.Sprintf("tls.certificates[%d]", i), true)
			complete = complete && p != nil
			certs = append(certs, p)
		}
		var clientCA *caBundle
		if t.ClientCA != "" {
			clientCA = ca(t.ClientCA, "tls", "clientCA")
			complete = complete && clientCA != nil
		}
		if complete && len(certs) > 0 {
			st.server = newServerTLS(t, certs, clientCA)
		}
	}
	for _, c := range in.clients {
		s := c.settings
		if _, done := st.clients[s]; done {
			continue
		}
		ct := &clientTLS{settings: s}
		if s.CAFile != "" {
			ct.ca = ca(s.CAFile, c.caPath, "caFile")
		}
		if s.CertFile != "" {
			ct.cert = pair(s.CertFile, s.KeyFile, c.certPath, false)
		}
		if old := prev.clients[s]; old != nil && old.ca == ct.ca && old.cert == ct.cert {
			ct = old
		}
		st.clients[s] = ct
	}
	return st
}

// reuseOrLoad returns what cur or else prev holds for k, and otherwise
// what load returns.
func reuseOrLoad[K comparable, V any](k K, cur, prev map[K]V, load func() (V, error)) (V, error) {
	if v, ok := cur[k]; ok {
		return v, nil
	}
	if v, ok := prev[k]; ok {
		return v, nil
	}
	return load()
}

// with returns a copy of st in which p replaces the pair with p's files,
// or b the CA bundle of b's file, and everything made of them is made
// again; nothing is read.
func (st *tlsState) with(p *keyPair, b *caBundle) *tlsState {
	reuse := &tlsState{pairs: maps.Clone(st.pairs), cas: maps.Clone(st.cas), clients: st.clients, failed: st.failed}
	if p != nil {
		reuse.pairs[pairKey{p.certFile, p.keyFile}] = p
	}
	if b != nil {
		reuse.cas[b.file] = b
	}
	return assembleTLS(st.in, reuse, func(string, string) {})
}

// files returns every file the state's material was read from, sorted.
func (st *tlsState) files() []string {
	var out []string
	for k := range st.pairs {
		out = append(out, k.certFile, k.keyFile)
	}
	for f := range st.cas {
		out = append(out, f)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// client returns the TLS material of the backend TLS setting s, or nil
// when st has none for it (the default: the system's roots).
func (st *tlsState) client(s config.BackendTLSConfig) *clientTLS {
	if st == nil {
		return nil
	}
	return st.clients[s]
}

// serverTLS is what the HTTPS listener serves under one state: the
// tls.Config handshakes use, and the certificates by name. It never
// changes; handshakes get it with one atomic load.
type serverTLS struct {
	config *tls.Config
	// certs lists the certificates in config order; the first is served
	// when no name matches.
	certs []*keyPair
	// exact holds the certificates by DNS name, wildcard those of
	// "*.example.com" names by "example.com", each in config order.
	exact, wildcard map[string][]*keyPair
}

// newServerTLS returns what the HTTPS listener serves under t with certs
// and the client CAs of clientCA (nil for none).
func newServerTLS(t *config.TLSConfig, certs []*keyPair, clientCA *caBundle) *serverTLS {
	s := &serverTLS{certs: certs, exact: make(map[string][]*keyPair), wildcard: make(map[string][]*keyPair)}
	for _, p := range certs {
		for _, n := range p.names {
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				s.wildcard[rest] = append(s.wildcard[rest], p)
			} else {
				s.exact[n] = append(s.exact[n], p)
			}
		}
	}
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.certificate,
		NextProtos:     alpnProtocols(t),
	}
	if t.MinVersion == config.TLSVersion13 {
		c.MinVersion = tls.VersionTLS13
	}
	if clientCA != nil {
		c.ClientCAs = clientCA.pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
		if t.ClientAuth == config.ClientAuthVerifyIfGiven {
			c.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	s.config = c
	return s
}

// alpnProtocols returns what the HTTPS listener offers in ALPN: "h2"
// first and "http/1.1" with t.HTTP2, "http/1.1" alone without. The
// connections that negotiate h2 are handed to the listener's HTTP/2
// server (see [Gateway.newListener]).
func alpnProtocols(t *config.TLSConfig) []string {
	if t.HTTP2 {
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}

// certificate is the GetCertificate of s: the certificate whose DNS names
// match the server name the client asked for (SNI) exactly, else one
// whose one-label wildcard matches it, else the first. Among several for
// the same name, the first the client supports (an ECDSA or an RSA key,
// say) wins.
func (s *serverTLS) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		if c := supported(hello, s.exact[name]); c != nil {
			return c, nil
		}
		if _, rest, ok := strings.Cut(name, "."); ok {
			if c := supported(hello, s.wildcard[rest]); c != nil {
				return c, nil
			}
		}
	}
	return &s.certs[0].cert, nil
}

// supported returns the first certificate of list that hello supports,
// else the first, or nil for an empty list.
func supported(hello *tls.ClientHelloInfo, list []*keyPair) *tls.Certificate {
	switch len(list) {
	case 0:
		return nil
	case 1:
		return &list[0].cert
	}
	for _, p := range list {
		if hello.SupportsCertificate(&p.cert) == nil {
			return &p.cert
		}
	}
	return &list[0].cert
}

// clientTLS is how backends under one backend TLS setting are spoken to:
// the CAs their certificates are verified against (nil: the system's
// roots) and the client certificate shown (nil: none). A backend's
// [upstream] keeps the clientTLS it was made with, so that a change of
// either gives the backend new connections.
type clientTLS struct {
	settings config.BackendTLSConfig
	ca       *caBundle
	cert     *keyPair
}

// configFor returns the TLS config of a connection to a backend whose
// URL's host is host. ct may be nil: the system's roots, verified for
// host.
func (ct *clientTLS) configFor(host string) *tls.Config {
	c := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if ct == nil {
		return c
	}
	if ct.settings.ServerName != "" {
		c.ServerName = ct.settings.ServerName
	}
	if ct.ca != nil {
		c.RootCAs = ct.ca.pool
	}
	if ct.cert != nil {
		c.Certificates = []tls.Certificate{ct.cert.cert}
	}
	c.InsecureSkipVerify = ct.settings.InsecureSkipVerify
	return c
}
