package config

import (
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// tlsSection decodes `tls`, whose key is e, for c, whose listen and admin
// addresses are decoded already.
func (d *decoder) tlsSection(e mapEntry, c *Config) *TLSConfig {
	path := e.key
	f, ok := d.fields(e.value, path, "a mapping of TLS settings",
		"listen", "certificates", "minVersion", "http2", "redirectHTTP", "clientCA", "clientAuth")
	if !ok {
		return nil
	}
	t := &TLSConfig{MinVersion: TLSVersion12, HTTP2: true}
	if l, ok := f["listen"]; !ok {
		d.add(e.at, keyPath(path, "listen"), "", `missing; tls needs the address of the HTTPS listener, such as ":8443"`)
	} else if addr, ok := d.address(l.value, keyPath(path, l.key), ""); ok {
		switch {
		case addr == "":
			d.add(l.value, keyPath(path, l.key), "", "must not be empty; use "+addressForms)
		case c.Listen != "" && sameListener(c.Listen, addr):
			d.addf(l.value, keyPath(path, l.key), "the HTTPS listener needs an address apart from listen %q", c.Listen)
		case c.Admin != "" && sameListener(c.Admin, addr):
			d.addf(l.value, keyPath(path, l.key), "the HTTPS listener needs an address apart from admin %q", c.Admin)
		default:
			t.Listen = addr
		}
	}
	if ce, ok := f["certificates"]; !ok {
		d.add(e.at, keyPath(path, "certificates"), "", "missing; tls needs at least one certificate with certFile and keyFile")
	} else {
		t.Certificates = d.certificates(ce.value, keyPath(path, ce.key))
	}
	if v, ok := f["minVersion"]; ok {
		d.minVersion(v.value, keyPath(path, v.key), &t.MinVersion)
	}
	d.setBool(f, path, "http2", &t.HTTP2)
	d.setBool(f, path, "redirectHTTP", &t.RedirectHTTP)
	if r, ok := f["redirectHTTP"]; ok && t.RedirectHTTP && c.Listen == "" {
		d.add(r.value, keyPath(path, r.key), "", "there is no plain listener to redirect from; set listen too")
	}
	d.filePath(f, path, "clientCA", &t.ClientCA)
	if a, ok := f["clientAuth"]; ok {
		p := keyPath(path, a.key)
		if s, ok := d.str(a.value, p); ok {
			switch {
			case s != ClientAuthRequire && s != ClientAuthVerifyIfGiven:
				d.addf(a.value, p, "must be %s or %s", ClientAuthRequire, ClientAuthVerifyIfGiven)
			case t.ClientCA == "":
				d.add(a.value, p, s, "clientAuth goes with clientCA, the CAs that sign client certificates; set clientCA too")
			default:
				t.ClientAuth = s
			}
		}
	} else if t.ClientCA != "" {
		t.ClientAuth = ClientAuthRequire
	}
	return t
}

// certificates decodes `tls.certificates`: a non-empty list of mappings
// with certFile and keyFile.
func (d *decoder) certificates(n *yaml.Node, path string) []CertificateConfig {
	list, _ := d.items(n, path, "a list of certificates with certFile and keyFile", "empty; list at least one certificate with certFile and keyFile")
	var out []CertificateConfig
	for i, item := range list {
		p := itemPath(path, i)
		f, ok := d.fields(item, p, "a mapping with certFile and keyFile", "certFile", "keyFile")
		if !ok {
			continue
		}
		var cc CertificateConfig
		okCert, okKey := d.requiredFile(f, item, p, "certFile", &cc.CertFile), d.requiredFile(f, item, p, "keyFile", &cc.KeyFile)
		if okCert && okKey {
			out = append(out, cc)
		}
	}
	return out
}

// requiredFile decodes key of f, a file path that the mapping at path,
// written at n, must set.
func (d *decoder) requiredFile(f map[string]mapEntry, n *yaml.Node, path, key string, dst *string) bool {
	if _, ok := f[key]; !ok {
		d.add(n, keyPath(path, key), "", "missing; a certificate needs certFile and keyFile")
		return false
	}
	return d.filePath(f, path, key, dst)
}

// minVersion decodes `tls.minVersion`: "1.2" or "1.3", quoted or not.
func (d *decoder) minVersion(n *yaml.Node, path string, dst *string) {
	const expected = `"1.2" or "1.3"`
	v := d.scalar(n, path, expected)
	if v == nil {
		return
	}
	switch tag := v.ShortTag(); {
	case tag != tagStr && tag != tagFloat:
		d.typeError(n, v, path, expected)
	case v.Value == TLSVersion12 || v.Value == TLSVersion13:
		*dst = v.Value
	default:
		d.addf(n, path, "unsupported TLS version; use %s", expected)
	}
}

// backendTLS decodes a pool's `tls`, or the top-level `backendTLS`, into
// t, overriding only the keys it sets.
func (d *decoder) backendTLS(n *yaml.Node, path string, t *BackendTLSConfig) {
	f, ok := d.fields(n, path, "a mapping of backend TLS settings",
		"caFile", "certFile", "keyFile", "serverName", "insecureSkipVerify")
	if !ok {
		return
	}
	d.filePath(f, path, "caFile", &t.CAFile)
	cert, hasCert := f["certFile"]
	key, hasKey := f["keyFile"]
	switch {
	case hasCert && !hasKey:
		d.add(cert.at, keyPath(path, cert.key), "", "certFile goes with keyFile, the client certificate's key; set both or neither")
	case hasKey && !hasCert:
		d.add(key.at, keyPath(path, key.key), "", "keyFile goes with certFile, the client certificate; set both or neither")
	case hasCert:
		d.filePath(f, path, "certFile", &t.CertFile)
		d.filePath(f, path, "keyFile", &t.KeyFile)
	}
	d.setChecked(f, path, "serverName", &t.ServerName, checkServerName)
	d.setBool(f, path, "insecureSkipVerify", &t.InsecureSkipVerify)
}

// checkServerName returns what is wrong with a backend's TLS server name,
// or "".
func checkServerName(s string) string {
	if s == "" || strings.ContainsAny(s, ":/") || !isHostName(s) {
		return "must be a host name, such as api.internal, without a scheme or port"
	}
	return ""
}

// filePath decodes key of f, when present, into dst as a file path: one
// that is relative is taken from the directory of the config file, made
// absolute ([decoder.dir]), so that the files are found, and the config
// compares equal to the one /config writes, from any working directory.
// It records where the key is written for [Config.Problem], and reports false
// when the key holds a problem.
func (d *decoder) filePath(f map[string]mapEntry, path, key string, dst *string) bool {
	e, ok := f[key]
	if !ok {
		return true
	}
	p := keyPath(path, key)
	s, ok := d.str(e.value, p)
	switch {
	case !ok:
		return false
	case s == "":
		d.add(e.value, p, "", "must not be empty; give the file's path")
		return false
	case strings.IndexByte(s, 0) >= 0:
		d.addf(e.value, p, "a file path cannot hold a NUL byte")
		return false
	}
	if d.keys == nil {
		d.keys = make(map[string]keyAt)
	}
	v := d.follow(e.value)
	d.keys[p] = keyAt{line: v.Line, col: v.Column, value: s}
	if !filepath.IsAbs(s) {
		s = filepath.Join(d.dir(), s)
	}
	*dst = s
	return true
}

// dir returns the directory of the config file, made absolute against the
// working directory (as it stands when the config is decoded), or as the
// file's name gives it when that fails.
func (d *decoder) dir() string {
	dir := filepath.Dir(d.file)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
