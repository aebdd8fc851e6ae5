package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/gateway/testcert"
)

// diffBase is the old config of the offline diff cases.
const diffBase = `listen: 127.0.0.1:8080
admin: 127.0.0.1:9901
accessLog: /var/log/gateway/access.log
pools:
  api:
    servers: [http://10.0.0.1:80, http://10.0.0.2:80, http://10.0.0.4:80]
  web:
    servers:
      - url: http://web.internal:8080
        resolve: true
routes:
  - name: api-v2
    pathPrefix: /v2/
    pools: [{pool: api, weight: 95}, {pool: web, weight: 5}]
    requestHeaders: {set: {Authorization: Bearer old-token}}
  - name: legacy
    pathPrefix: /legacy/
    pool: api
  - pool: web
`

// decodeDiff decodes a config for a diff case.
func decodeDiff(t *testing.T, name, text string) *config.Config {
	t.Helper()
	cfg, err := config.Decode(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// describe returns the changes of r as short lines, the way the cases
// below state what they want: "listener changed move", "pool api
// changed", "backend api http://10.0.0.3:80 added", "field
// pools.api algorithm round_robin>least_connections", ...
func describe(r DiffReport) []string {
	out := []string{fmt.Sprintf("changed %v", r.Changed)}
	listener := func(what string, d ListenerDiff) {
		if d.Change != ChangeUnchanged {
			out = append(out, fmt.Sprintf("%s %s %s %s>%s", what, d.Change, d.Action, d.From, d.To))
		}
		for _, f := range d.Fields {
			out = append(out, fmt.Sprintf("field %s %s %s>%s", what, f.Key, f.From, f.To))
		}
	}
	listener("listener", r.Listener)
	listener("tls", r.TLS)
	listener("admin", r.Admin)
	for _, f := range r.Settings {
		out = append(out, fmt.Sprintf("field settings %s %s>%s", f.Key, f.From, f.To))
	}
	for _, p := range r.Pools {
		if p.Change != ChangeUnchanged {
			out = append(out, "pool "+p.Name+" "+p.Change)
		}
		for _, f := range p.Fields {
			out = append(out, fmt.Sprintf("field pools.%s %s %s>%s", p.Name, f.Key, f.From, f.To))
		}
		for _, b := range p.Backends {
			if b.Change != ChangeCarried {
				line := fmt.Sprintf("backend %s %s %s", p.Name, b.URL, b.Change)
				for _, s := range b.Settings {
					line += " " + s.Key
				}
				out = append(out, line)
			}
		}
	}
	for _, rt := range r.Routes {
		if rt.Change != ChangeUnchanged {
			out = append(out, "route "+rt.Name+" "+rt.Change)
		}
		for _, f := range rt.Fields {
			out = append(out, fmt.Sprintf("field routes.%s %s %s>%s", rt.Name, f.Key, f.From, f.To))
		}
	}
	listener("accessLog", r.AccessLog)
	if r.DNS.Change != ChangeUnchanged {
		out = append(out, "dns "+r.DNS.Change)
	}
	for _, f := range r.DNS.Fields {
		out = append(out, fmt.Sprintf("field dns %s %s>%s", f.Key, f.From, f.To))
	}
	for _, n := range r.DNS.Names {
		if n.Change != ChangeCarried {
			out = append(out, "name "+n.Name+" "+n.Change)
		}
	}
	c := r.Backends
	return append(out, fmt.Sprintf("counts %d %d %d", c.Carried, c.Added, c.Removed))
}

// TestDiffOffline checks the offline diff of every kind of change: what
// it says of each listener, setting, pool, backend, route, the access log
// and the resolved names, and nothing else.
func TestDiffOffline(t *testing.T) {
	edit := func(pairs ...string) string {
		return strings.NewReplacer(pairs...).Replace(diffBase)
	}
	tests := []struct {
		name, next string
		want       []string
	}{
		{"comments and formatting only", "# a comment\n" + strings.ReplaceAll(diffBase, "[http://10.0.0.1:80, http://10.0.0.2:80, http://10.0.0.4:80]",
			"\n      - http://10.0.0.1:80\n      - http://10.0.0.2:80\n      - http://10.0.0.4:80"),
			[]string{"changed false", "counts 3 0 0"}},
		{"defaults spelled out", edit("admin:", "shutdownTimeout: 30s\nadmin:", "  api:\n", "  api:\n    algorithm: round_robin\n"),
			[]string{"changed false", "counts 3 0 0"}},
		{"listen address", edit("listen: 127.0.0.1:8080", "listen: 127.0.0.1:8081"),
			[]string{"changed true", "listener changed move 127.0.0.1:8080>127.0.0.1:8081", "counts 3 0 0"}},
		{"listener settings", edit("admin:", "clientHeaderTimeout: 3s\nadmin:"),
			[]string{"changed true", "listener changed restart 127.0.0.1:8080>127.0.0.1:8080", "field listener clientHeaderTimeout 10s>3s", "counts 3 0 0"}},
		{"connection cap", edit("admin:", "maxConnections: 100\nadmin:"),
			[]string{"changed true", "listener changed keep 127.0.0.1:8080>127.0.0.1:8080", "field listener maxConnections 0>100", "counts 3 0 0"}},
		{"admin moved", edit("admin: 127.0.0.1:9901", "admin: 127.0.0.1:9902"),
			[]string{"changed true", "admin changed move 127.0.0.1:9901>127.0.0.1:9902", "counts 3 0 0"}},
		{"admin removed", edit("admin: 127.0.0.1:9901\n", ""),
			[]string{"changed true", "admin removed stop 127.0.0.1:9901>", "counts 3 0 0"}},
		{"tls added", edit("admin:", "tls: {listen: \"127.0.0.1:8443\", certificates: [{certFile: /tls/a.crt, keyFile: /tls/a.key}]}\nadmin:"),
			[]string{"changed true", "tls added start >127.0.0.1:8443", "field tls certificates[0].certFile >/tls/a.crt", "field tls certificates[0].keyFile >/tls/a.key",
				"field tls minVersion >1.2", "field tls http2 >true", "field tls redirectHTTP >false", "counts 3 0 0"}},
		{"top-level settings", edit("admin:", "maxBodySize: 1MiB\ntrustedProxies: [10.0.0.0/8]\nadmin:"),
			[]string{"changed true", "field settings trustedProxies >10.0.0.0/8", "field settings maxBodySize 134217728>1048576", "counts 3 0 0"}},
		{"pool settings", edit("  api:\n", "  api:\n    algorithm: least_connections\n    healthCheck: {interval: 5s}\n"),
			[]string{"changed true", "pool api changed", "field pools.api algorithm round_robin>least_connections", "field pools.api healthCheck.interval 2s>5s",
				"backend api http://10.0.0.1:80 updated healthCheck.interval", "backend api http://10.0.0.2:80 updated healthCheck.interval",
				"backend api http://10.0.0.4:80 updated healthCheck.interval", "counts 3 0 0"}},
		{"a setting of the pool alone", edit("  api:\n", "  api:\n    passive: {on5xx: true}\n"),
			[]string{"changed true", "pool api changed", "field pools.api passive.on5xx false>true", "counts 3 0 0"}},
		{"probing off", edit("  web:\n", "  web:\n    healthCheck: {enabled: false}\n"),
			[]string{"changed true", "pool web changed", "field pools.web healthCheck.enabled true>false",
				"backend web http://web.internal:8080 updated healthCheck.enabled", "counts 3 0 0"}},
		{"backends added, removed, weighted, respelled", edit("[http://10.0.0.1:80, http://10.0.0.2:80, http://10.0.0.4:80]",
			"[http://10.0.0.1, {url: \"http://10.0.0.2:80\", weight: 3}, http://10.0.0.3:80]"),
			[]string{"changed true", "pool api changed", "backend api http://10.0.0.1 updated url", "backend api http://10.0.0.2:80 updated weight",
				"backend api http://10.0.0.3:80 added", "backend api http://10.0.0.4:80 removed", "counts 2 1 1"}},
		{"pool added and removed", edit("  web:\n", "  www:\n", "pool: web", "pool: www", "pool: web, weight: 5", "pool: www, weight: 5"),
			[]string{"changed true", "pool www added", "backend www http://web.internal:8080 added", "pool web removed", "backend web http://web.internal:8080 removed",
				"route api-v2 changed", "field routes.api-v2 pools api:95, web:5>api:95, www:5", "route routes[2] changed", "field routes.routes[2] pool web>www", "counts 3 0 0"}},
		{"resolved name and dns settings", edit("resolve: true\n", "resolve: true\n      - url: http://web2.internal:8080\n        resolve: true\ndns: {refresh: 10s}\n"),
			[]string{"changed true", "pool web changed", "backend web http://web2.internal:8080 added", "dns changed", "field dns refresh 5s>10s", "name web2.internal added", "counts 3 0 0"}},
		{"routes reordered, changed, added and removed", diffBase[:strings.Index(diffBase, "routes:")] + `routes:
  - name: legacy
    pathPrefix: /legacy/
    pool: api
  - name: api-v2
    pathPrefix: /v2/
    pools: [{pool: api, weight: 90}, {pool: web, weight: 10}]
    requestHeaders: {set: {Authorization: Bearer new-token}}
  - name: admin
    pathPrefix: /admin/
    redirect: {scheme: https, code: 301}
  - pool: web
`, []string{"changed true", "route legacy reordered", "field routes.legacy index 1>0", "route api-v2 changed",
			"field routes.api-v2 requestHeaders.set.Authorization " + redacted("Bearer old-token") + ">" + redacted("Bearer new-token"),
			"field routes.api-v2 pools api:95, web:5>api:90, web:10", "field routes.api-v2 index 0>1", "route admin added",
			"route routes[3] added", "route routes[2] removed", "counts 3 0 0"}},
		{"access log moved", edit("access.log", "other.log"),
			[]string{"changed true", "accessLog changed move /var/log/gateway/access.log>/var/log/gateway/other.log", "counts 3 0 0"}},
		{"access log off", edit("accessLog: /var/log/gateway/access.log\n", ""),
			[]string{"changed true", "accessLog removed stop /var/log/gateway/access.log>", "counts 3 0 0"}},
	}
	cur := decodeDiff(t, "old.yaml", diffBase)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Diff(cur, nil, decodeDiff(t, "new.yaml", tt.next))
			got := describe(r)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if !r.Valid || r.Live {
				t.Errorf("valid %v, live %v; want valid offline", r.Valid, r.Live)
			}
			// Apply's own test of an unchanged config agrees with changed.
			same := *decodeDiff(t, "old.yaml", tt.next)
			if r.Changed == cur.Equal(&same) {
				t.Errorf("changed %v, yet config.Equal says %v", r.Changed, cur.Equal(&same))
			}
			data, _ := json.Marshal(r)
			if strings.Contains(string(data), "token") {
				t.Errorf("the JSON shows a header rule value: %s", data)
			}
		})
	}
}

