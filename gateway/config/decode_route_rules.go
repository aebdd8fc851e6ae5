package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds of a route's `rateLimit`.
const (
	minRequestsPerSecond = 0.001
	maxRequestsPerSecond = 1_000_000
	maxBurst             = 1_000_000
)

// redirectCodes are the status codes a `redirect` may answer with.
var redirectCodes = []int{301, 302, 303, 307, 308}

// methods decodes `methods`: a method or a list of them.
func (d *decoder) methods(n *yaml.Node, path string) ([]string, bool) {
	items, paths, ok := d.oneOrList(n, path, "empty; list at least one method, or leave methods out to match every method")
	var out []string
	for i, item := range items {
		m, isStr := d.str(item, paths[i])
		switch {
		case !isStr:
			ok = false
		case !isToken(m):
			d.addf(item, paths[i], "invalid method; a method is a word such as GET")
			ok = false
		case strings.ToUpper(m) != m:
			d.addf(item, paths[i], "methods are case-sensitive; write %s", strings.ToUpper(m))
			ok = false
		case slices.Contains(out, m):
			d.addf(item, paths[i], "listed twice")
			ok = false
		default:
			out = append(out, m)
		}
	}
	return out, ok
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2),
// as header names and methods are.
func isToken(s string) bool {
	return s != "" && hasOnlyNameChars(s, "!#$%&'*+-.^_`|~")
}

// headerFields decodes a mapping of header names to values, in file
// order; a name may appear once, whatever its case. check, when set,
// returns what is wrong with a name in this place, or "".
func (d *decoder) headerFields(n *yaml.Node, path string, check func(string) string) ([]HeaderField, bool) {
	es, ok := d.entries(n, path, "a mapping of header names to values")
	if !ok {
		return nil, false
	}
	var out []HeaderField
	for _, e := range es {
		p := keyPath(path, e.key)
		name, nameOK := d.headerName(e, p, out, check)
		value, valueOK := d.headerValue(e.value, p)
		if !nameOK || !valueOK {
			ok = false
			continue
		}
		out = append(out, HeaderField{Name: name, Value: value})
	}
	return out, ok
}

// headerName checks the header name of e, which must not be one of
// earlier; check is as for [decoder.headerFields].
func (d *decoder) headerName(e mapEntry, path string, earlier []HeaderField, check func(string) string) (string, bool) {
	msg := ""
	switch {
	case !isToken(e.key):
		msg = "invalid header name; use letters, digits and -"
	case check != nil:
		msg = check(e.key)
	}
	if msg == "" {
		for _, h := range earlier {
			if strings.EqualFold(h.Name, e.key) {
				msg = fmt.Sprintf("the same header as %s; names are case-insensitive", h.Name)
			}
		}
	}
	if msg != "" {
		d.add(e.at, path, "", msg)
		return "", false
	}
	return e.key, true
}

// headerValue decodes a header value: a string or an integer, not empty,
// without control characters or white space at either end.
func (d *decoder) headerValue(n *yaml.Node, path string) (string, bool) {
	const expected = "a header value"
	v := d.scalar(n, path, expected)
	if v == nil {
		return "", false
	}
	if v.ShortTag() != tagStr && v.ShortTag() != tagInt {
		d.typeError(n, v, path, expected)
		return "", false
	}
	s := v.Value
	switch {
	case s == "":
		d.addf(n, path, "empty; a header needs a value")
	case strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }):
		d.addf(n, path, "must not contain control characters such as line breaks")
	case strings.TrimSpace(s) != s:
		d.addf(n, path, "must not begin or end with white space")
	default:
		return s, true
	}
	return "", false
}

// headerRules decodes `requestHeaders` (request true) or
// `responseHeaders`: `set`, `add` and `remove`, each header named in one
// of them at most.
func (d *decoder) headerRules(n *yaml.Node, path string, request bool) (HeaderRules, bool) {
	var r HeaderRules
	f, ok := d.fields(n, path, "a mapping with set, add and remove", "set", "add", "remove")
	if !ok {
		return r, false
	}
	named := map[string]string{} // folded name: where it is named
	once := func(name, p string) string {
		key := strings.ToLower(name)
		if first, dup := named[key]; dup {
			return "named in " + first + " already; a header may have one rule"
		}
		named[key] = p
		return ""
	}
	for _, key := range []string{"set", "add", "remove"} {
		e, found := f[key]
		if !found {
			continue
		}
		p := keyPath(path, e.key)
		check := func(name string) string {
			if msg := ruleHeaderProblem(name, key, request); msg != "" {
				return msg
			}
			return once(name, p)
		}
		if key == "remove" {
			var removeOK bool
			r.Remove, removeOK = d.headerNames(e.value, p, check)
			ok = removeOK && ok
			continue
		}
		fields, fieldsOK := d.headerFields(e.value, p, check)
		ok = fieldsOK && ok
		if key == "set" {
			r.Set = fields
		} else {
			r.Add = fields
		}
	}
	return r, ok
}

