package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONDecodesToTheSameConfig encodes every example and test config
// and decodes the result: the config must be the same, defaults, pool and
// route order, implied routes and file paths included.
func TestJSONDecodesToTheSameConfig(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/*")
	more, _ := filepath.Glob("../../examples/*.yaml")
	files = append(files, more...)
	files = append(files, "../../examples/seed.json")
	if len(files) < 6 {
		t.Fatalf("found only %d configs: %v", len(files), files)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			abs, _ := filepath.Abs(path)
			c, err := Load(abs)
			if err != nil {
				t.Fatal(err)
			}
			assertRoundTrip(t, c)
		})
	}
}

// assertRoundTrip checks that c's JSON decodes to c.
func assertRoundTrip(t *testing.T, c *Config) {
	t.Helper()
	data := c.JSON()
	back, err := Decode(c.Source, data)
	if err != nil {
		t.Fatalf("the JSON does not decode: %v\n%s", err, data)
	}
	if !back.Equal(c) {
		t.Fatalf("the JSON decodes to another config:\n%s\ngot  %+v\nwant %+v", data, back, c)
	}
	if again := back.JSON(); string(again) != string(data) {
		t.Fatalf("encoding is not stable:\n%s\n%s", data, again)
	}
}

// TestJSONSpecialCases covers the values the encoder spells out of its
// own accord: no plain listener with tls, the access log on standard
// output, the shorthand's pool and route, and header rules.
func TestJSONSpecialCases(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, config string }{
		{"shorthand", `{"port": ":8080", "healthCheckInterval": "3s", "servers": ["http://localhost:5001"]}`},
		{"https only", "tls: {listen: \":8443\", certificates: [{certFile: a.crt, keyFile: a.key}], clientCA: ca.pem, clientAuth: verify-if-given}\nservers: [http://a:1]\n"},
		{"access log on stdout", "accessLog: true\nadmin: :9901\ntrustedProxies: [10.0.0.1, 10.0.0.0/8]\nservers: [http://a:1]\n"},
		{"routes", `pools:
  a: {servers: [{url: "http://a:1", weight: 0}, http://b:2], algorithm: weighted_round_robin, tls: {caFile: ca.pem, serverName: x}}
  b: {servers: [{url: "http://svc.local:80", resolve: true}], healthCheck: {enabled: false, host: h, expectStatus: [200, "300-302"]}}
dns: {resolvers: ["10.0.0.10"]}
routes:
  - name: r1
    host: ["a.example.com", "*.b.example.com"]
    pathPrefix: /api/
    methods: [GET]
    headers: {X-Canary: always}
    rewritePrefix: /
    requestHeaders: {set: {Authorization: Bearer secret}, add: {Via: gw}, remove: [X-Debug]}
    responseHeaders: {remove: [Server]}
    pools: [{pool: a, weight: 9}, {pool: b, weight: 1}]
    sticky: true
    rateLimit: {requestsPerSecond: 0.5}
  - {pathPrefix: /old/, redirect: {scheme: https, port: 8443, prefix: /new/}}
  - pool: b
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			assertRoundTrip(t, c)
		})
	}
}

// TestRedacted checks that header rule values are hashed, once, and that
// nothing else changes.
func TestRedacted(t *testing.T) {
	c, err := Decode("r.yaml", []byte(`servers: [http://a:1]
routes:
  - headers: {X-Canary: always}
    requestHeaders: {set: {Authorization: Bearer secret}, add: {Via: gw}}
    responseHeaders: {set: {X-Frame-Options: DENY}, remove: [Server]}
    pool: default
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	rt := r.Routes[0]
	// sha256("Bearer secret") = 6b2a...; only the form is checked here,
	// and that equal values give equal digests.
	for _, v := range []string{rt.RequestHeaders.Set[0].Value, rt.RequestHeaders.Add[0].Value, rt.ResponseHeaders.Set[0].Value} {
		if !isRedacted(v) || strings.Contains(string(r.JSON()), "secret") {
			t.Fatalf("value %q, JSON %s", v, r.JSON())
		}
	}
	if rt.Headers[0].Value != "always" || rt.ResponseHeaders.Remove[0] != "Server" {
		t.Fatalf("redaction changed more than header rule values: %+v", rt)
	}
	if c.Routes[0].RequestHeaders.Set[0].Value != "Bearer secret" {
		t.Fatal("Redacted changed the config it was called on")
	}
	// A value written as a digest is hashed too: sha256("prod2") starts
	// d30c129a9fd5, and a rule whose value is that digest must not
	// redact like a rule whose value is prod2.
	prod2 := RouteConfig{RequestHeaders: HeaderRules{Set: []HeaderField{{"X-Env", "prod2"}}}}
	digest := RouteConfig{RequestHeaders: HeaderRules{Set: []HeaderField{{"X-Env", "sha256:d30c129a9fd5"}}}}
	a := (&Config{Routes: []RouteConfig{prod2}}).Redacted().Routes[0].RequestHeaders.Set[0].Value
	b := (&Config{Routes: []RouteConfig{digest}}).Redacted().Routes[0].RequestHeaders.Set[0].Value
	if a != "sha256:d30c129a9fd5" || b == a || !isRedacted(b) {
		t.Fatalf("prod2 redacts to %q, its digest to %q; want sha256:d30c129a9fd5 and another digest", a, b)
	}
	other := *c
	other.Routes = append([]RouteConfig(nil), c.Routes...)
	other.Routes[0].RequestHeaders.Set = []HeaderField{{"Authorization", "Bearer other"}}
	if other.Redacted().Equal(r) {
		t.Fatal("two different values redact alike")
	}
}

// isRedacted reports whether v is a redacted value: "sha256:" and 12
// lowercase hex digits.
func isRedacted(v string) bool {
	h, ok := strings.CutPrefix(v, redactedPrefix)
	if !ok || len(h) != 12 {
		return false
	}
	for _, c := range []byte(h) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
