package config

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestDecodeTLS checks the decoded `tls`, `backendTLS` and pool `tls`
// keys: defaults, relative paths taken from the config's directory, and
// a pool's tls overriding backendTLS field by field.
func TestDecodeTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	src := `listen: ":8080"
tls:
  listen: ":8443"
  certificates:
    - {certFile: tls/a.crt, keyFile: tls/a.key}
    - {certFile: /etc/b.crt, keyFile: /etc/b.key}
  minVersion: 1.3
  http2: false
  redirectHTTP: true
  clientCA: ca.pem
backendTLS:
  caFile: backend-ca.pem
  serverName: api.internal
pools:
  secure:
    servers: ["https://10.0.0.5:8443"]
    tls: {certFile: client.crt, keyFile: client.key, insecureSkipVerify: true}
  plain:
    servers: ["http://10.0.0.6"]
routes: [{pool: secure}]
`
	c := mustDecode(t, filepath.Join(dir, "gateway.yaml"), src)
	want := &TLSConfig{
		Listen: ":8443",
		Certificates: []CertificateConfig{
			{CertFile: filepath.Join(dir, "tls/a.crt"), KeyFile: filepath.Join(dir, "tls/a.key")},
			{CertFile: "/etc/b.crt", KeyFile: "/etc/b.key"},
		},
		MinVersion: TLSVersion13, HTTP2: false, RedirectHTTP: true,
		ClientCA: filepath.Join(dir, "ca.pem"), ClientAuth: ClientAuthRequire,
	}
	if !reflect.DeepEqual(c.TLS, want) {
		t.Errorf("tls = %+v\nwant  %+v", c.TLS, want)
	}
	secure := BackendTLSConfig{CAFile: filepath.Join(dir, "backend-ca.pem"), ServerName: "api.internal",
		CertFile: filepath.Join(dir, "client.crt"), KeyFile: filepath.Join(dir, "client.key"), InsecureSkipVerify: true}
	plain := BackendTLSConfig{CAFile: filepath.Join(dir, "backend-ca.pem"), ServerName: "api.internal"}
	if c.Pools[0].TLS != secure || c.Pools[1].TLS != plain {
		t.Errorf("pool tls = %+v and %+v\nwant %+v and %+v", c.Pools[0].TLS, c.Pools[1].TLS, secure, plain)
	}
	if c.Listen != ":8080" {
		t.Errorf("listen = %q, want :8080", c.Listen)
	}
	p := c.Problem("tls.certificates[0].keyFile", "no such file")
	if p.Line != 5 || p.Col != 38 || p.Value != "tls/a.key" || p.Error() != filepath.Join(dir, "gateway.yaml")+`:5:38: tls.certificates[0].keyFile: no such file (got "tls/a.key")` {
		t.Errorf("Problem = %+v: %s", p, p.Error())
	}
	if p := c.Problem("listen", "m"); p.Line != 0 || p.Path != "listen" {
		t.Errorf("Problem of a key that names no file = %+v, want the path alone", p)
	}

	// Defaults; no plain listener without listen; JSON alike.
	for _, file := range []string{"gw.yaml", "gw.json"} {
		src := "tls: {listen: 8443, certificates: [{certFile: c.pem, keyFile: k.pem}], clientCA: ca.pem, clientAuth: verify-if-given}\nservers: [\"https://a\"]\n"
		if file == "gw.json" {
			src = yamlToJSON(t, src)
		}
		c := mustDecode(t, file, src)
		// A relative config path: the files are taken from the working
		// directory, made absolute.
		want := &TLSConfig{Listen: ":8443", Certificates: []CertificateConfig{{CertFile: absTest(t, "c.pem"), KeyFile: absTest(t, "k.pem")}},
			MinVersion: TLSVersion12, HTTP2: true, ClientCA: absTest(t, "ca.pem"), ClientAuth: ClientAuthVerifyIfGiven}
		if !reflect.DeepEqual(c.TLS, want) || c.Listen != "" || c.Pools[0].TLS != (BackendTLSConfig{}) {
			t.Errorf("%s: tls = %+v, listen %q, pool tls %+v; want %+v, no plain listener, zero pool tls", file, c.TLS, c.Listen, c.Pools[0].TLS, want)
		}
	}
	if c := mustDecode(t, "gw.yaml", "servers: [http://a]\n"); c.TLS != nil || c.Listen != ":8080" {
		t.Errorf("without tls: tls %+v, listen %q", c.TLS, c.Listen)
	}
	// With no plain listener, the admin listener may take the port listen
	// would default to.
	if c := mustDecode(t, "gw.yaml", "admin: \"0.0.0.0:8080\"\ntls: {listen: 8443, certificates: [{certFile: c, keyFile: k}]}\nservers: [http://a]\n"); c.Admin != "0.0.0.0:8080" || c.Listen != "" {
		t.Errorf("admin on :8080 without listen: admin %q, listen %q", c.Admin, c.Listen)
	}
}

