// Package examples_test checks that the example configurations and the
// Dockerfile shipped with the gateway are valid and agree with one
// another. The Kubernetes manifests are checked by the module of their
// own folder, kubernetes/.
package examples_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"go.yaml.in/yaml/v3"
)

// configFiles returns the example configuration files in this directory:
// every .yaml, .yml and .json file, but none of the Kubernetes manifests,
// which live in a folder of their own.
func configFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatalf("list example configs matching %s: %v", pattern, err)
		}
		files = append(files, matches...)
	}
	slices.Sort(files)
	return files
}

// TestConfigsLoad loads every example configuration with [config.Load].
func TestConfigsLoad(t *testing.T) {
	files := configFiles(t)
	for _, want := range []string{"demo.yaml", "full.yaml", "gateway.yaml", "seed.json"} {
		if !slices.Contains(files, want) {
			t.Errorf("example config %s is missing; found %v", want, files)
		}
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			if _, err := config.Load(file); err != nil {
				t.Fatalf("example config does not load: %v", err)
			}
		})
	}
}

// load loads the example configuration file or stops the test.
func load(t *testing.T, file string) *config.Config {
	t.Helper()
	c, err := config.Load(file)
	if err != nil {
		t.Fatalf("example config does not load: %v", err)
	}
	return c
}

// serverURLs returns the URLs of pool's servers as strings.
func serverURLs(pool *config.PoolConfig) []string {
	urls := make([]string, len(pool.Servers))
	for i, s := range pool.Servers {
		urls[i] = s.URL.String()
	}
	return urls
}

// onlyPool checks that the config has one pool, called name, holding the
// servers and taking every request, and returns it. It stops the test when
// the config has another number of pools.
func onlyPool(t *testing.T, c *config.Config, name string, servers ...string) *config.PoolConfig {
	t.Helper()
	if len(c.Pools) != 1 {
		t.Fatalf("got %d pools, want exactly 1", len(c.Pools))
	}
	p := c.Pools[0]
	if p.Name != name {
		t.Errorf("pool name = %q, want %q", p.Name, name)
	}
	if got := serverURLs(p); !slices.Equal(got, servers) {
		t.Errorf("servers = %v, want %v", got, servers)
	}
	if !slices.ContainsFunc(c.Routes, func(r config.RouteConfig) bool { return reflect.DeepEqual(r, config.RouteConfig{Pool: name}) }) {
		t.Errorf("routes = %+v, want a catch-all route to pool %s", c.Routes, name)
	}
	return p
}

// TestSeedConfig checks that the seed article's one-pool shorthand reads
// as one pool named default.
func TestSeedConfig(t *testing.T) {
	c := load(t, "seed.json")
	if c.Listen != ":8080" {
		t.Errorf("Listen = %q, want %q (from the key port)", c.Listen, ":8080")
	}
	p := onlyPool(t, c, "default", "http://localhost:5001", "http://localhost:5002")
	if p.HealthCheck.Interval != 2*time.Second {
		t.Errorf("health check interval = %v, want 2s (from healthCheckInterval)", p.HealthCheck.Interval)
	}
}

// TestDemoConfig checks the config `gateway demo` runs: three local
// backends behind a gateway that listens on loopback only.
func TestDemoConfig(t *testing.T) {
	c := load(t, "demo.yaml")
	if c.Listen != "127.0.0.1:8080" {
		t.Errorf("Listen = %q, want %q", c.Listen, "127.0.0.1:8080")
	}
	if c.Admin != "127.0.0.1:9901" {
		t.Errorf("Admin = %q, want %q", c.Admin, "127.0.0.1:9901")
	}
	p := onlyPool(t, c, "demo", "http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9003")
	if p.Algorithm != config.RoundRobin {
		t.Errorf("algorithm = %s, want %s", p.Algorithm, config.RoundRobin)
	}
	if hc := p.HealthCheck; hc.Path != "/health" || hc.Interval != time.Second {
		t.Errorf("health check = path %q every %v, want path %q every 1s", hc.Path, hc.Interval, "/health")
	}
}

// TestImageConfig checks the default config shipped in the container
// image: public port 8080, admin port 9901 reachable from outside the
// container, and one pool app that takes every request.
func TestImageConfig(t *testing.T) {
	c := load(t, "gateway.yaml")
	if c.Listen != ":8080" {
		t.Errorf("Listen = %q, want %q", c.Listen, ":8080")
	}
	if host, port := splitAddr(t, "admin", c.Admin); !isUnspecified(host) || port != "9901" {
		t.Errorf("Admin = %q, want port 9901 on every interface (0.0.0.0), so the kubelet's probes reach it", c.Admin)
	}
	p := onlyPool(t, c, "app", "http://app-1:8080", "http://app-2:8080")
	if p.HealthCheck.Path != "/healthz" {
		t.Errorf("health check path = %q, want %q", p.HealthCheck.Path, "/healthz")
	}
}

