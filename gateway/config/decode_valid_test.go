package config

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"time"
)

// decodeBoth decodes a valid YAML config and its JSON rewriting and
// checks that both mean the same; it returns the YAML one.
func decodeBoth(t *testing.T, src string) *Config {
	t.Helper()
	fromYAML := mustDecode(t, "config.yaml", src)
	fromJSON := mustDecode(t, "config.json", yamlToJSON(t, src))
	a, b := *fromYAML, *fromJSON
	a.Source, a.Hash, b.Source, b.Hash = "", "", "", ""
	if !reflect.DeepEqual(a, b) {
		t.Errorf("YAML and JSON configs differ:\nYAML %+v\nJSON %+v", a, b)
	}
	return fromYAML
}

// defaultHealthCheck is the health check of a pool that sets none.
func defaultHealthCheck() HealthCheckConfig {
	return HealthCheckConfig{
		Enabled: true, Method: "HEAD", Path: "/", Interval: 2 * time.Second, Timeout: time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3, ExpectStatus: []StatusRange{{200, 399}},
	}
}

// defaultTopLevel is the top level of a config that sets nothing there.
func defaultTopLevel() Config {
	return Config{
		Listen:              ":8080",
		ClientHeaderTimeout: 10 * time.Second,
		ClientIdleTimeout:   60 * time.Second,
		MaxHeaderBytes:      16384,
		MaxBodySize:         128 << 20,
		ShutdownTimeout:     30 * time.Second,
		DNS:                 DNSConfig{Refresh: 5 * time.Second, Timeout: 2 * time.Second},
	}
}

// TestDecodeMinimalDefaults checks every default on the smallest valid
// config, spelled out here rather than taken from the decoder.
func TestDecodeMinimalDefaults(t *testing.T) {
	const src = "servers: [http://a.internal]\n"
	c := decodeBoth(t, src)
	sum := sha256.Sum256([]byte(src))
	want := defaultTopLevel()
	want.Source, want.Hash = "config.yaml", hex.EncodeToString(sum[:])
	want.Pools = []*PoolConfig{{
		Name:                  "default",
		Algorithm:             RoundRobin,
		Servers:               []ServerConfig{{URL: mustParseURL(t, "http://a.internal"), Weight: 1}},
		HealthCheck:           defaultHealthCheck(),
		Passive:               PassiveConfig{MaxFails: 3, Window: 10 * time.Second, EjectFor: 10 * time.Second},
		ConnectTimeout:        2 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleTimeout:           30 * time.Second,
	}}
	want.Routes = []RouteConfig{{Pool: "default"}}
	if !reflect.DeepEqual(c, &want) {
		t.Errorf("Decode =\n%+v\nwant\n%+v", c, want)
	}
}

// TestDecodeSeed checks that the original one-line JSON config still
// loads and means what it did: one round-robin pool of two servers probed
// every 2s, reached by every request on :8080.
func TestDecodeSeed(t *testing.T) {
	c, err := Load("testdata/config/seed.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.Admin != "" || c.Source != "testdata/config/seed.json" {
		t.Errorf("Listen, Admin, Source = %q, %q, %q", c.Listen, c.Admin, c.Source)
	}
	if len(c.Pools) != 1 {
		t.Fatalf("got %d pools, want 1", len(c.Pools))
	}
	p := c.Pools[0]
	if p.Name != "default" || p.Algorithm != RoundRobin || p.HealthCheck.Interval != 2*time.Second || !p.HealthCheck.Enabled {
		t.Errorf("pool = %+v", p)
	}
	want := []ServerConfig{{mustParseURL(t, "http://localhost:5001"), 1, false}, {mustParseURL(t, "http://localhost:5002"), 1, false}}
	if !reflect.DeepEqual(p.Servers, want) {
		t.Errorf("servers = %v, want %v", p.Servers, want)
	}
	if !reflect.DeepEqual(c.Routes, []RouteConfig{{Pool: "default"}}) {
		t.Errorf("routes = %+v", c.Routes)
	}
}