// redacted returns v as a diff shows a header rule value.
func redacted(v string) string {
	c := &config.Config{Routes: []config.RouteConfig{{RequestHeaders: config.HeaderRules{Set: []config.HeaderField{{Name: "X", Value: v}}}}}}
	return c.Redacted().Routes[0].RequestHeaders.Set[0].Value
}

// TestDiffCertificates checks what diff says of the HTTPS listener's
// certificates: one whose files stay is unchanged, with the certificate
// loaded from them before and after; one that replaces it is added with
// its fingerprint and names, read from its files, and the one it replaces
// removed; files that cannot be read leave the certificate unknown.
func TestDiffCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "diff")
	a := ca.Issue(t, testcert.ECDSA, time.Time{}, "a.example")
	b := ca.Issue(t, testcert.ECDSA, time.Time{}, "b.example", "www.b.example")
	aCert, aKey := a.Write(t, dir, "a")
	bCert, bKey := b.Write(t, dir, "b")
	config := func(certFile, keyFile, extra string) *config.Config {
		return decodeDiff(t, dir+"/gateway.yaml", fmt.Sprintf("listen: 127.0.0.1:8080\ntls:\n  listen: 127.0.0.1:8443\n  certificates: [{certFile: %s, keyFile: %s}]\n%sservers: [http://10.0.0.1:80]\n",
			certFile, keyFile, extra))
	}
	fingerprint := func(c testcert.Cert) string {
		sum := sha256.Sum256(c.Leaf.Raw)
		return hex.EncodeToString(sum[:])
	}
	show := func(c *CertificateInfo) string {
		if c == nil {
			return "unknown"
		}
		return c.SHA256 + " " + strings.Join(c.Names, ",")
	}
	cur := config(aCert, aKey, "")

	r := Diff(cur, nil, config(aCert, aKey, "  minVersion: \"1.3\"\n"))
	if r.TLS.Change != ChangeChanged || r.TLS.Action != "keep" || len(r.TLS.Fields) != 1 || r.TLS.Fields[0].Key != "minVersion" {
		t.Fatalf("tls %+v, want changed in place with minVersion", r.TLS)
	}
	if c := r.TLS.Certificates; len(c) != 1 || c[0].Change != ChangeUnchanged || show(c[0].Before) != fingerprint(a)+" a.example" || show(c[0].After) != show(c[0].Before) {
		t.Fatalf("certificates %+v, want a unchanged", c)
	}

	r = Diff(cur, nil, config(bCert, bKey, ""))
	c := r.TLS.Certificates
	if len(c) != 2 || c[0].CertFile != bCert || c[0].Change != ChangeAdded || c[0].Before != nil || show(c[0].After) != fingerprint(b)+" b.example,www.b.example" ||
		c[1].CertFile != aCert || c[1].Change != ChangeRemoved || show(c[1].Before) != fingerprint(a)+" a.example" || c[1].After != nil {
		t.Fatalf("certificates %+v, want b added and a removed", c)
	}
	var text strings.Builder
	r.WriteText(&text)
	if want := "  certificate " + bCert + ": added, none → " + fingerprint(b)[:12] + " (b.example, www.b.example)\n"; !strings.Contains(text.String(), want) {
		t.Fatalf("text lacks %q:\n%s", want, text.String())
	}

	r = Diff(cur, nil, config(dir+"/missing.crt", dir+"/missing.key", ""))
	if c := r.TLS.Certificates; len(c) != 2 || c[0].Change != ChangeAdded || c[0].After != nil {
		t.Fatalf("certificates %+v, want the missing files' certificate unknown", c)
	}
}