// headerNames decodes `remove`: a list of header names.
func (d *decoder) headerNames(n *yaml.Node, path string, check func(string) string) ([]string, bool) {
	list := d.sequence(n, path, "a list of header names")
	if list == nil {
		return nil, false
	}
	var out []string
	ok := true
	for i, item := range list.Content {
		p := itemPath(path, i)
		s, isStr := d.str(item, p)
		if !isStr {
			ok = false
			continue
		}
		msg := ""
		if !isToken(s) {
			msg = "invalid header name; use letters, digits and -"
		} else {
			msg = check(s)
		}
		if msg != "" {
			d.addf(item, p, "%s", msg)
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// ruleHeaderProblem returns why a header rule may not name the header
// name, or "": the gateway decides the hop-by-hop headers, the framing
// and the X-Forwarded headers whatever a rule says, and a request has one
// Host, which only `set` may change.
func ruleHeaderProblem(name, op string, request bool) string {
	switch strings.ToLower(name) {
	case "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
		"te", "transfer-encoding", "upgrade":
		return name + " is hop-by-hop: the gateway removes it before forwarding, and a rule may not name it"
	case "trailer":
		return name + " announces the trailer fields the body carries: the gateway passes it as it was sent, and a rule may not name it"
	case "content-length":
		return "Content-Length frames the body: the gateway sets it, and a rule may not name it"
	case "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host":
		return name + " is set by the gateway (kept from trustedProxies only), and a rule may not name it"
	case "host":
		if request && op != "set" {
			return "a request has one Host: change it with requestHeaders.set"
		}
	}
	return ""
}

// rateLimit decodes `rateLimit`.
func (d *decoder) rateLimit(n *yaml.Node, path string) (RateLimitConfig, bool) {
	var r RateLimitConfig
	f, ok := d.fields(n, path, "a mapping with requestsPerSecond and burst", "requestsPerSecond", "burst")
	if !ok {
		return r, false
	}
	e, found := f["requestsPerSecond"]
	if !found {
		d.add(n, keyPath(path, "requestsPerSecond"), "", "missing; a rate limit needs a rate")
		ok = false
	} else if r.RequestsPerSecond, found = d.rate(e.value, keyPath(path, e.key)); !found {
		ok = false
	}
	r.Burst = int(math.Ceil(r.RequestsPerSecond))
	ok = d.setInt(f, path, "burst", &r.Burst, 1, maxBurst) && ok
	return r, ok
}

// rate decodes a number of requests a second, from
// [minRequestsPerSecond] to [maxRequestsPerSecond].
func (d *decoder) rate(n *yaml.Node, path string) (float64, bool) {
	const expected = "a number of requests a second"
	v := d.scalar(n, path, expected)
	if v == nil {
		return 0, false
	}
	if v.ShortTag() != tagInt && v.ShortTag() != tagFloat {
		d.typeError(n, v, path, expected)
		return 0, false
	}
	x, err := strconv.ParseFloat(strings.ReplaceAll(v.Value, "_", ""), 64)
	switch {
	case err != nil || math.IsNaN(x) || math.IsInf(x, 0):
		d.addf(n, path, "invalid number")
	case x < minRequestsPerSecond:
		d.addf(n, path, "must be at least %g (one request in %g seconds)", minRequestsPerSecond, 1/minRequestsPerSecond)
	case x > maxRequestsPerSecond:
		d.addf(n, path, "must be at most %d", maxRequestsPerSecond)
	default:
		return x, true
	}
	return 0, false
}

// redirect decodes `redirect`; route holds the route's keys, for
// `prefix`, which replaces its `pathPrefix`.
func (d *decoder) redirect(n *yaml.Node, path string, route map[string]mapEntry) (*RedirectConfig, bool) {
	r := &RedirectConfig{Code: 308}
	f, ok := d.fields(n, path, "a mapping with scheme, host, port, prefix and code", "scheme", "host", "port", "prefix", "code")
	if !ok {
		return nil, false
	}
	ok = d.setChecked(f, path, "scheme", &r.Scheme, func(s string) string {
		if s != "http" && s != "https" {
			return "the scheme must be http or https"
		}
		return ""
	})
	ok = d.setChecked(f, path, "host", &r.Host, func(s string) string {
		if s == "" {
			return "empty; leave host out to keep the request's own"
		}
		return checkHostName(s)
	}) && ok
	r.Host = strings.ToLower(r.Host)
	ok = d.setInt(f, path, "port", &r.Port, 1, 65535) && ok
	ok = d.setChecked(f, path, "prefix", &r.Prefix, checkPathPrefix) && ok
	if e, found := f["prefix"]; found {
		if _, prefix := route["pathPrefix"]; !prefix {
			d.add(e.at, keyPath(path, e.key), "", "prefix needs the route's pathPrefix: it replaces the matched prefix")
			ok = false
		}
	}
	if e, found := f["code"]; found {
		p := keyPath(path, e.key)
		if c, isInt := d.integer(e.value, p, 0, 999); isInt && !slices.Contains(redirectCodes, int(c)) {
			d.addf(e.value, p, "a redirect's code is 301, 302, 303, 307 or 308")
			ok = false
		} else if !isInt {
			ok = false
		} else {
			r.Code = int(c)
		}
	}
	if len(f) == 0 || len(f) == 1 && f["code"].key != "" {
		d.add(n, path, "", "redirects to the request's own URL; set scheme, host, port or prefix")
		ok = false
	}
	return r, ok
}