// TestDecodeFullExample checks the documented example in both formats.
func TestDecodeFullExample(t *testing.T) {
	hc := defaultHealthCheck()
	hc.Path = "/healthz"
	want := defaultTopLevel()
	want.Admin = "127.0.0.1:9901"
	want.Pools = []*PoolConfig{{
		Name:      "api",
		Algorithm: RoundRobin,
		Servers: []ServerConfig{
			{URL: mustParseURL(t, "http://10.0.0.1:8080"), Weight: 1},
			{URL: mustParseURL(t, "http://10.0.0.2:8080"), Weight: 3},
		},
		HealthCheck:           hc,
		Passive:               PassiveConfig{MaxFails: 3, Window: 10 * time.Second, EjectFor: 10 * time.Second},
		ConnectTimeout:        2 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleTimeout:           30 * time.Second,
	}}
	want.Routes = []RouteConfig{{Hosts: []string{"api.example.com"}, PathPrefix: "/v1/", Pool: "api"}}
	for _, file := range []string{"testdata/config/example.yaml", "testdata/config/example.json"} {
		c, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if c.Source != file || c.Hash != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: Source, Hash = %q, %q", file, c.Source, c.Hash)
		}
		got := *c
		got.Source, got.Hash = "", ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s decodes to\n%+v\nwant\n%+v", file, got, want)
		}
	}
}

// TestDecodeEverything checks a config that sets every key.
func TestDecodeEverything(t *testing.T) {
	c, err := Load("testdata/config/everything.yaml")
	if err != nil {
		t.Fatal(err)
	}
	top := Config{
		Listen:              "0.0.0.0:80",
		Admin:               "127.0.0.1:9901",
		AccessLog:           "/var/log/gateway/access.log",
		TrustedProxies:      []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32"), netip.MustParsePrefix("::1/128")},
		ClientHeaderTimeout: 5 * time.Second,
		ClientIdleTimeout:   2 * time.Minute,
		MaxHeaderBytes:      32768,
		MaxBodySize:         10 << 20,
		MaxConnections:      10000,
		ShutdownTimeout:     time.Minute,
		DNS:                 DNSConfig{Resolvers: []string{"10.96.0.10:53", "[fd00::10]:5353"}, Refresh: 10 * time.Second, Timeout: time.Second},
	}
	got := *c
	got.Source, got.Hash, got.Pools, got.Routes = "", "", nil, nil
	if !reflect.DeepEqual(got, top) {
		t.Errorf("top level =\n%+v\nwant\n%+v", got, top)
	}

	base := HealthCheckConfig{
		Enabled: true, Method: "HEAD", Path: "/healthz", Interval: 5 * time.Second, Timeout: time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3, ExpectStatus: []StatusRange{{200, 200}, {204, 299}},
	}
	passive := PassiveConfig{MaxFails: 5, Window: 10 * time.Second, EjectFor: 10 * time.Second, On5xx: true}
	apiHealth := base
	apiHealth.Method, apiHealth.Timeout, apiHealth.HealthyThreshold, apiHealth.UnhealthyThreshold = "GET", 500*time.Millisecond, 1, 2
	apiPassive := passive
	apiPassive.Window, apiPassive.EjectFor = 30*time.Second, time.Minute
	sessionsHealth := base
	sessionsHealth.Enabled = false
	pool := func(name string, alg Algorithm, servers []ServerConfig, hc HealthCheckConfig, pc PassiveConfig, connect time.Duration) *PoolConfig {
		return &PoolConfig{
			Name: name, Algorithm: alg, Servers: servers, HealthCheck: hc, Passive: pc,
			ConnectTimeout: connect, ResponseHeaderTimeout: 30 * time.Second, IdleTimeout: 90 * time.Second,
		}
	}
	wantPools := []*PoolConfig{
		pool("api", WeightedRoundRobin, []ServerConfig{
			{mustParseURL(t, "http://10.0.0.1:8080"), 3, false}, {mustParseURL(t, "http://10.0.0.2:8080"), 1, false}, {mustParseURL(t, "http://10.0.0.3:8080"), 0, false},
		}, apiHealth, apiPassive, time.Second),
		pool("sessions", IPHash, []ServerConfig{
			{mustParseURL(t, "http://10.0.1.1:9000"), 1, false}, {mustParseURL(t, "http://10.0.1.2:9000"), 1, false},
		}, sessionsHealth, passive, 250*time.Millisecond),
		pool("default", LeastConnections, []ServerConfig{
			{mustParseURL(t, "https://web-1.internal"), 1, false}, {mustParseURL(t, "https://web-2.internal:8443"), 1, false},
			{mustParseURL(t, "https://web.default.svc.cluster.local:8443"), 2, true},
		}, base, passive, time.Second),
	}
	if !reflect.DeepEqual(c.Pools, wantPools) {
		for i := range max(len(c.Pools), len(wantPools)) {
			if i >= len(c.Pools) || i >= len(wantPools) || !reflect.DeepEqual(c.Pools[i], wantPools[i]) {
				t.Errorf("pool %d differs", i)
			}
		}
		t.Errorf("pools =\n%+v\nwant\n%+v", c.Pools, wantPools)
	}
	wantRoutes := []RouteConfig{
		{Hosts: []string{"api.example.com"}, PathPrefix: "/v1/", Pool: "api"},
		{PathPrefix: "/session", Pool: "sessions"},
		{Pool: "default"},
	}
	if !reflect.DeepEqual(c.Routes, wantRoutes) {
		t.Errorf("routes = %+v, want %+v", c.Routes, wantRoutes)
	}
}