// diffAgainst is what diff --admin predicts for text against g: the plan
// from the config of g's /config and g's state, as /status reports it.
func diffAgainst(t *testing.T, g *Gateway, text string) DiffReport {
	t.Helper()
	code, body := adminGet(t, g, "/config")
	var cr ConfigReport
	if err := json.Unmarshal([]byte(body), &cr); err != nil || code != 200 {
		t.Fatalf("/config: %d %v", code, err)
	}
	cur := decodeDiff(t, "running", string(cr.Config))
	status := g.Status()
	return Diff(cur, &status, decodeDiff(t, "test.yaml", text))
}

// TestDiffResolvedServersLive checks diff --admin on resolved servers: a
// name the reload keeps is carried with the addresses it has, and its
// backends are those addresses, updated in place or carried over to a
// static server of the same address, as the reload then records; a name
// the reload brings in is listed as added, to be looked up.
func TestDiffResolvedServersLive(t *testing.T) {
	port, bs := startAddrBackends(t, 2)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs...)...)
	g, _ := startGateway(t, resolvedConfig(dns.addr, port, "1h", ""))
	urls := urlsOf(port, ips(bs...)...)

	next := resolvedConfig(dns.addr, port, "1h", "    connectTimeout: 3s\n")
	r := diffAgainst(t, g, next)
	got := describe(r)
	want := []string{"changed true", "pool app changed", "field pools.app connectTimeout 2s>3s",
		"backend app " + urls[0] + " updated connectTimeout", "backend app " + urls[1] + " updated connectTimeout", "counts 2 0 0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if n := r.DNS.Names; len(n) != 1 || n[0].Change != ChangeCarried || fmt.Sprint(n[0].Addresses) != "["+strings.Join(ips(bs...), " ")+"]" {
		t.Fatalf("dns names %+v, want %s carried with its addresses", n, appName)
	}
	if b := r.Pools[0].Backends[0]; b.Source != appName || b.Health == nil || b.InFlight == nil {
		t.Fatalf("backend %+v, want the name as source and live state", b)
	}
	rec := reloadOK(t, g, next)
	if rec.Carried != 2 || rec.Added != 0 || rec.Removed != 0 || rec.Listener != "keep" {
		t.Fatalf("recorded %+v, want what diff predicted", rec)
	}

	static := strings.Replace(next, `{url: "http://`+appName+`:`+port+`", resolve: true}`, urls[0], 1)
	r = diffAgainst(t, g, static)
	got = describe(r)
	want = []string{"changed true", "pool app changed", "backend app " + urls[1] + " removed", "dns changed", "name " + appName + " removed", "counts 1 0 1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	rec = reloadOK(t, g, static)
	if rec.Carried != 1 || rec.Added != 0 || rec.Removed != 1 {
		t.Fatalf("recorded %+v, want what diff predicted", rec)
	}

	r = diffAgainst(t, g, next)
	if n := r.DNS.Names; len(n) != 1 || n[0].Change != ChangeAdded || n[0].Addresses != nil {
		t.Fatalf("dns names %+v, want %s added, not looked up yet", n, appName)
	}
	if b := r.Pools[0].Backends; len(b) != 2 || b[0].Source != appName || b[0].Change != ChangeAdded || b[1].URL != urls[0] || b[1].Change != ChangeRemoved {
		t.Fatalf("backends %+v, want the name's backends added and the static server removed", b)
	}
}