// TestFullConfig checks that the reference config shows every algorithm,
// weights, both kinds of route and the settings a reader looks up.
func TestFullConfig(t *testing.T) {
	c := load(t, "full.yaml")

	var algorithms []config.Algorithm
	var weighted, resolved, passive, tuned bool
	for _, p := range c.Pools {
		algorithms = append(algorithms, p.Algorithm)
		for _, s := range p.Servers {
			weighted = weighted || s.Weight != 1
			resolved = resolved || s.Resolve
		}
		passive = passive || p.Passive.On5xx
		hc := p.HealthCheck
		tuned = tuned || hc.Method != "HEAD" && !slices.Equal(hc.ExpectStatus, []config.StatusRange{{Lo: 200, Hi: 399}})
	}
	for _, a := range []config.Algorithm{config.RoundRobin, config.WeightedRoundRobin, config.LeastConnections, config.IPHash} {
		if !slices.Contains(algorithms, a) {
			t.Errorf("no pool uses %s; pools use %v", a, algorithms)
		}
	}
	if !weighted {
		t.Error("no server sets a weight other than 1")
	}
	if !resolved || len(c.DNS.Resolvers) == 0 {
		t.Error("no server is resolved, or dns names no resolver")
	}
	if !passive {
		t.Error("no pool sets passive.on5xx")
	}
	if !tuned {
		t.Error("no pool sets healthCheck.method and expectStatus to something other than their defaults")
	}

	for _, p := range c.Pools {
		switch {
		case p.Name == "reports" && p.HealthCheck.Path != "/healthz":
			t.Errorf("pool reports probes %q, want the top-level healthCheck.path /healthz", p.HealthCheck.Path)
		case p.Name == "sessions" && p.HealthCheck.Enabled:
			t.Error("pool sessions probes its backends, want healthCheck.enabled false")
		}
	}

	var byHost, byPrefix, catchAll bool
	for _, r := range c.Routes {
		byHost = byHost || len(r.Hosts) > 0
		byPrefix = byPrefix || r.PathPrefix != ""
		catchAll = catchAll || len(r.Hosts) == 0 && r.PathPrefix == ""
	}
	if !byHost || !byPrefix || !catchAll {
		t.Errorf("routes = %+v, want one by host, one by path prefix and a catch-all", c.Routes)
	}

	for _, f := range []struct {
		key string
		set bool
	}{
		{"admin", c.Admin != ""},
		{"accessLog", c.AccessLog != "" && c.AccessLog != "-"},
		{"trustedProxies", len(c.TrustedProxies) > 0},
		{"maxConnections", c.MaxConnections > 0},
	} {
		if !f.set {
			t.Errorf("key %s is not set to a value that shows what it does", f.key)
		}
	}
}

// configKeys lists every key a config file may hold, at any level.
var configKeys = []string{
	"listen", "port", "admin", "accessLog", "trustedProxies",
	"clientHeaderTimeout", "clientIdleTimeout", "maxHeaderBytes", "maxBodySize", "maxConnections", "shutdownTimeout",
	"dns", "resolvers", "refresh",
	"pools", "routes", "servers", "algorithm", "healthCheck", "healthCheckInterval", "passive",
	"connectTimeout", "responseHeaderTimeout", "idleTimeout",
	"url", "weight", "resolve",
	"enabled", "method", "path", "interval", "timeout", "healthyThreshold", "unhealthyThreshold", "expectStatus",
	"maxFails", "window", "ejectFor", "on5xx",
	"name", "host", "pathPrefix", "path", "methods", "headers", "rewritePrefix", "requestHeaders", "responseHeaders",
	"set", "add", "remove", "pool", "pools", "sticky", "rateLimit", "requestsPerSecond", "burst",
	"redirect", "scheme", "prefix", "code",
}

// TestExamplesShowEveryKey checks that every config key appears in some
// example, so a reader finds each one in use.
func TestExamplesShowEveryKey(t *testing.T) {
	seen := map[string]bool{}
	for _, file := range configFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("read example config: %v", err)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			t.Fatalf("parse example config %s: %v", file, err)
		}
		collectKeys(&root, seen)
	}
	for _, k := range configKeys {
		if !seen[k] {
			t.Errorf("no example config uses the key %s; add it to full.yaml", k)
		}
	}
}

// collectKeys adds the key of every mapping under n to seen.
func collectKeys(n *yaml.Node, seen map[string]bool) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			seen[n.Content[i].Value] = true
		}
	}
	for _, c := range n.Content {
		collectKeys(c, seen)
	}
}

// splitAddr splits the listen address addr, named what, into host and
// port, or stops the test.
func splitAddr(t *testing.T, what, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s address %q: %v", what, addr, err)
	}
	return host, port
}

// isUnspecified reports whether host is the address that binds every
// interface, 0.0.0.0 or ::.
func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// Example_seed loads the seed article's config, which uses the one-pool
// shorthand: top-level servers become a pool named default that takes
// every request.
func Example_seed() {
	c, err := config.Load("seed.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("listen", c.Listen)
	for _, p := range c.Pools {
		fmt.Println("pool", p.Name, p.Algorithm, "probed every", p.HealthCheck.Interval)
		for _, s := range p.Servers {
			fmt.Println("  server", s.URL)
		}
	}
	// Output:
	// listen :8080
	// pool default round_robin probed every 2s
	//   server http://localhost:5001
	//   server http://localhost:5002
}