// TestDecodeInheritance checks that a pool's healthCheck and passive
// override the top-level ones field by field, and its timeouts one by
// one.
func TestDecodeInheritance(t *testing.T) {
	c := decodeBoth(t, `healthCheck:
  interval: 5s
  timeout: 2s
  expectStatus: [200, "300-302"]
passive:
  maxFails: 5
connectTimeout: 3s
pools:
  a:
    servers: [http://a]
    healthCheck: {path: /healthz}
    passive: {on5xx: true}
  b:
    servers: [http://b]
    healthCheck: {interval: 1s, expectStatus: 204}
    idleTimeout: 5s
  c:
    servers: [http://c]
routes:
  - {pathPrefix: /a, pool: a}
  - {pathPrefix: /b, pool: b}
  - {pool: c}
`)
	type view struct {
		path             string
		interval, tmo    time.Duration
		status           []StatusRange
		maxFails         int
		on5xx            bool
		connect, idle    time.Duration
		healthyThreshold int
	}
	want := map[string]view{
		"a": {"/healthz", 5 * time.Second, 2 * time.Second, []StatusRange{{200, 200}, {300, 302}}, 5, true, 3 * time.Second, 30 * time.Second, 2},
		"b": {"/", time.Second, 2 * time.Second, []StatusRange{{204, 204}}, 5, false, 3 * time.Second, 5 * time.Second, 2},
		"c": {"/", 5 * time.Second, 2 * time.Second, []StatusRange{{200, 200}, {300, 302}}, 5, false, 3 * time.Second, 30 * time.Second, 2},
	}
	for _, p := range c.Pools {
		h := p.HealthCheck
		got := view{h.Path, h.Interval, h.Timeout, h.ExpectStatus, p.Passive.MaxFails, p.Passive.On5xx, p.ConnectTimeout, p.IdleTimeout, h.HealthyThreshold}
		if !reflect.DeepEqual(got, want[p.Name]) {
			t.Errorf("pool %s = %+v, want %+v", p.Name, got, want[p.Name])
		}
	}
	if &c.Pools[0].HealthCheck.ExpectStatus[0] == &c.Pools[2].HealthCheck.ExpectStatus[0] {
		t.Errorf("pools share their ExpectStatus memory")
	}
}

