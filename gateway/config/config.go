package config

import (
	"net/netip"
	"net/url"
	"time"
)

// Config is a decoded and validated gateway configuration. It is produced by
// [Load] or [Decode] and consumed by
// [github.com/gatewayhq/gateway/gateway.Gateway.Apply]; the zero value is not
// useful. Every field holds its default when the file did not set it.
type Config struct {
	// Source is the file the config was read from, for messages.
	Source string
	// Hash is the hex SHA-256 of the bytes the config was decoded from.
	Hash string

	// Listen is the public listener's address (key `listen`, alias `port`).
	Listen string
	// Admin is the admin listener's address (key `admin`); empty means off.
	Admin string
	// AccessLog is where the access log goes (key `accessLog`): empty when
	// off, "-" for standard output (`accessLog: true`), else a file path.
	AccessLog string
	// TrustedProxies lists the peers whose X-Forwarded-For is believed for
	// ip_hash and logs (key `trustedProxies`).
	TrustedProxies []netip.Prefix

	// ClientHeaderTimeout bounds how long a client may take to send a
	// request's header (key `clientHeaderTimeout`, default 10s).
	ClientHeaderTimeout time.Duration
	// ClientIdleTimeout bounds how long an idle keep-alive client connection
	// is kept open (key `clientIdleTimeout`, default 60s).
	ClientIdleTimeout time.Duration
	// MaxHeaderBytes is the largest request header accepted; larger ones are
	// answered with 431 (key `maxHeaderBytes`, default 16384).
	MaxHeaderBytes int
	// MaxBodySize is the largest request body accepted; larger ones are
	// answered with 413 (key `maxBodySize`, default 128 MiB; 0 is no limit).
	MaxBodySize int64
	// MaxConnections caps concurrent client connections (key
	// `maxConnections`, default 0: no cap beyond the server's own, 262144).
	MaxConnections int
	// ShutdownTimeout is how long requests in flight may take to finish
	// after SIGTERM (key `shutdownTimeout`, default 30s).
	ShutdownTimeout time.Duration
	// DNS configures how the names of resolved servers are looked up
	// (key `dns`).
	DNS DNSConfig

	// Pools holds the pools in the order the file declares them.
	Pools []*PoolConfig
	// Routes holds the routes in match order; the first match wins.
	Routes []RouteConfig

	// TLS configures the HTTPS listener (key `tls`); nil when the file
	// has none. With TLS set and neither `listen` nor `port` in the file,
	// Listen is empty: there is no plain listener.
	TLS *TLSConfig

	// keys locates the keys that name files, by key path, for
	// [Config.Problem]; nil when there are none.
	keys map[string]keyAt
}

// Algorithm names a backend selection algorithm.
type Algorithm string

// The selection algorithms a pool may name in `algorithm`.
const (
	RoundRobin         Algorithm = "round_robin"
	WeightedRoundRobin Algorithm = "weighted_round_robin"
	LeastConnections   Algorithm = "least_connections"
	IPHash             Algorithm = "ip_hash"
)

// PoolConfig is one entry of `pools` (or the `default` pool that the
// top-level `servers` shorthand declares).
type PoolConfig struct {
	// Name is the pool's key in `pools`.
	Name string
	// Algorithm selects backends (key `algorithm`, default round_robin).
	Algorithm Algorithm
	// Servers lists the backends in the file's order.
	Servers []ServerConfig
	// HealthCheck configures active probing (key `healthCheck`); fields not
	// set in the pool are taken from the top-level `healthCheck`.
	HealthCheck HealthCheckConfig
	// Passive configures passive ejection (key `passive`); fields not set in
	// the pool are taken from the top-level `passive`.
	Passive PassiveConfig
	// ConnectTimeout bounds dialing a backend, the TLS handshake of an
	// https backend included (key `connectTimeout`, default 2s).
	ConnectTimeout time.Duration
	// ResponseHeaderTimeout is the longest a backend may stay silent (key
	// `responseHeaderTimeout`, default 60s): waiting for its response
	// header, between two reads of its body, and while it takes none of
	// the request body. A request body still arriving from the client
	// does not count as the backend's silence.
	ResponseHeaderTimeout time.Duration
	// IdleTimeout is how long an idle keep-alive connection to a backend is
	// kept (key `idleTimeout`, default 30s).
	IdleTimeout time.Duration
	// TLS is how the pool's https:// servers are spoken to (key `tls`);
	// fields not set in the pool are taken from the top-level
	// `backendTLS`.
	TLS BackendTLSConfig
}

// ServerConfig is one server of a pool: one backend, or, when it is
// resolved, one backend per address of its name.
type ServerConfig struct {
	// URL is the backend's base URL: scheme http or https, a host and an
	// optional port; path, query, fragment and user info are not allowed.
	URL *url.URL
	// Weight is the backend's share for weighted_round_robin (default 1;
	// 0 keeps the backend in the config but sends it no traffic). A
	// resolved server gives it to each of its addresses.
	Weight int
	// Resolve makes every A and AAAA address of the URL's host name a
	// backend of the pool, on the URL's scheme and port, and keeps the
	// set current by looking the name up every [DNSConfig.Refresh] (key
	// `resolve`, default false). The host is then a name, never an IP
	// address, taken as fully qualified ([ServerConfig.Name]).
	Resolve bool
}