// TestDecodeTLSEqual checks that where a file key is written is not part
// of the config: moving it keeps the configs equal.
func TestDecodeTLSEqual(t *testing.T) {
	a := mustDecode(t, "gw.yaml", "tls: {listen: 8443, certificates: [{certFile: c, keyFile: k}]}\nservers: [http://a]\n")
	b := mustDecode(t, "gw.yaml", "# moved\ntls:\n  listen: 8443\n  certificates:\n    - keyFile: k\n      certFile: c\nservers: [http://a]\n")
	if !a.Equal(b) {
		t.Error("configs that differ only in layout are not Equal")
	}
	c := mustDecode(t, "gw.yaml", "tls: {listen: 8443, certificates: [{certFile: c, keyFile: k2}]}\nservers: [http://a]\n")
	if a.Equal(c) {
		t.Error("configs with other key files are Equal")
	}
}

// tlsProblemCases are configs with problems in their TLS keys, and the
// problems, also seeds of the fuzz targets.
var tlsProblemCases = []struct {
	name string
	yaml string
	want []wantProblem
}{
	{"no listen, no certificates", "tls: {minVersion: \"1.2\"}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.listen", msg: "missing", at: "tls"},
		{path: "tls.certificates", msg: "missing", at: "tls"},
	}},
	{"empty certificate list", "tls: {listen: 8443, certificates: []}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.certificates", msg: "empty", at: "[]"},
	}},
	{"certificate without key", "tls:\n  listen: 8443\n  certificates:\n    - certFile: a.crt\n    - {keyFile: \"\", certFile: b}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.certificates[0].keyFile", msg: "missing", at: "certFile: a.crt", jat: "{\"certFile\""},
		{path: "tls.certificates[1].keyFile", msg: "must not be empty", at: `""`},
	}},
	{"certificate of the wrong kind", "tls: {listen: 8443, certificates: [a.crt], extra: 1}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.certificates[0]", msg: "expected a mapping with certFile and keyFile", at: "a.crt"},
		{path: "tls.extra", msg: `unknown key "extra"`, at: "extra"},
	}},
	{"bad versions and auth", "tls:\n  listen: 8443\n  certificates: [{certFile: c, keyFile: k}]\n  minVersion: 1.1\n  clientAuth: require\n  http2: yes\n", []wantProblem{
		{path: "", msg: "no servers"},
		{path: "tls.minVersion", msg: "unsupported TLS version", at: "1.1"},
		{path: "tls.clientAuth", msg: "goes with clientCA", at: "require"},
		{path: "tls.http2", msg: "expected true or false", at: "yes"},
	}},
	{"unknown clientAuth", "tls: {listen: 8443, certificates: [{certFile: c, keyFile: k}], clientCA: ca, clientAuth: optional}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.clientAuth", msg: "must be require or verify-if-given", at: "optional"},
	}},
	{"redirect without a plain listener", "tls: {listen: 8443, certificates: [{certFile: c, keyFile: k}], redirectHTTP: true}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.redirectHTTP", msg: "no plain listener", at: "true"},
	}},
	{"the same address as listen", "listen: 8443\ntls: {listen: \"0.0.0.0:8443\", certificates: [{certFile: c, keyFile: k}]}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.listen", msg: "apart from listen", at: "0.0.0.0:8443"},
	}},
	{"the same address as admin", "admin: 9443\ntls: {listen: \"127.0.0.1:9443\", certificates: [{certFile: c, keyFile: k}]}\nservers: [http://a]\n", []wantProblem{
		{path: "tls.listen", msg: "apart from admin", at: "127.0.0.1:9443"},
	}},
	{"backend client certificate halves", "backendTLS: {certFile: c}\npools:\n  a:\n    servers: [https://a]\n    tls: {keyFile: k, serverName: \"a:1\", caFile: 3}\n", []wantProblem{
		{path: "backendTLS.certFile", msg: "set both or neither", at: "certFile"},
		{path: "pools.a.tls.keyFile", msg: "set both or neither", at: "keyFile"},
		{path: "pools.a.tls.serverName", msg: "must be a host name", at: "a:1"},
		{path: "pools.a.tls.caFile", msg: "expected a string", at: "3"},
	}},
}

