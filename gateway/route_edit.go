package gateway

import (
	"bytes"
	"strconv"

	"github.com/gatewayhq/gateway/gateway/config"
)

// headerRules is a compiled [config.HeaderRules].
type headerRules struct {
	set, add []config.HeaderField
	remove   []string
}

// compileHeaderRules compiles c.
func compileHeaderRules(c config.HeaderRules) headerRules {
	return headerRules{set: c.Set, add: c.Add, remove: c.Remove}
}

// headerEditor changes a request's or response's header by name, names
// matched case-insensitively; [fasthttp.RequestHeader] and
// [fasthttp.ResponseHeader] are ones.
type headerEditor interface {
	Del(name string)
	Set(name, value string)
	Add(name, value string)
}

// apply edits h: each header of remove goes, each of set gets its value
// in place of any other, and each of add gets its value added. Nothing
// else of h changes.
func (r *headerRules) apply(h headerEditor) {
	for _, name := range r.remove {
		h.Del(name)
	}
	for _, f := range r.set {
		h.Set(f.Name, f.Value)
	}
	for _, f := range r.add {
		h.Add(f.Name, f.Value)
	}
}

// empty reports whether the rules change nothing.
func (r *headerRules) empty() bool {
	return len(r.set) == 0 && len(r.add) == 0 && len(r.remove) == 0
}

// replacePrefix appends to dst the origin-form target with prefix, which
// its path starts with, replaced by with; the rest of the path and the
// query pass byte for byte. ok is false, and dst unchanged, when the
// path does not start with prefix.
func replacePrefix(dst, target, prefix, with []byte) (out []byte, ok bool) {
	if !bytes.HasPrefix(target, prefix) {
		return dst, false
	}
	return append(append(dst, with...), target[len(prefix):]...), true
}

// rewritePrefix appends to dst the target with the route's prefix
// replaced by with. target is the origin-form target as sent, normalized
// the target with its path normalised (see [plainPath]), as routes
// matched it. The target as sent is used, byte for byte, when its path
// is plain and starts with prefix; otherwise the normalised one is, as
// nginx does: a path as sent such as "/v2/../v2/x" or "/v2/%2e%2e/x"
// must not reach the backend as "/new/../v2/x", outside the rewritten
// prefix. normalized is called only then. ok is false when neither
// starts with prefix.
func rewritePrefix(dst, target []byte, normalized func() []byte, prefix, with []byte) ([]byte, bool) {
	if plainPath(target) {
		if out, ok := replacePrefix(dst, target, prefix, with); ok {
			return out, true
		}
	}
	return replacePrefix(dst, normalized(), prefix, with)
}

// plainPath reports whether the path of an origin-form target is what
// normalising it would leave: no empty segment ("//"), no dot segment,
// and no dot, slash or backslash percent-encoded.
func plainPath(target []byte) bool {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	for i := 0; i < len(target); i++ {
		switch target[i] {
		case '/':
			rest := target[i+1:]
			if len(rest) > 0 && rest[0] == '/' ||
				len(rest) > 0 && rest[0] == '.' && (len(rest) == 1 || rest[1] == '/' || rest[1] == '.' && (len(rest) == 2 || rest[2] == '/')) {
				return false
			}
		case '%':
			if i+2 < len(target) && target[i+1] == '2' && (target[i+2]|0x20 == 'e' || target[i+2]|0x20 == 'f') ||
				i+2 < len(target) && target[i+1] == '5' && target[i+2]|0x20 == 'c' {
				return false
			}
		case '\\':
			return false
		}
	}
	return true
}

// redirect is a compiled [config.RedirectConfig]: each part empty is the
// request's own.
type redirect struct {
	code   int
	scheme string
	host   string
	port   string
	// prefix replaces the route's routePrefix when hasPrefix.
	prefix, routePrefix []byte
	hasPrefix           bool
}

// newRedirect compiles c for a route matching routePrefix.
func newRedirect(c *config.RedirectConfig, routePrefix []byte) *redirect {
	r := &redirect{code: c.Code, scheme: c.Scheme, host: c.Host, routePrefix: routePrefix}
	if c.Port > 0 {
		r.port = strconv.Itoa(c.Port)
	}
	if c.Prefix != "" {
		r.prefix, r.hasPrefix = []byte(c.Prefix), true
	}
	return r
}

// location appends to dst the URL a request is redirected to. tls says
// whether the request came over TLS, host is its Host header, target
// its origin-form target as sent, and normalized returns the target with
// its path normalised, for a prefix replaced as [rewritePrefix] does.
// The scheme, host and
// port not set are the request's own; the port is dropped, though, when
// the scheme changes, or when it is the new scheme's default port. The
// query is kept.
func (r *redirect) location(dst []byte, tls bool, host, target []byte, normalized func() []byte) []byte {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	reqHost, reqPort := splitHostPort(host)
	port := string(reqPort)
	if r.scheme != "" && r.scheme != scheme {
		scheme, port = r.scheme, ""
	}
	if r.port != "" {
		port = r.port
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	dst = append(append(dst, scheme...), "://"...)
	if r.host != "" {
		dst = append(dst, r.host...)
	} else {
		dst = append(dst, reqHost...)
	}
	if port != "" {
		dst = append(append(dst, ':'), port...)
	}
	if !r.hasPrefix {
		return append(dst, target...)
	}
	if out, ok := rewritePrefix(dst, target, normalized, r.routePrefix, r.prefix); ok {
		return out
	}
	return append(dst, target...)
}

// splitHostPort splits a Host header into its host and its port, which
// is empty when there is none.
func splitHostPort(host []byte) (h, port []byte) {
	h = stripPort(host)
	if len(h) < len(host) {
		port = host[len(h)+1:]
	}
	return h, port
}