// TestDecodeHealthCheckInterval checks the seed's top-level
// healthCheckInterval as a default for every pool.
func TestDecodeHealthCheckInterval(t *testing.T) {
	c := decodeBoth(t, `healthCheckInterval: 7s
healthCheck: {path: /up}
pools:
  a:
    servers: [http://a]
    healthCheck: {timeout: 3s}
`)
	h := c.Pools[0].HealthCheck
	if h.Interval != 7*time.Second || h.Path != "/up" || h.Timeout != 3*time.Second {
		t.Errorf("health check = %+v", h)
	}
}

// TestDecodeShorthand checks the top-level servers beside pools and
// routes: the default pool comes last, and so does its catch-all route
// unless a route already sends everything to it.
func TestDecodeShorthand(t *testing.T) {
	c := decodeBoth(t, `servers: [http://web]
algorithm: ip_hash
pools:
  api: {servers: [http://api]}
routes:
  - {pathPrefix: /api/, pool: api}
`)
	if len(c.Pools) != 2 || c.Pools[0].Name != "api" || c.Pools[1].Name != "default" || c.Pools[1].Algorithm != IPHash || c.Pools[0].Algorithm != RoundRobin {
		t.Errorf("pools = %+v", c.Pools)
	}
	want := []RouteConfig{{PathPrefix: "/api/", Pool: "api"}, {Pool: "default"}}
	if !reflect.DeepEqual(c.Routes, want) {
		t.Errorf("routes = %+v, want %+v", c.Routes, want)
	}

	c = decodeBoth(t, `servers: [http://web]
pools:
  api: {servers: [http://api]}
routes:
  - {host: api.example, pool: api}
  - {pathPrefix: /, pool: default}
`)
	want = []RouteConfig{{Hosts: []string{"api.example"}, Pool: "api"}, {PathPrefix: "/", Pool: "default"}}
	if !reflect.DeepEqual(c.Routes, want) {
		t.Errorf("routes = %+v, want %+v", c.Routes, want)
	}
}