// DNSConfig configures the lookups of resolved servers' names (key
// `dns`).
type DNSConfig struct {
	// Resolvers lists the DNS servers asked, as "IP:port", in order: the
	// next one is asked when one fails (key `resolvers`; an address
	// written without a port has port 53). Empty means the nameservers
	// of /etc/resolv.conf.
	Resolvers []string
	// Refresh is the time between two lookups of a name, before ±10%
	// jitter (key `refresh`, default 5s).
	Refresh time.Duration
	// Timeout bounds a lookup on one resolver, its A and AAAA queries
	// sent together (key `timeout`, default 2s).
	Timeout time.Duration
}

// HealthCheckConfig configures active health checks.
type HealthCheckConfig struct {
	// Enabled turns active probing on (key `enabled`, default true). With
	// probing off a backend is up unless passive health ejects it.
	Enabled bool
	// Method is the probe's HTTP method (key `method`, default HEAD).
	Method string
	// Path is the probe's request target (key `path`, default "/").
	Path string
	// Host is the probes' Host header, a host and an optional port (key
	// `host`); empty sends the backend's address, as the URL writes it.
	Host string
	// Interval is the time between probes (key `interval`, default 2s;
	// the seed's top-level `healthCheckInterval` sets it too).
	Interval time.Duration
	// Timeout bounds each probe (key `timeout`, default 1s).
	Timeout time.Duration
	// HealthyThreshold is how many consecutive passes mark a down backend up
	// (key `healthyThreshold`, default 2).
	HealthyThreshold int
	// UnhealthyThreshold is how many consecutive failures mark an up backend
	// down (key `unhealthyThreshold`, default 3).
	UnhealthyThreshold int
	// ExpectStatus lists the status ranges that pass (key `expectStatus`,
	// default "200-399").
	ExpectStatus []StatusRange
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct {
	Lo, Hi int
}

// PassiveConfig configures ejection on failed proxied requests.
type PassiveConfig struct {
	// MaxFails is how many failures within Window eject a backend (key
	// `maxFails`, default 3; 0 turns passive health off).
	MaxFails int
	// Window is the sliding window failures are counted in (key `window`,
	// default 10s).
	Window time.Duration
	// EjectFor is how long an ejected backend is kept out (key `ejectFor`,
	// default 10s).
	EjectFor time.Duration
	// On5xx counts 5xx answers as failures too (key `on5xx`, default false).
	On5xx bool
}

// RouteConfig is one entry of `routes`: what requests it matches (every
// matcher set must match) and what it does with them, which is exactly one
// of sending them to Pool, splitting them over Pools, or answering with
// Redirect.
type RouteConfig struct {
	// Name names the route in logs, metrics and /status (key `name`,
	// optional, unique); a route without one is called routes[i].
	Name string

	// Hosts lists the hosts the route matches (key `host`, a string or a
	// list), lowercase and without a trailing dot: a name matches the
	// request's host exactly, case-insensitively, with any port ignored;
	// "*.example.com" matches every name ending in ".example.com". Empty
	// matches every host.
	Hosts []string
	// PathPrefix matches when the request path starts with it (key
	// `pathPrefix`); empty matches every path.
	PathPrefix string
	// Path matches the request path exactly (key `path`), instead of a
	// prefix.
	Path string
	// Methods lists the request methods the route matches (key
	// `methods`); empty matches every method.
	Methods []string
	// Headers lists request headers that must each be present with
	// exactly the value given (key `headers`); names are matched
	// case-insensitively.
	Headers []HeaderField

	// RewritePrefix replaces PathPrefix at the start of the path that
	// goes to the backend (key `rewritePrefix`); empty leaves the path
	// alone.
	RewritePrefix string
	// RequestHeaders edits the request before it is forwarded (key
	// `requestHeaders`).
	RequestHeaders HeaderRules
	// ResponseHeaders edits the backend's answer (key `responseHeaders`).
	ResponseHeaders HeaderRules

	// Pool names the pool the route sends to (key `pool`).
	Pool string
	// Pools splits the route's requests over several pools by weight
	// (key `pools`), instead of Pool.
	Pools []PoolWeight
	// Sticky keeps each client address on one side of the split while
	// the weights stay the same (key `sticky`).
	Sticky bool
	// Redirect makes the gateway answer with a redirect (key `redirect`),
	// instead of sending to a pool.
	Redirect *RedirectConfig

	// RateLimit limits each client address's requests (key `rateLimit`);
	// a zero RequestsPerSecond means no limit.
	RateLimit RateLimitConfig
}

// HeaderField is a header name and a value.
type HeaderField struct {
	Name, Value string
}

// HeaderRules edits a request's or response's header: Remove deletes each
// header named, Set replaces each named header's values with one, and Add
// adds a value, in that order.
type HeaderRules struct {
	Set    []HeaderField
	Add    []HeaderField
	Remove []string
}

// PoolWeight is one pool of a split and its weight.
type PoolWeight struct {
	Pool   string
	Weight int
}

// RedirectConfig is how a route answers with a redirect. Each part left
// empty (or 0) is the request's own.
type RedirectConfig struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is the host of the new location, without a port.
	Host string
	// Port is the port of the new location.
	Port int
	// Prefix replaces the route's PathPrefix at the start of the path.
	Prefix string
	// Code is 301, 302, 303, 307 or 308 (default 308).
	Code int
}

// RateLimitConfig is a token bucket for each client address: Burst
// requests at once, refilled at RequestsPerSecond.
type RateLimitConfig struct {
	RequestsPerSecond float64
	// Burst is the bucket's size (default: RequestsPerSecond rounded up).
	Burst int
}