// TestDiffCertificatesRelativePaths checks that offline diff reads the
// certificates of configs named by a relative path, with relative file
// paths in them, whatever the working directory: the certificate a file
// keeps is known before and after.
func TestDiffCertificatesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := testcert.NewCA(t, "diff")
	a := ca.Issue(t, testcert.ECDSA, time.Time{}, "a.example")
	a.Write(t, dir, "a")
	sum := sha256.Sum256(a.Leaf.Raw)
	want := hex.EncodeToString(sum[:]) + " a.example"
	const text = "listen: 127.0.0.1:8080\ntls:\n  listen: 127.0.0.1:8443\n  certificates: [{certFile: a.crt, keyFile: a.key}]\nservers: [http://10.0.0.1:80]\n"
	for _, name := range []string{"d_old.yaml", "d_cert.yaml"} {
		testcert.WriteFile(t, filepath.Join(dir, name), []byte(text))
	}
	for _, tc := range []struct{ cwd, old, next string }{
		{dir, "d_old.yaml", "d_cert.yaml"},
		{dir, "./d_old.yaml", "./d_cert.yaml"},
		{sub, "../d_old.yaml", "../d_cert.yaml"},
	} {
		t.Chdir(tc.cwd)
		load := func(path string) *config.Config {
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}
		r := Diff(load(tc.old), nil, load(tc.next))
		c := r.TLS.Certificates
		if r.Changed || len(c) != 1 || c[0].Change != ChangeUnchanged || c[0].Before == nil || c[0].After == nil ||
			c[0].Before.SHA256+" "+strings.Join(c[0].Before.Names, ",") != want || c[0].CertFile != filepath.Join(dir, "a.crt") {
			t.Errorf("diff %s %s from %s: changed %v, certificates %+v; want a.crt unchanged, known as %s", tc.old, tc.next, tc.cwd, r.Changed, c, want)
		}
	}
}

