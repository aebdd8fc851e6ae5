package gateway

import "bytes"

// route is a compiled [config.RouteConfig].
type route struct {
	host   []byte // lowercase; empty matches any host
	prefix []byte // empty matches any path
	pool   *pool
}

// match returns the pool of the first route that matches host (the Host
// header; any port and one trailing dot are ignored) and path, or nil.
func (g *generation) match(host, path []byte) *pool {
	host = routingHost(host)
	for i := range g.routes {
		r := &g.routes[i]
		if len(r.host) > 0 && !asciiEqualFold(r.host, host) {
			continue
		}
		if len(r.prefix) > 0 && !bytes.HasPrefix(path, r.prefix) {
			continue
		}
		return r.pool
	}
	return nil
}

// routingHost returns the part of a Host header that routes match: the
// host without its port and without the trailing dot of a fully qualified
// name ("example.com." is example.com, as in DNS and in nginx's server
// names). The Host itself is forwarded unchanged.
func routingHost(host []byte) []byte {
	host = stripPort(host)
	if n := len(host); n > 1 && host[n-1] == '.' {
		host = host[:n-1]
	}
	return host
}

// stripPort removes a trailing ":port" from a Host header value, minding
// IPv6 literals in brackets.
func stripPort(host []byte) []byte {
	for i := len(host) - 1; i >= 0; i-- {
		switch c := host[i]; {
		case c == ':':
			return host[:i]
		case c == ']':
			return host
		case c < '0' || c > '9':
			return host
		}
	}
	return host
}

// asciiEqualFold reports whether a and b are equal under ASCII case
// folding only: a host never matches a route through Unicode folding (the
// long s of "ſecret" is not an s).
func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