// TestDecodeValues checks how single values are read, in both formats.
func TestDecodeValues(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		check func(c *Config) any
		want  any
	}{
		{"listen port number", "listen: 9000", func(c *Config) any { return c.Listen }, ":9000"},
		{"listen port string", `listen: "9000"`, func(c *Config) any { return c.Listen }, ":9000"},
		{"listen colon port", `listen: ":9000"`, func(c *Config) any { return c.Listen }, ":9000"},
		{"listen host and port", `listen: "127.0.0.1:9000"`, func(c *Config) any { return c.Listen }, "127.0.0.1:9000"},
		{"listen IPv6", `listen: "[::1]:9000"`, func(c *Config) any { return c.Listen }, "[::1]:9000"},
		{"listen port 0", "listen: 0", func(c *Config) any { return c.Listen }, ":0"},
		{"port alias", `port: ":9000"`, func(c *Config) any { return c.Listen }, ":9000"},
		{"admin port number", "admin: 9901", func(c *Config) any { return c.Admin }, "127.0.0.1:9901"},
		{"admin colon port", `admin: ":9901"`, func(c *Config) any { return c.Admin }, "127.0.0.1:9901"},
		{"admin all interfaces", `admin: "0.0.0.0:9901"`, func(c *Config) any { return c.Admin }, "0.0.0.0:9901"},
		{"admin IPv6 wildcard", `admin: "[::]:9901"`, func(c *Config) any { return c.Admin }, "[::]:9901"},
		{"admin localhost", `admin: "localhost:9901"`, func(c *Config) any { return c.Admin }, "localhost:9901"},
		{"admin off", `admin: ""`, func(c *Config) any { return c.Admin }, ""},
		{"admin and listen on port 0", "listen: 0\nadmin: 0", func(c *Config) any { return c.Admin }, "127.0.0.1:0"},
		{"admin on another host", "listen: \"10.0.0.1:8080\"\nadmin: \"10.0.0.2:8080\"", func(c *Config) any { return c.Admin }, "10.0.0.2:8080"},
		{"accessLog true", "accessLog: true", func(c *Config) any { return c.AccessLog }, "-"},
		{"accessLog false", "accessLog: false", func(c *Config) any { return c.AccessLog }, ""},
		{"accessLog path", "accessLog: /var/log/a.log", func(c *Config) any { return c.AccessLog }, "/var/log/a.log"},
		{"trustedProxies", `trustedProxies: [10.1.2.3/8, "::ffff:10.0.0.1", "2001:db8::/32"]`, func(c *Config) any { return c.TrustedProxies },
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("2001:db8::/32")}},
		{"trustedProxies empty", "trustedProxies: []", func(c *Config) any { return c.TrustedProxies }, []netip.Prefix(nil)},
		{"maxBodySize bytes", "maxBodySize: 1000", func(c *Config) any { return c.MaxBodySize }, int64(1000)},
		{"maxBodySize 0", "maxBodySize: 0", func(c *Config) any { return c.MaxBodySize }, int64(0)},
		{"maxBodySize digits", `maxBodySize: "2048"`, func(c *Config) any { return c.MaxBodySize }, int64(2048)},
		{"maxBodySize KiB", "maxBodySize: 64KiB", func(c *Config) any { return c.MaxBodySize }, int64(64 << 10)},
		{"maxBodySize k", "maxBodySize: 64k", func(c *Config) any { return c.MaxBodySize }, int64(64 << 10)},
		{"maxBodySize MiB", "maxBodySize: 5MiB", func(c *Config) any { return c.MaxBodySize }, int64(5 << 20)},
		{"maxBodySize m", "maxBodySize: 5m", func(c *Config) any { return c.MaxBodySize }, int64(5 << 20)},
		{"maxBodySize GiB", "maxBodySize: 2GiB", func(c *Config) any { return c.MaxBodySize }, int64(2 << 30)},
		{"maxBodySize g", "maxBodySize: 2g", func(c *Config) any { return c.MaxBodySize }, int64(2 << 30)},
		{"maxBodySize KB", "maxBodySize: 64KB", func(c *Config) any { return c.MaxBodySize }, int64(64000)},
		{"maxBodySize MB", "maxBodySize: 5 MB", func(c *Config) any { return c.MaxBodySize }, int64(5000000)},
		{"maxBodySize GB", "maxBodySize: 2GB", func(c *Config) any { return c.MaxBodySize }, int64(2000000000)},
		{"maxHeaderBytes", "maxHeaderBytes: 1024", func(c *Config) any { return c.MaxHeaderBytes }, 1024},
		{"maxConnections", "maxConnections: 500", func(c *Config) any { return c.MaxConnections }, 500},
		{"shutdownTimeout 0", "shutdownTimeout: 0s", func(c *Config) any { return c.ShutdownTimeout }, time.Duration(0)},
		{"clientHeaderTimeout", "clientHeaderTimeout: 1m30s", func(c *Config) any { return c.ClientHeaderTimeout }, 90 * time.Second},
		{"method lowercased", "healthCheck: {method: get}", func(c *Config) any { return c.Pools[0].HealthCheck.Method }, "GET"},
		{"expectStatus string", `healthCheck: {expectStatus: "204"}`, func(c *Config) any { return c.Pools[0].HealthCheck.ExpectStatus }, []StatusRange{{204, 204}}},
		{"expectStatus range", `healthCheck: {expectStatus: "200 - 299"}`, func(c *Config) any { return c.Pools[0].HealthCheck.ExpectStatus }, []StatusRange{{200, 299}}},
		{"passive off", "passive: {maxFails: 0}", func(c *Config) any { return c.Pools[0].Passive.MaxFails }, 0},
		{"probe host default", "healthCheck: {path: /}", func(c *Config) any { return c.Pools[0].HealthCheck.Host }, ""},
		{"probe host name", "healthCheck: {host: api.example.com}", func(c *Config) any { return c.Pools[0].HealthCheck.Host }, "api.example.com"},
		{"probe host and port", `healthCheck: {host: "api.example.com:8443"}`, func(c *Config) any { return c.Pools[0].HealthCheck.Host }, "api.example.com:8443"},
		{"probe host IPv4", `healthCheck: {host: "10.0.0.1:80"}`, func(c *Config) any { return c.Pools[0].HealthCheck.Host }, "10.0.0.1:80"},
		{"probe host IPv6", `healthCheck: {host: "[2001:db8::1]:8080"}`, func(c *Config) any { return c.Pools[0].HealthCheck.Host }, "[2001:db8::1]:8080"},
		{"probe host as written", "healthCheck: {host: Api.Example.COM}", func(c *Config) any { return c.Pools[0].HealthCheck.Host }, "Api.Example.COM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := decodeBoth(t, tc.yaml+"\nservers: [http://a]\n")
			if got := tc.check(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestDecodeServers checks how server URLs and weights are kept.
func TestDecodeServers(t *testing.T) {
	c := decodeBoth(t, `algorithm: weighted_round_robin
servers:
  - HTTP://Backend-1.Internal:8080
  - https://backend-2.internal/
  - url: "http://[::1]:9000"
    weight: 1000000
  - {url: http://10.0.0.9, weight: 0}
`)
	want := []ServerConfig{
		{mustParseURL(t, "http://backend-1.internal:8080"), 1, false},
		{mustParseURL(t, "https://backend-2.internal/"), 1, false},
		{mustParseURL(t, "http://[::1]:9000"), 1000000, false},
		{mustParseURL(t, "http://10.0.0.9"), 0, false},
	}
	if !reflect.DeepEqual(c.Pools[0].Servers, want) {
		t.Errorf("servers = %v, want %v", c.Pools[0].Servers, want)
	}
}

// TestDecodeRoutes checks how routes are kept: hosts lowercased, prefixes
// as written, file order.
func TestDecodeRoutes(t *testing.T) {
	c := decodeBoth(t, `pools:
  api: {servers: [http://a]}
  web: {servers: [http://b]}
  "1": {servers: [http://c]}
routes:
  - {host: API.Example.com, pathPrefix: /v1/, pool: api}
  - {host: "[2001:db8::1]", pool: api}
  - {host: api.example.com, pathPrefix: /v2/, pool: web}
  - {pathPrefix: /v1, pool: web}
  - {host: other.example, pathPrefix: /v3, pool: "1"}
  - {host: fqdn.example., pool: web}
  - {pool: web}
`)
	want := []RouteConfig{
		{Hosts: []string{"api.example.com"}, PathPrefix: "/v1/", Pool: "api"},
		{Hosts: []string{"[2001:db8::1]"}, Pool: "api"},
		{Hosts: []string{"api.example.com"}, PathPrefix: "/v2/", Pool: "web"},
		{PathPrefix: "/v1", Pool: "web"},
		{Hosts: []string{"other.example"}, PathPrefix: "/v3", Pool: "1"},
		{Hosts: []string{"fqdn.example"}, Pool: "web"},
		{Pool: "web"},
	}
	if !reflect.DeepEqual(c.Routes, want) {
		t.Errorf("routes = %+v, want %+v", c.Routes, want)
	}
	if len(c.Pools) != 3 || c.Pools[0].Name != "api" || c.Pools[1].Name != "web" || c.Pools[2].Name != "1" {
		t.Errorf("pools out of file order: %v", c.Pools)
	}
}