// TestDecodeTLSProblems checks every problem the TLS keys can have.
func TestDecodeTLSProblems(t *testing.T) {
	for _, tc := range tlsProblemCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("yaml", func(t *testing.T) { checkProblems(t, "config.yaml", tc.yaml, tc.want) })
			t.Run("json", func(t *testing.T) { checkProblems(t, "config.json", yamlToJSON(t, tc.yaml), tc.want) })
		})
	}
}

// TestDecodeTLSFile loads a file that sets every TLS key, with paths
// relative to its directory.
func TestDecodeTLSFile(t *testing.T) {
	c, err := Load("testdata/config/tls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := absTest(t, "testdata/config")
	want := &TLSConfig{
		Listen: ":443",
		Certificates: []CertificateConfig{
			{CertFile: filepath.Join(dir, "tls/example.com.crt"), KeyFile: filepath.Join(dir, "tls/example.com.key")},
			{CertFile: "/etc/tls/wildcard.crt", KeyFile: "/etc/tls/wildcard.key"},
		},
		MinVersion: TLSVersion13, RedirectHTTP: true,
		ClientCA: filepath.Join(dir, "clients.pem"), ClientAuth: ClientAuthVerifyIfGiven,
	}
	if !reflect.DeepEqual(c.TLS, want) || c.Listen != ":80" {
		t.Errorf("tls = %+v, listen %q\nwant  %+v", c.TLS, c.Listen, want)
	}
	pool := BackendTLSConfig{CAFile: "/etc/other-ca.pem", CertFile: filepath.Join(dir, "client.crt"), KeyFile: filepath.Join(dir, "client.key"),
		ServerName: "api.internal", InsecureSkipVerify: true}
	if c.Pools[0].TLS != pool {
		t.Errorf("pool tls = %+v\nwant %+v", c.Pools[0].TLS, pool)
	}
	if !c.NamesFile("pools.secure.tls.caFile") || c.NamesFile("pools.secure.tls.certFile") || !c.NamesFile("backendTLS.certFile") {
		t.Error("NamesFile does not tell which keys the file writes")
	}
}

// absTest returns path made absolute against the working directory.
func absTest(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestDecodeRelativeFilePathsAbsolute checks that a relative file path is
// made absolute against the config file's directory, itself made
// absolute, however the config's path is spelled; and that such a config
// equals the one its JSON (what /config writes) decodes to, so that a file
// compared with a running gateway names the same certificates.
func TestDecodeRelativeFilePathsAbsolute(t *testing.T) {
	const src = "tls: {listen: 8443, certificates: [{certFile: a.crt, keyFile: a.key}], clientCA: ca.pem}\n" +
		"backendTLS: {caFile: ../backend-ca.pem}\nservers: [\"https://a\"]\naccessLog: logs/access.log\n"
	for _, tc := range []struct{ source, dir string }{
		{"gw.yaml", "."},
		{"./gw.yaml", "."},
		{"../gw.yaml", ".."},
		{"sub/gw.yaml", "sub"},
		{"sub/../gw.yaml", "."},
	} {
		dir := absTest(t, tc.dir)
		c := mustDecode(t, tc.source, src)
		cert := c.TLS.Certificates[0]
		if cert.CertFile != filepath.Join(dir, "a.crt") || cert.KeyFile != filepath.Join(dir, "a.key") ||
			c.TLS.ClientCA != filepath.Join(dir, "ca.pem") || c.Pools[0].TLS.CAFile != filepath.Join(filepath.Dir(dir), "backend-ca.pem") {
			t.Errorf("%s: certificate %+v, clientCA %q, caFile %q; want them under %s", tc.source, cert, c.TLS.ClientCA, c.Pools[0].TLS.CAFile, dir)
		}
		if c.AccessLog != filepath.Join(dir, "logs", "access.log") {
			t.Errorf("%s: accessLog %q, want it under %s", tc.source, c.AccessLog, dir)
		}
		if c.Source != tc.source {
			t.Errorf("%s: source %q, want the path as written", tc.source, c.Source)
		}
		again, err := Decode("running.json", c.JSON())
		if err != nil {
			t.Fatal(err)
		}
		again.Source = c.Source
		if !again.Equal(c) {
			t.Errorf("%s: the config its JSON decodes to differs: %+v\nwant %+v", tc.source, again.TLS, c.TLS)
		}
	}
}
