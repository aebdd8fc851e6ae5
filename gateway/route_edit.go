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
// its origin-form target as sent, and normalized the target with its
// path normalised, used when the path as sent does not start with the
// route's prefix but its normalised form matched. The scheme, host and
// port not set are the request's own; the port is dropped, though, when
// the scheme changes, or when it is the new scheme's default port. The
// query is kept.
func (r *redirect) location(dst []byte, tls bool, host, target, normalized []byte) []byte {
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
	if out, ok := replacePrefix(dst, target, r.routePrefix, r.prefix); ok {
		return out
	}
	if out, ok := replacePrefix(dst, normalized, r.routePrefix, r.prefix); ok {
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
