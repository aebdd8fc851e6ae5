package config

import (
	"testing"
)

// problemCases are configs with problems, written in YAML; each is also
// decoded as JSON with the same content, where it must give the same
// problems at the same markers.
var problemCases = []struct {
	name string
	yaml string
	want []wantProblem
}{
	// Keys.
	{"unknown top-level key with a suggestion", "lisen: 8080\nservers: [http://a]\n",
		[]wantProblem{{"lisen", `unknown key "lisen"; did you mean "listen"?`, "lisen", ""}}},
	{"unknown top-level key without a suggestion", "servers: [http://a]\nfrobnicate: 1\n",
		[]wantProblem{{"frobnicate", `unknown key "frobnicate"; known keys are listen, port, admin`, "frobnicate", ""}}},
	{"key in the wrong case", "servers: [http://a]\nhealthcheck: {path: /}\n",
		[]wantProblem{{"healthcheck", `did you mean "healthCheck"?`, "healthcheck", ""}}},
	{"snake_case key", "servers: [http://a]\nhealth_check_interval: 2s\n",
		[]wantProblem{{"health_check_interval", `did you mean "healthCheckInterval"?`, "health_check_interval", ""}}},
	{"unknown key in a pool's health check", `pools:
  api:
    servers: [http://a]
    healthCheck:
      intreval: 5s
`, []wantProblem{{"pools.api.healthCheck.intreval", `unknown key "intreval"; did you mean "interval"?`, "intreval", ""}}},
	{"unknown key in a server", `pools:
  api:
    servers:
      - url: http://a
        wieght: 2
`, []wantProblem{{"pools.api.servers[0].wieght", `did you mean "weight"?`, "wieght", ""}}},
	{"unknown key in a route", `servers: [http://a]
routes:
  - pool: default
    prefix: /v1
`, []wantProblem{{"routes[0].prefix", `unknown key "prefix"; known keys are name, host, pathPrefix, path, methods`, "prefix", ""}}},
	{"duplicate top-level key", "listen: 80\nservers: [http://a]\nlisten: 81\n",
		[]wantProblem{{"listen", "duplicate key; it is first set at line ", "listen: 81", `listen": 81`}}},
	{"duplicate pool", `pools:
  api: {servers: [http://a]}
  web: {servers: [http://b]}
  api: {servers: [http://c]}
routes:
  - pool: api
`, []wantProblem{{"pools.api", "duplicate key; it is first set at line ", "api: {servers: [http://c]", "-"}}},
	{"top level is a list", "- http://a\n",
		[]wantProblem{{"", "expected a mapping of settings at the top level, got a list", "", ""}}},
	{"top level is a string", "\"servers\"\n",
		[]wantProblem{{"", "expected a mapping of settings at the top level, got a string", "servers", ""}}},

	// Servers and pools at the top level.
	{"neither servers nor pools", "listen: 80\n",
		[]wantProblem{{"", "no servers: set servers or pools", "listen", "{"}}},
	{"empty pools", "pools: {}\n",
		[]wantProblem{{"", "no servers: set servers or pools", "pools", "{"}}},
	{"servers with a pool named default", `servers: [http://a]
pools:
  default: {servers: [http://b]}
routes:
  - pathPrefix: /b
    pool: default
`, []wantProblem{{"servers", `the top-level servers declare the pool "default", which pools declares too`, "servers", ""}}},
	{"algorithm without servers", `algorithm: ip_hash
pools:
  api: {servers: [http://a]}
`, []wantProblem{{"algorithm", "algorithm goes with the top-level servers", "algorithm", ""}}},
	{"several pools and no routes", `pools:
  api: {servers: [http://a]}
  web: {servers: [http://b]}
`, []wantProblem{{"routes", "missing; with several pools (api, web) routes must say", "pools", ""}}},
	{"servers shorthand beside a pool and no routes", `servers: [http://a]
pools:
  api: {servers: [http://b]}
`, []wantProblem{{"routes", "missing; with several pools (api, default)", "pools", ""}}},
	{"pools is a list", "pools:\n  - servers: [http://a]\n",
		[]wantProblem{{"pools", "expected a mapping of pool names to pools, got a list", "- servers", "["}}},
	{"pool is a list", "pools:\n  api: [http://a]\n",
		[]wantProblem{{"pools.api", "expected a mapping of pool settings, got a list", "[http", `["http`}}},
	{"invalid pool name", "pools:\n  bad name!: {servers: [http://a]}\n",
		[]wantProblem{{"pools.bad name!", `invalid pool name; use letters, digits, "_", "." and "-"`, "bad name", ""}}},

	// Listeners.
	{"listen and port", "listen: 80\nport: 81\nservers: [http://a]\nadmin: [9]\n",
		[]wantProblem{
			{"port", "port is another name for listen; set only one of them", "port", ""},
			{"admin", "expected an address such as", "[9]", ""},
		}},
	{"listen without a port", "listen: localhost\nservers: [http://a]\n",
		[]wantProblem{{"listen", `invalid address; use an address such as ":8080"`, "localhost", ""}}},
	{"listen port out of range", "listen: 70000\nservers: [http://a]\n",
		[]wantProblem{{"listen", "the port must be a number from 0 to 65535", "70000", ""}}},
	{"listen port out of range in a string", "port: \":65536\"\nservers: [http://a]\n",
		[]wantProblem{{"port", "the port must be a number from 0 to 65535", ":65536", ""}}},
	{"listen negative", "listen: -1\nservers: [http://a]\n",
		[]wantProblem{{"listen", "the port must be a number from 0 to 65535", "-1", ""}}},
	{"listen empty", "listen: \"\"\nservers: [http://a]\n",
		[]wantProblem{{"listen", "must not be empty", `""`, ""}}},
	{"listen is a list", "listen: [8080]\nservers: [http://a]\n",
		[]wantProblem{{"listen", `expected an address such as ":8080" or "127.0.0.1:8080", or a port number, got a list`, "[8080]", ""}}},
	{"listen is null", "listen: null\nservers: [http://a]\n",
		[]wantProblem{{"listen", `missing value; expected an address such as ":8080"`, "null", ""}}},
	{"admin on the listen port", "listen: 8080\nadmin: \":8080\"\nservers: [http://a]\n",
		[]wantProblem{{"admin", `the admin listener needs an address apart from listen ":8080"`, `:8080"`, ""}}},
	{"admin on the default listen port", "admin: \"0.0.0.0:8080\"\nservers: [http://a]\n",
		[]wantProblem{{"admin", `apart from listen ":8080"`, "0.0.0.0:8080", ""}}},
	{"admin host name", "admin: \"bad host:9901\"\nservers: [http://a]\n",
		[]wantProblem{{"admin", "invalid address", "bad host", ""}}},

	// Top-level scalars.
	{"accessLog is a number", "accessLog: 5\nservers: [http://a]\n",
		[]wantProblem{{"accessLog", "expected true, false or a file path, got an integer", "5", ""}}},
	{"trustedProxies", `servers: [http://a]
trustedProxies:
  - 10.0.0.0/33
  - nope
  - fe80::1%eth0
  - 7
`, []wantProblem{
		{"trustedProxies[0]", "invalid CIDR prefix", "10.0.0.0/33", ""},
		{"trustedProxies[1]", "invalid IP address", "nope", ""},
		{"trustedProxies[2]", "an IPv6 zone is not allowed here", "fe80", ""},
		{"trustedProxies[3]", "expected a string, got an integer", "7", ""},
	}},
	{"trustedProxies is a string", "servers: [http://a]\ntrustedProxies: 10.0.0.1\n",
		[]wantProblem{{"trustedProxies", "expected a list of IP addresses and CIDR prefixes, got a string", "10.0.0.1", ""}}},
	{"durations", `servers: [http://a]
clientHeaderTimeout: 10
clientIdleTimeout: -1s
shutdownTimeout: soon
connectTimeout: 0s
responseHeaderTimeout: 1.5
idleTimeout: [1s]
`, []wantProblem{
		{"clientHeaderTimeout", `a number is not a duration; use a duration such as "2s"`, "10", ""},
		{"clientIdleTimeout", "must not be negative", "-1s", ""},
		{"shutdownTimeout", `invalid duration; use a duration such as "2s" or "100ms"`, "soon", ""},
		{"connectTimeout", "must be longer than 0s", "0s", ""},
		{"responseHeaderTimeout", "a number is not a duration", "1.5", ""},
		{"idleTimeout", `expected a duration such as "2s", got a list`, "[1s]", `["1s"]`},
	}},
	{"shutdownTimeout negative", "servers: [http://a]\nshutdownTimeout: -5s\n",
		[]wantProblem{{"shutdownTimeout", "must not be negative", "-5s", ""}}},
	{"header and connection limits", `servers: [http://a]
maxHeaderBytes: 100
maxConnections: -1
`, []wantProblem{
		{"maxHeaderBytes", "must be at least 1024", "100", ""},
		{"maxConnections", "must not be negative", "-1", ""},
	}},
	{"maxHeaderBytes too large", "servers: [http://a]\nmaxHeaderBytes: 2097152\n",
		[]wantProblem{{"maxHeaderBytes", "must be at most 1048576", "2097152", ""}}},
	{"maxHeaderBytes as a size", "servers: [http://a]\nmaxHeaderBytes: 16k\n",
		[]wantProblem{{"maxHeaderBytes", "expected an integer, got a string", "16k", ""}}},
	{"maxHeaderBytes out of range", "servers: [http://a]\nmaxHeaderBytes: 18446744073709551615\n",
		[]wantProblem{{"maxHeaderBytes", "integer out of range", "1844", ""}}},
	{"maxBodySize unit", "servers: [http://a]\nmaxBodySize: 12XB\n",
		[]wantProblem{{"maxBodySize", "invalid size; use a number of bytes", "12XB", ""}}},
	{"maxBodySize negative", "servers: [http://a]\nmaxBodySize: -1\n",
		[]wantProblem{{"maxBodySize", "must not be negative", "-1", ""}}},
	{"maxBodySize negative with a unit", "servers: [http://a]\nmaxBodySize: -1MiB\n",
		[]wantProblem{{"maxBodySize", "must not be negative", "-1MiB", ""}}},
	{"maxBodySize fraction", "servers: [http://a]\nmaxBodySize: 1.5\n",
		[]wantProblem{{"maxBodySize", `expected a size such as "128MiB" or a number of bytes, got a number`, "1.5", ""}}},
	{"maxBodySize overflow", "servers: [http://a]\nmaxBodySize: 99999999999GiB\n",
		[]wantProblem{{"maxBodySize", "size out of range", "9999", ""}}},

	// Health check defaults at the top level.
	{"healthCheckInterval and healthCheck.interval", `servers: [http://a]
healthCheck:
  interval: 5s
healthCheckInterval: 2s
`, []wantProblem{{"healthCheckInterval", "set either healthCheckInterval or healthCheck.interval (line ", "healthCheckInterval", ""}}},
	{"healthCheckInterval as a number", "servers: [http://a]\nhealthCheckInterval: 2\n",
		[]wantProblem{{"healthCheckInterval", `use a duration such as "2s"`, "2\n", ""}}},

	// Pools and servers.
	{"unknown algorithm with a suggestion", "servers: [http://a]\nalgorithm: roundrobin\n",
		[]wantProblem{{"algorithm", `unknown algorithm; did you mean "round_robin"? (valid: round_robin, weighted_round_robin, least_connections, ip_hash)`, "roundrobin", ""}}},
	{"unknown algorithm", "pools:\n  api:\n    algorithm: random\n    servers: [http://a]\n",
		[]wantProblem{{"pools.api.algorithm", "unknown algorithm; use round_robin, weighted_round_robin, least_connections, ip_hash", "random", ""}}},
	{"pool without servers", "pools:\n  api:\n    algorithm: ip_hash\n",
		[]wantProblem{{"pools.api.servers", "missing; a pool needs at least one server", "api", ""}}},
	{"pool with no servers", "pools:\n  api:\n    servers: []\n",
		[]wantProblem{{"pools.api.servers", "empty; a pool needs at least one server", "[]", ""}}},
	{"servers is a string", "servers: http://a\n",
		[]wantProblem{{"servers", "expected a list of servers, got a string", "http://a", ""}}},
	{"server URLs", `servers:
  - ftp://a
  - localhost:5001
  - http://
  - http://a/api
  - http://b?x=1
  - http://c#top
  - http://user:pw@d
  - http://e:99999
  - "http://f:"
  - "http://[::1"
  - 42
  - [http://g]
`, []wantProblem{
		{"servers[0]", "the scheme must be http or https", "ftp://a", ""},
		{"servers[1]", `missing scheme; write it as "http://localhost:5001"`, "localhost:5001", ""},
		{"servers[2]", "missing host", "http://\n", `http://",`},
		{"servers[3]", "a server URL has no path", "http://a/api", ""},
		{"servers[4]", "a query is not allowed", "http://b?x=1", ""},
		{"servers[5]", "a fragment is not allowed", "http://c#top", ""},
		{"servers[6]", "user info is not allowed", "http://user", ""},
		{"servers[7]", "the port must be a number from 1 to 65535", "http://e:99999", ""},
		{"servers[8]", "empty port", "http://f:", ""},
		{"servers[9]", "invalid URL", "http://[::1", ""},
		{"servers[10]", "expected a string, got an integer", "42", ""},
		{"servers[11]", "expected a URL or a mapping with url, weight and resolve, got a list", "[http://g]", `["http://g"]`},
	}},
	{"server mappings", `pools:
  api:
    algorithm: weighted_round_robin
    servers:
      - weight: 2
      - url: http://a
        weight: -1
      - url: http://b
        weight: 1000001
      - url: http://c
        weight: "3"
      - url: 5
`, []wantProblem{
		{"pools.api.servers[0].url", "missing; a server needs a url", "weight: 2", `{"weight": 2}`},
		{"pools.api.servers[1].weight", "must not be negative", "-1", ""},
		{"pools.api.servers[2].weight", "must be at most 1000000", "1000001", ""},
		{"pools.api.servers[3].weight", "expected an integer, got a string", `3"`, ""},
		{"pools.api.servers[4].url", "expected a string, got an integer", "5\n", "5}"},
	}},
	{"weighted with every weight 0", `pools:
  api:
    algorithm: weighted_round_robin
    servers:
      - {url: http://a, weight: 0}
      - {url: http://b, weight: 0}
`, []wantProblem{{"pools.api.servers", "weighted_round_robin needs at least one server with a weight above 0", "- {url: http://a", "-"}}},
	{"duplicate servers", `servers:
  - http://A.example:80
  - https://b.example
  - http://a.example
  - https://B.example:443/
  - http://[::1]:8080
  - http://[0:0::1]:8080
`, []wantProblem{
		{"servers[2]", "the same server as servers[0]", "http://a.example", ""},
		{"servers[3]", "the same server as servers[1]", "https://B", ""},
		{"servers[5]", "the same server as servers[4]", "http://[0:", ""},
	}},

	{"resolved servers", `pools:
  api:
    servers:
      - {url: http://10.0.0.1:8080, resolve: true}
      - {url: "http://[::1]", resolve: true}
      - {url: http://app..example, resolve: true}
      - {url: http://app.example, resolve: "yes"}
      - {url: http://b.example, resolve: false}
      - {url: http://c.example, resolve: true}
      - http://c.example
`, []wantProblem{
		{"pools.api.servers[0].url", "resolve: true needs a host name in url, not an IP address", "http://10.0.0.1", ""},
		{"pools.api.servers[1].url", "resolve: true needs a host name in url, not an IP address", `http://[::1]"`, `http://[::1]",`},
		{"pools.api.servers[2].url", "resolve: true needs a DNS name in url: labels of 1 to 63", "http://app..", ""},
		{"pools.api.servers[3].resolve", "expected true or false, got a string", `yes"`, ""},
		{"pools.api.servers[6]", "the same server as servers[5]", "http://c.example\n", "\"http://c.example\"\n"},
	}},

	// DNS.
	{"dns values", `servers: [http://a]
dns:
  resolvers: [kube-dns.kube-system:53, "10.0.0.1:0", "10.0.0.300", 10.0.0.2, "10.0.0.2:53", 7]
  refresh: 0s
  timeout: -1s
  ttl: 5s
`, []wantProblem{
		{"dns.resolvers[0]", "a resolver is an IP address, not a name", "kube-dns", ""},
		{"dns.resolvers[1]", "the port must be a number from 1 to 65535", `10.0.0.1:0"`, ""},
		{"dns.resolvers[2]", "invalid resolver address; use an IP address with an optional port", `10.0.0.300"`, ""},
		{"dns.resolvers[4]", "the same resolver as resolvers[3]", `10.0.0.2:53"`, ""},
		{"dns.resolvers[5]", "expected a string, got an integer", "7]", ""},
		{"dns.refresh", "must be longer than 0s", "0s", ""},
		{"dns.timeout", "must not be negative", "-1s", ""},
		{"dns.ttl", `unknown key "ttl"; known keys are resolvers, refresh, timeout`, "ttl", ""},
	}},
	{"dns resolvers empty", "servers: [http://a]\ndns: {resolvers: []}\n",
		[]wantProblem{{"dns.resolvers", "empty; leave the key out to use the nameservers of /etc/resolv.conf", "[]", ""}}},
	{"dns is a list", "servers: [http://a]\ndns: [10.0.0.1]\n",
		[]wantProblem{{"dns", "expected a mapping of DNS settings, got a list", "[10", `["10`}}},

	// Health checks.
	{"health check values", `servers: [http://a]
healthCheck:
  enabled: "yes"
  method: GE T
  path: healthz
  interval: 0s
  timeout: 1
  healthyThreshold: 0
  unhealthyThreshold: -1
  expectStatus: []
`, []wantProblem{
		{"healthCheck.enabled", "expected true or false, got a string", "yes", ""},
		{"healthCheck.method", "not an HTTP method", "GE T", ""},
		{"healthCheck.path", `must start with "/"`, "healthz", ""},
		{"healthCheck.interval", "must be longer than 0s", "0s", ""},
		{"healthCheck.timeout", "a number is not a duration", "1\n", "1,"},
		{"healthCheck.healthyThreshold", "must be at least 1", "0\n", "0,"},
		{"healthCheck.unhealthyThreshold", "must be at least 1", "-1", ""},
		{"healthCheck.expectStatus", "empty; list at least one status", "[]", ""},
	}},
	{"health check path with a space", "servers: [http://a]\nhealthCheck: {path: \"/a b\"}\n",
		[]wantProblem{{"healthCheck.path", "must not contain spaces or control characters", "/a b", ""}}},
	{"enabled is a number", "servers: [http://a]\nhealthCheck: {enabled: 1}\n",
		[]wantProblem{{"healthCheck.enabled", "expected true or false, got an integer", "1}", ""}}},
	{"expectStatus values", `pools:
  api:
    servers: [http://a]
    healthCheck:
      expectStatus: [abc, 700, "399-200", "99", true, "200-600"]
`, []wantProblem{
		{"pools.api.healthCheck.expectStatus[0]", `expected a status such as 200, a range such as "200-399", or a list of those`, "abc", ""},
		{"pools.api.healthCheck.expectStatus[1]", "a status must be from 100 to 599", "700", ""},
		{"pools.api.healthCheck.expectStatus[2]", "the range runs backwards", "399-200", ""},
		{"pools.api.healthCheck.expectStatus[3]", "a status must be from 100 to 599", `99"`, ""},
		{"pools.api.healthCheck.expectStatus[4]", "got a boolean", "true", ""},
		{"pools.api.healthCheck.expectStatus[5]", "a status must be from 100 to 599", "200-600", ""},
	}},
	{"expectStatus single out of range", "servers: [http://a]\nhealthCheck: {expectStatus: 99}\n",
		[]wantProblem{{"healthCheck.expectStatus", "a status must be from 100 to 599", "99", ""}}},
	{"healthCheck is a list", "servers: [http://a]\nhealthCheck: [/]\n",
		[]wantProblem{{"healthCheck", "expected a mapping of health check settings, got a list", "[/]", `["/"]`}}},
	{"passive values", `pools:
  api:
    servers: [http://a]
    passive:
      maxFails: -1
      window: 0s
      ejectFor: 5
      on5xx: "true"
      on500: true
`, []wantProblem{
		{"pools.api.passive.maxFails", "must not be negative", "-1", ""},
		{"pools.api.passive.window", "must be longer than 0s", "0s", ""},
		{"pools.api.passive.ejectFor", "a number is not a duration", "5", ""},
		{"pools.api.passive.on5xx", "expected true or false, got a string", `true"`, ""},
		{"pools.api.passive.on500", `did you mean "on5xx"?`, "on500", ""},
	}},

	// Routes.
	{"routes is a mapping", "servers: [http://a]\nroutes: {pool: default}\n",
		[]wantProblem{{"routes", "expected a list of routes, got a mapping", "{pool", `{"pool"`}}},
	{"route is a string", "servers: [http://a]\nroutes: [default]\n",
		[]wantProblem{{"routes[0]", "expected a mapping with host, pathPrefix and pool, got a string", "default]", `default"]`}}},
	{"route without a pool", "servers: [http://a]\nroutes:\n  - pathPrefix: /v1\n",
		[]wantProblem{{"routes[0].pool", "missing; a route names the pool it sends to (pool), splits over pools (pools) or redirects (redirect)", "", ""}}},
	{"route to an unknown pool with a suggestion", `pools:
  api: {servers: [http://a]}
routes:
  - pool: apii
`, []wantProblem{{"routes[0].pool", `no pool named "apii"; did you mean "api"?`, "apii", ""}}},
	{"route to an unknown pool", `pools:
  api: {servers: [http://a]}
routes:
  - pool: checkout
`, []wantProblem{{"routes[0].pool", `no pool named "checkout"`, "checkout", ""}}},
	{"route pool is a list", "servers: [http://a]\nroutes:\n  - pool: [default]\n",
		[]wantProblem{{"routes[0].pool", "expected a pool name, got a list", "[default]", `["default"]`}}},
	{"probe hosts", `healthCheck: {host: ""}
pools:
  a: {servers: [http://a], healthCheck: {host: "http://a.example"}}
  b: {servers: [http://b], healthCheck: {host: a.example/health}}
  c: {servers: [http://c], healthCheck: {host: "a.example:0"}}
  d: {servers: [http://d], healthCheck: {host: "a.example:http"}}
  e: {servers: [http://e], healthCheck: {host: "::1"}}
  f: {servers: [http://f], healthCheck: {host: "[zz]:80"}}
  g: {servers: [http://g], healthCheck: {host: "a b"}}
  h: {servers: [http://h], healthCheck: {host: 5}}
routes: [{pool: a}]
`, []wantProblem{
		{"healthCheck.host", "must not be empty; leave the key out", `""`, `""`},
		{"pools.a.healthCheck.host", "must be a host without a scheme", "http://a.example", ""},
		{"pools.b.healthCheck.host", "must be a host without a path", "a.example/health", ""},
		{"pools.c.healthCheck.host", "the port must be a number from 1 to 65535", "a.example:0", ""},
		{"pools.d.healthCheck.host", "the port must be a number from 1 to 65535", "a.example:http", ""},
		{"pools.e.healthCheck.host", "write an IPv6 address in brackets", "::1", ""},
		{"pools.f.healthCheck.host", "invalid IPv6 address", "[zz]:80", ""},
		{"pools.g.healthCheck.host", "invalid host name", "a b", ""},
		{"pools.h.healthCheck.host", "expected a string, got an integer", "5}", "5}"},
	}},
	{"route hosts", `servers: [http://a]
routes:
  - {host: "http://a.example", pool: default}
  - {host: a.example/v1, pool: default}
  - {host: "a.example:8080", pool: default}
  - {host: "*.example", pool: default}
  - {host: "::1", pool: default}
  - {host: "[zz]", pool: default}
  - {host: "a b", pool: default}
  - {host: 5, pool: default}
`, []wantProblem{
		{"routes[0].host", "must be a host name without a scheme", "http://a.example", ""},
		{"routes[1].host", "must be a host name without a path", "a.example/v1", ""},
		{"routes[2].host", "must not include a port", "a.example:8080", ""},
		{"routes[4].host", "write an IPv6 address in brackets", "::1", ""},
		{"routes[5].host", "invalid IPv6 address", "[zz]", ""},
		{"routes[6].host", "invalid host name", "a b", ""},
		{"routes[7].host", "expected a string, got an integer", "5,", ""},
	}},
	{"route path prefixes", `servers: [http://a]
routes:
  - {pathPrefix: v1, pool: default}
  - {pathPrefix: "/v1?x", pool: default}
  - {pathPrefix: "/a b", pool: default}
`, []wantProblem{
		{"routes[0].pathPrefix", `must start with "/"`, "v1,", `v1",`},
		{"routes[1].pathPrefix", "must be a path without a query or fragment", "/v1?x", ""},
		{"routes[2].pathPrefix", "must not contain spaces or control characters", "/a b", ""},
	}},
	{"identical routes", `pools:
  api: {servers: [http://a]}
  web: {servers: [http://b]}
routes:
  - {host: A.example, pathPrefix: /v1, pool: api}
  - {host: a.example, pathPrefix: /v1, pool: web}
`, []wantProblem{{"routes[1]", "unreachable: routes[0] comes first and matches every request this route matches", "{host: a.example", `{"host": "a.example"`}}},
	{"route behind a catch-all", `pools:
  api: {servers: [http://a]}
  web: {servers: [http://b]}
routes:
  - {pool: web}
  - {host: api.example, pathPrefix: /v1, pool: api}
`, []wantProblem{{"routes[1]", "unreachable: routes[0] comes first", "{host: api", `{"host": "api`}}},
	{"route behind a shorter prefix", `pools:
  api: {servers: [http://a]}
  web: {servers: [http://b]}
routes:
  - {pathPrefix: /v1, pool: web}
  - {host: api.example, pathPrefix: /v1/users, pool: api}
  - {pathPrefix: /, pool: api}
  - {pathPrefix: /v2, pool: api}
`, []wantProblem{
		{"routes[1]", "unreachable: routes[0] comes first", "{host: api", `{"host": "api`},
		{"routes[3]", "unreachable: routes[2] comes first", "{pathPrefix: /v2", `{"pathPrefix": "/v2"`},
	}},
	{"shorthand catch-all behind a catch-all route", `servers: [http://a]
pools:
  api: {servers: [http://b]}
routes:
  - {pathPrefix: /, pool: api}
`, []wantProblem{{"servers", `the catch-all route to the pool "default" is unreachable: routes[0] already matches every request`, "servers", ""}}},

	// Several problems at once, in file order.
	{"several problems", `lisen: 8080
pools:
  api:
    algorithm: roundrobin
    servers:
      - http://10.0.0.1:8080
      - url: http://10.0.0.2:8080
        weight: -3
    healthCheck:
      intreval: 2s
routes:
  - pool: apii
`, []wantProblem{
		{"lisen", `did you mean "listen"?`, "lisen", ""},
		{"pools.api.algorithm", `did you mean "round_robin"?`, "roundrobin", ""},
		{"pools.api.servers[1].weight", "must not be negative", "-3", ""},
		{"pools.api.healthCheck.intreval", `did you mean "interval"?`, "intreval", ""},
		{"routes[0].pool", `no pool named "apii"; did you mean "api"?`, "apii", ""},
	}},
}

// TestDecodeProblems checks every problem case in YAML and in JSON: the
// exact paths, the messages and where each problem is reported.
func TestDecodeProblems(t *testing.T) {
	for _, tc := range problemCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("yaml", func(t *testing.T) {
				checkProblems(t, "config.yaml", tc.yaml, tc.want)
			})
			t.Run("json", func(t *testing.T) {
				checkProblems(t, "config.json", yamlToJSON(t, tc.yaml), tc.want)
			})
		})
	}
}