// TestDiffHeaderValues checks that diff decides on header rule values as
// apply does, while showing them redacted: offline, a value replaced by
// the digest /config shows of it is a change, shown as two different
// digests; against a running gateway, whose values only their digests
// tell, the running value is no change and its digest written as a value
// is one.
func TestDiffHeaderValues(t *testing.T) {
	const base = "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\npools:\n  p:\n    healthCheck: {enabled: false}\n    servers: [http://10.0.0.1:80]\n" +
		"routes:\n  - pool: p\n    requestHeaders: {set: {X-Env: %s}}\n"
	hA, hB := fmt.Sprintf(base, "prod2"), fmt.Sprintf(base, `"sha256:d30c129a9fd5"`)
	if got := redacted("prod2"); got != "sha256:d30c129a9fd5" {
		t.Fatalf("prod2 redacts to %s", got)
	}

	r := Diff(decodeDiff(t, "hA.yaml", hA), nil, decodeDiff(t, "hB.yaml", hB))
	f := r.Routes[0].Fields
	if !r.Changed || r.Routes[0].Change != ChangeChanged || len(f) != 1 || f[0].From != "sha256:d30c129a9fd5" || f[0].To != redacted("sha256:d30c129a9fd5") || f[0].To == f[0].From {
		t.Errorf("offline hA → hB: changed %v, route %+v; want the value changed, as two digests", r.Changed, r.Routes[0])
	}
	if r := Diff(decodeDiff(t, "hA.yaml", hA), nil, decodeDiff(t, "again.yaml", "# the same\n"+hA)); r.Changed {
		t.Errorf("offline hA → hA: changed, routes %+v", r.Routes)
	}
	var text strings.Builder
	r.WriteText(&text)
	if strings.Contains(text.String(), "prod2") {
		t.Errorf("the text shows a header rule value:\n%s", text.String())
	}

	g, _ := startGateway(t, hA)
	if r := diffAgainst(t, g, hA); r.Changed {
		t.Errorf("--admin with the running file: changed, routes %+v", r.Routes)
	}
	r = diffAgainst(t, g, hB)
	if f := r.Routes[0].Fields; !r.Changed || len(f) != 1 || f[0].From != "sha256:d30c129a9fd5" || f[0].To == f[0].From {
		t.Errorf("--admin with the running value's digest as the value: changed %v, route %+v; want the value changed", r.Changed, r.Routes[0])
	}
}
