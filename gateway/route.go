package gateway

import (
	"bytes"
	"strconv"

	"github.com/gatewayhq/gateway/gateway/config"
)

// routeRequest is what route matching reads of a request, whatever
// protocol brought it: the Host (with any port), the path as matched
// (normalised), the method, and a way to read the request's headers.
type routeRequest struct {
	host, path, method []byte
	header             headerReader
}

// headerReader reads a request header's first value by name, matched
// case-insensitively; [fasthttp.RequestHeader] is one.
type headerReader interface {
	Peek(name string) []byte
}

// headerCond is a route's header condition: the header name must have
// exactly value.
type headerCond struct {
	name  string
	value []byte
}

// route is a compiled [config.RouteConfig]: what it matches and what it
// does with a request that matches.
type route struct {
	// label names the route in metrics, logs and /status: its name, or
	// routes[i].
	label string
	cfg   *config.RouteConfig

	prefix  []byte // empty matches any path
	path    []byte // an exact path instead of a prefix
	exact   bool
	methods [][]byte // empty matches any method
	headers []headerCond

	// rewrite replaces prefix in the forwarded path when hasRewrite.
	rewrite    []byte
	hasRewrite bool
	request    headerRules
	response   headerRules

	// The action: one pool, a split over pools, or a redirect.
	pool     *pool
	split    *split
	redirect *redirect

	limiter *rateLimiter // nil without rateLimit
	stats   *routeStats  // set by the metrics before the route is published
}

// matches reports whether r matches req, its host aside, which the
// [routeTable]'s index has matched already.
func (r *route) matches(req *routeRequest) bool {
	if r.exact {
		if !bytes.Equal(req.path, r.path) {
			return false
		}
	} else if !bytes.HasPrefix(req.path, r.prefix) {
		return false
	}
	if len(r.methods) > 0 {
		found := false
		for _, m := range r.methods {
			if bytes.Equal(m, req.method) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for i := range r.headers {
		c := &r.headers[i]
		if !bytes.Equal(req.header.Peek(c.name), c.value) {
			return false
		}
	}
	return true
}

// maxRouteHost bounds the hosts a route can name: a host name of 253
// bytes, or a bracketed IPv6 literal, which is shorter. A longer Host
// matches no exact host, only wildcards and the routes for any host.
const maxRouteHost = 256

// routeTable holds a generation's routes in match order, and an index
// that finds, for a request's host (and for the routes without one, its
// path's first segment), the routes that can match it without looking at
// the others. The index only narrows the candidates: the
// route that matches with the lowest position wins, as a scan of every
// route in order would find.
type routeTable struct {
	routes []route
	// exact lists by host the routes naming that host, wild by suffix
	// (".example.com" for "*.example.com") the routes with that
	// wildcard, and anyHost the routes without a host; each list in
	// route order.
	exact map[string][]int32
	wild  map[string][]int32
	// The routes without a host: bySegment lists by first path segment
	// ("/api" for "/api/v1/" or the path "/api") those whose path or
	// prefix names a whole first segment, and anyHost the others.
	bySegment map[string][]int32
	anyHost   []int32
}

// match returns the first route that matches req, or nil. It allocates
// nothing.
func (t *routeTable) match(req *routeRequest) *route {
	best := int32(len(t.routes))
	host := routingHost(req.host)
	if len(t.exact) > 0 || len(t.wild) > 0 {
		// Lowercase the host, or of a longer one the end that a
		// wildcard's suffix can match, on the stack.
		off := max(0, len(host)-maxRouteHost)
		var buf [maxRouteHost]byte
		lower := buf[:len(host)-off]
		for i, c := range host[off:] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		if off == 0 {
			if ids, ok := t.exact[string(lower)]; ok {
				best = t.first(ids, best, req)
			}
		}
		if len(t.wild) > 0 {
			// Every suffix that starts at a dot, with a label before it.
			for i := range lower {
				if lower[i] != '.' || off+i == 0 {
					continue
				}
				if ids, ok := t.wild[string(lower[i:])]; ok {
					best = t.first(ids, best, req)
				}
			}
		}
	}
	if len(t.bySegment) > 0 {
		if ids, ok := t.bySegment[string(firstSegment(req.path))]; ok {
			best = t.first(ids, best, req)
		}
	}
	best = t.first(t.anyHost, best, req)
	if int(best) == len(t.routes) {
		return nil
	}
	return &t.routes[best]
}

// first returns the position of the first route of ids, which are in
// route order, that comes before best and matches req, or best.
func (t *routeTable) first(ids []int32, best int32, req *routeRequest) int32 {
	for _, i := range ids {
		if i >= best {
			break
		}
		if t.routes[i].matches(req) {
			return i
		}
	}
	return best
}

// compileRoutes compiles cfg's routes, with pools from poolNamed, into a
// table. Route state that outlives a generation, a split's rotation and
// a rate limit's buckets, is taken over from prev, the running
// generation's table, where the route keeps its label and its settings
// (see [split.continueFrom] and [rateLimiter.keeps]).
func compileRoutes(cfgs []config.RouteConfig, poolNamed func(string) *pool, prev *routeTable) *routeTable {
	t := &routeTable{
		routes:    make([]route, len(cfgs)),
		exact:     make(map[string][]int32),
		wild:      make(map[string][]int32),
		bySegment: make(map[string][]int32),
	}
	var before map[string]*route
	if prev != nil {
		before = make(map[string]*route, len(prev.routes))
		for i := range prev.routes {
			before[prev.routes[i].label] = &prev.routes[i]
		}
	}
	for i := range cfgs {
		rc := &cfgs[i]
		r := &t.routes[i]
		r.cfg = rc
		r.label = rc.Name
		if r.label == "" {
			r.label = "routes[" + strconv.Itoa(i) + "]"
		}
		r.prefix = []byte(rc.PathPrefix)
		if rc.Path != "" {
			r.path, r.exact = []byte(rc.Path), true
		}
		for _, m := range rc.Methods {
			r.methods = append(r.methods, []byte(m))
		}
		for _, h := range rc.Headers {
			r.headers = append(r.headers, headerCond{name: h.Name, value: []byte(h.Value)})
		}
		if rc.RewritePrefix != "" {
			r.rewrite, r.hasRewrite = []byte(rc.RewritePrefix), true
		}
		r.request = compileHeaderRules(rc.RequestHeaders)
		r.response = compileHeaderRules(rc.ResponseHeaders)
		old := before[r.label]
		switch {
		case rc.Redirect != nil:
			r.redirect = newRedirect(rc.Redirect, r.prefix)
		case len(rc.Pools) > 0:
			r.split = newSplit(rc.Pools, rc.Sticky, poolNamed)
			if old != nil && old.split != nil {
				r.split.continueFrom(old.split)
			}
		default:
			r.pool = poolNamed(rc.Pool)
		}
		if rc.RateLimit.RequestsPerSecond > 0 {
			if old != nil && old.limiter.keeps(rc.RateLimit) {
				r.limiter = old.limiter
			} else {
				r.limiter = newRateLimiter(rc.RateLimit)
			}
		}
		id := int32(i)
		if len(rc.Hosts) == 0 {
			if seg, ok := routeSegment(rc); ok {
				t.bySegment[seg] = append(t.bySegment[seg], id)
			} else {
				t.anyHost = append(t.anyHost, id)
			}
		}
		for _, h := range rc.Hosts {
			if suffix, ok := cutWildcard(h); ok {
				t.wild[suffix] = append(t.wild[suffix], id)
			} else {
				t.exact[h] = append(t.exact[h], id)
			}
		}
	}
	return t
}

// firstSegment returns the first segment of a path, with its leading
// slash: "/api" for "/api/v1" and for "/api".
func firstSegment(path []byte) []byte {
	if len(path) == 0 {
		return path
	}
	if i := bytes.IndexByte(path[1:], '/'); i >= 0 {
		return path[:i+1]
	}
	return path
}

// routeSegment returns the first path segment that every path rc matches
// starts with, whole, and whether there is one: the first segment of an
// exact path, or of a prefix that goes on past it ("/api" for "/api/"; a
// prefix "/api" also matches "/apis", and so has none).
func routeSegment(rc *config.RouteConfig) (string, bool) {
	if rc.Path != "" {
		return string(firstSegment([]byte(rc.Path))), true
	}
	seg := firstSegment([]byte(rc.PathPrefix))
	if len(seg) > 0 && len(seg) < len(rc.PathPrefix) {
		return string(seg), true
	}
	return "", false
}

// cutWildcard returns the suffix a wildcard host matches (".example.com"
// for "*.example.com"), and whether h is a wildcard.
func cutWildcard(h string) (string, bool) {
	if len(h) > 2 && h[0] == '*' && h[1] == '.' {
		return h[1:], true
	}
	return "", false
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
