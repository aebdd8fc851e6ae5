package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxPathPrefix bounds the length of a route's `pathPrefix`, `path`,
// `rewritePrefix` and `redirect.prefix`.
const maxPathPrefix = 1024

// routeKeys are the keys of a route.
var routeKeys = []string{"name", "host", "pathPrefix", "path", "methods", "headers",
	"rewritePrefix", "requestHeaders", "responseHeaders",
	"pool", "pools", "sticky", "redirect", "rateLimit"}

// placedRoute is a decoded route with where it came from, for problems.
type placedRoute struct {
	RouteConfig
	at   *yaml.Node
	path string
}

// routes decodes `routes` and adds the routes the file implies: a
// catch-all to the pool of the top-level `servers`, after the others
// unless one of them already is that, or to the only pool when there are
// no routes.
func (d *decoder) routes(f map[string]mapEntry, pools poolSet) []RouteConfig {
	var placed []placedRoute
	listed := false
	if e, ok := f["routes"]; ok {
		list := d.follow(e.value)
		switch {
		case list == nil:
		case list.Kind != yaml.SequenceNode:
			d.typeError(e.value, list, e.key, "a list of routes")
		default:
			listed = len(list.Content) > 0
			named := map[string]string{}
			for i, item := range list.Content {
				path := itemPath(e.key, i)
				r, ok := d.route(item, path, pools.names)
				if r.Name != "" {
					if first, dup := named[r.Name]; dup {
						d.add(item, keyPath(path, "name"), r.Name, "the same name as "+first+"; route names must be unique")
						ok = false
					} else {
						named[r.Name] = path
					}
				}
				if ok {
					placed = append(placed, placedRoute{r, item, path})
				}
			}
		}
	}
	switch {
	case listed && pools.shorthand != nil && !hasCatchAll(placed, pools.shorthand.Name):
		placed = append(placed, placedRoute{RouteConfig{Pool: pools.shorthand.Name}, pools.shorthandAt, "servers"})
	case !listed && len(pools.list) == 1:
		placed = append(placed, placedRoute{RouteConfig{Pool: pools.list[0].Name}, nil, ""})
	case !listed && len(pools.list) > 1:
		at := f["pools"].at
		d.add(at, "routes", "", fmt.Sprintf("missing; with several pools (%s) routes must say which requests go to which", strings.Join(pools.names, ", ")))
	}
	d.reportShadowed(placed)
	routes := make([]RouteConfig, len(placed))
	for i, p := range placed {
		routes[i] = p.RouteConfig
	}
	return routes
}

// hasCatchAll reports whether routes hold a route that sends every
// request to pool, making another such route needless.
func hasCatchAll(routes []placedRoute, pool string) bool {
	all := RouteConfig{}
	for _, r := range routes {
		if covers(&r.RouteConfig, &all) {
			return r.Pool == pool
		}
	}
	return false
}

// route decodes one entry of `routes`; names lists the pools it may name.
// It reports false when the route holds a problem.
func (d *decoder) route(n *yaml.Node, path string, names []string) (RouteConfig, bool) {
	var r RouteConfig
	f, ok := d.fields(n, path, "a mapping with host, pathPrefix and pool", routeKeys...)
	if !ok {
		return r, false
	}
	ok = d.setChecked(f, path, "name", &r.Name, checkRouteName)
	if e, found := f["host"]; found {
		var hostsOK bool
		r.Hosts, hostsOK = d.routeHosts(e.value, keyPath(path, e.key))
		ok = hostsOK && ok
	}
	ok = d.setChecked(f, path, "pathPrefix", &r.PathPrefix, checkPathPrefix) && ok
	ok = d.setChecked(f, path, "path", &r.Path, checkPathPrefix) && ok
	if e, found := f["path"]; found {
		if p, both := f["pathPrefix"]; both {
			d.add(e.at, keyPath(path, e.key), "", fmt.Sprintf("set either path or pathPrefix (line %d), not both", p.at.Line))
			ok = false
		}
	}
	if e, found := f["methods"]; found {
		var methodsOK bool
		r.Methods, methodsOK = d.methods(e.value, keyPath(path, e.key))
		ok = methodsOK && ok
	}
	if e, found := f["headers"]; found {
		var headersOK bool
		r.Headers, headersOK = d.headerFields(e.value, keyPath(path, e.key), nil)
		ok = headersOK && ok
	}
	ok = d.routeEdits(f, path, &r) && ok
	ok = d.routeAction(n, f, path, names, &r) && ok
	if e, found := f["rateLimit"]; found {
		p := keyPath(path, e.key)
		if r.RateLimit, found = d.rateLimit(e.value, p); !found {
			ok = false
		} else if r.Name == "" {
			if _, named := f["name"]; !named {
				d.add(e.at, p, "", "a route with rateLimit needs a name: its clients' buckets are kept by the name across reloads")
				ok = false
			}
		}
	}
	return r, ok
}

// routeEdits decodes what a route changes in what it forwards:
// `rewritePrefix`, `requestHeaders` and `responseHeaders`.
func (d *decoder) routeEdits(f map[string]mapEntry, path string, r *RouteConfig) bool {
	ok := d.setChecked(f, path, "rewritePrefix", &r.RewritePrefix, checkPathPrefix)
	if e, found := f["rewritePrefix"]; found {
		if _, prefix := f["pathPrefix"]; !prefix {
			d.add(e.at, keyPath(path, e.key), "", "rewritePrefix needs pathPrefix: it replaces the matched prefix")
			ok = false
		}
	}
	if e, found := f["requestHeaders"]; found {
		var rulesOK bool
		r.RequestHeaders, rulesOK = d.headerRules(e.value, keyPath(path, e.key), true)
		ok = rulesOK && ok
	}
	if e, found := f["responseHeaders"]; found {
		var rulesOK bool
		r.ResponseHeaders, rulesOK = d.headerRules(e.value, keyPath(path, e.key), false)
		ok = rulesOK && ok
	}
	if _, redirect := f["redirect"]; redirect {
		for _, key := range []string{"rewritePrefix", "requestHeaders", "responseHeaders", "sticky"} {
			if e, found := f[key]; found {
				d.add(e.at, keyPath(path, e.key), "", key+" does not apply to a redirect, which the gateway answers itself")
				ok = false
			}
		}
	}
	return ok
}

// routeAction decodes what a route does: exactly one of `pool`, `pools`
// and `redirect`, with `sticky` for a split.
func (d *decoder) routeAction(n *yaml.Node, f map[string]mapEntry, path string, names []string, r *RouteConfig) bool {
	var set []mapEntry
	for _, key := range []string{"pool", "pools", "redirect"} {
		if e, ok := f[key]; ok {
			set = append(set, e)
		}
	}
	switch {
	case len(set) == 0:
		d.add(n, keyPath(path, "pool"), "", "missing; a route names the pool it sends to (pool), splits over pools (pools) or redirects (redirect)")
		return false
	case len(set) > 1:
		slices.SortFunc(set, func(a, b mapEntry) int {
			return cmp.Or(cmp.Compare(a.at.Line, b.at.Line), cmp.Compare(a.at.Column, b.at.Column))
		})
		d.add(set[1].at, keyPath(path, set[1].key), "", fmt.Sprintf("set only one of pool, pools and redirect; %s is set at line %d", set[0].key, set[0].at.Line))
		return false
	}
	e := set[0]
	p := keyPath(path, e.key)
	ok := true
	switch e.key {
	case "pool":
		r.Pool, ok = d.poolName(e.value, p, names)
	case "pools":
		r.Pools, ok = d.split(e.value, p, names)
	case "redirect":
		r.Redirect, ok = d.redirect(e.value, p, f)
	}
	if e, found := f["sticky"]; found {
		if _, split := f["pools"]; !split {
			if _, redirect := f["redirect"]; !redirect {
				d.add(e.at, keyPath(path, e.key), "", "sticky applies to a split over pools (pools)")
				ok = false
			}
		}
		ok = d.setBool(f, path, "sticky", &r.Sticky) && ok
	}
	return ok
}

// poolName decodes the name of a pool, one of names.
func (d *decoder) poolName(n *yaml.Node, path string, names []string) (string, bool) {
	v := d.scalar(n, path, "a pool name")
	if v == nil {
		return "", false
	}
	if v.ShortTag() != tagStr && v.ShortTag() != tagInt {
		d.typeError(n, v, path, "a pool name")
		return "", false
	}
	if !slices.Contains(names, v.Value) {
		msg := fmt.Sprintf("no pool named %q", v.Value)
		if c := closestName(v.Value, names); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		d.add(n, path, "", msg)
		return "", false
	}
	return v.Value, true
}

// split decodes `pools`: a list of pools with weights.
func (d *decoder) split(n *yaml.Node, path string, names []string) ([]PoolWeight, bool) {
	list := d.sequence(n, path, "a list of {pool, weight}")
	if list == nil {
		return nil, false
	}
	if len(list.Content) == 0 {
		d.add(n, path, "", "empty; list the pools to split over")
		return nil, false
	}
	var out []PoolWeight
	ok, total := true, 0
	seen := map[string]string{}
	for i, item := range list.Content {
		p := itemPath(path, i)
		f, isMap := d.fields(item, p, "a mapping with pool and weight", "pool", "weight")
		if !isMap {
			ok = false
			continue
		}
		pw := PoolWeight{Weight: 1}
		weightOK := d.setInt(f, p, "weight", &pw.Weight, 0, maxWeight)
		e, found := f["pool"]
		if !found {
			d.add(item, keyPath(p, "pool"), "", "missing; each part of a split names a pool")
			ok = false
			continue
		}
		name, nameOK := d.poolName(e.value, keyPath(p, e.key), names)
		if nameOK {
			if first, dup := seen[name]; dup {
				d.add(e.value, keyPath(p, e.key), name, "the same pool as "+first)
				nameOK = false
			}
			seen[name] = p
		}
		if !nameOK || !weightOK {
			ok = false
			continue
		}
		pw.Pool = name
		total += pw.Weight
		out = append(out, pw)
	}
	if ok && total == 0 {
		d.add(n, path, "", "the weights add up to 0; give at least one pool a weight above 0")
		ok = false
	}
	return out, ok
}

// routeHosts decodes `host`: a host or a list of hosts, each lowercased
// and without a trailing dot. A lone "" matches every host, as no `host`
// does.
func (d *decoder) routeHosts(n *yaml.Node, path string) ([]string, bool) {
	items, paths, ok := d.oneOrList(n, path, "empty; list at least one host, or leave host out to match every host")
	var out []string
	for i, item := range items {
		h, hostOK := d.routeHost(item, paths[i])
		switch {
		case !hostOK:
			ok = false
		case h == "" && len(items) == 1 && paths[0] == path:
		case h == "":
			d.add(item, paths[i], "", "empty; a host in a list must be a name")
			ok = false
		case slices.Contains(out, h):
			d.add(item, paths[i], h, fmt.Sprintf("listed twice (as host[%d])", slices.Index(out, h)))
			ok = false
		default:
			out = append(out, h)
		}
	}
	return out, ok
}

// oneOrList returns the values of n, a value or a list of them, with their
// key paths; empty is the problem of an empty list.
func (d *decoder) oneOrList(n *yaml.Node, path, empty string) ([]*yaml.Node, []string, bool) {
	v := d.follow(n)
	if v == nil {
		return nil, nil, false
	}
	if v.Kind != yaml.SequenceNode {
		return []*yaml.Node{n}, []string{path}, true
	}
	if len(v.Content) == 0 {
		d.add(n, path, "", empty)
		return nil, nil, false
	}
	paths := make([]string, len(v.Content))
	for i := range paths {
		paths[i] = itemPath(path, i)
	}
	return v.Content, paths, true
}

// routeHost decodes one host of a route.
func (d *decoder) routeHost(n *yaml.Node, path string) (string, bool) {
	h, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if msg := checkRouteHost(h); msg != "" {
		d.addf(n, path, "%s", msg)
		return "", false
	}
	// A fully qualified name's trailing dot names the same host, as the
	// request's Host is matched without one.
	h = strings.ToLower(h)
	if len(h) > 1 {
		h = strings.TrimSuffix(h, ".")
	}
	return h, true
}

// checkRouteHost returns what is wrong with a route's host, or "".
func checkRouteHost(h string) string {
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		if rest == "" || strings.ContainsAny(rest, "*:[]/") || !isHostName(rest) {
			return `a wildcard is "*." followed by a host name, such as *.example.com`
		}
		return ""
	}
	if strings.Contains(h, "*") {
		return `a wildcard may only stand for the first labels of a name, as in *.example.com`
	}
	return checkHostName(h)
}

// checkHostName returns what is wrong with a host name or IP literal
// without a port, or "".
func checkHostName(h string) string {
	switch {
	case strings.Contains(h, "://"):
		return "must be a host name without a scheme"
	case strings.Contains(h, "/"):
		return "must be a host name without a path"
	case strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]"):
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err != nil || !a.Is6() {
			return "invalid IPv6 address"
		}
		return ""
	case isIP(h) && strings.Contains(h, ":"):
		return "write an IPv6 address in brackets, such as [::1]"
	case strings.Contains(h, ":"):
		return "must not include a port; routes match the host with any port ignored"
	case h != "" && !isHostName(h):
		return "invalid host name"
	}
	return ""
}

// checkRouteName returns what is wrong with a route's name, or "".
func checkRouteName(s string) string {
	if s == "" || !hasOnlyNameChars(s, "_.-") {
		return `invalid route name; use letters, digits, "_", "." and "-"`
	}
	return ""
}

// checkPathPrefix returns what is wrong with a route's path or path
// prefix, or "".
func checkPathPrefix(s string) string {
	switch {
	case !strings.HasPrefix(s, "/"):
		return `must start with "/"`
	case strings.ContainsAny(s, "?#"):
		return "must be a path without a query or fragment"
	case strings.ContainsFunc(s, isSpaceOrControl):
		return "must not contain spaces or control characters"
	case len(s) > maxPathPrefix:
		return fmt.Sprintf("longer than %d bytes", maxPathPrefix)
	}
	return ""
}

// reportShadowed reports each route that an earlier one makes
// unreachable: since the first match wins, a route is dead when an
// earlier route matches every request it matches (see [covers]).
func (d *decoder) reportShadowed(routes []placedRoute) {
	for i := range routes {
		r := &routes[i]
		for j := range i {
			if !covers(&routes[j].RouteConfig, &r.RouteConfig) {
				continue
			}
			earlier := routes[j].path
			if r.path == "servers" {
				d.add(r.at, r.path, "", fmt.Sprintf("the catch-all route to the pool %q is unreachable: %s already matches every request", r.Pool, earlier))
			} else {
				d.add(r.at, r.path, "", fmt.Sprintf("unreachable: %s comes first and matches every request this route matches", earlier))
			}
			break
		}
	}
}

// covers reports whether route a matches every request that route b
// matches: a's hosts, path, methods and headers each leave out nothing b
// takes. A header condition narrows a route, so a route with one covers
// only routes with the same condition.
func covers(a, b *RouteConfig) bool {
	return hostsCover(a.Hosts, b.Hosts) && pathCovers(a, b) &&
		methodsCover(a.Methods, b.Methods) && headersCover(a.Headers, b.Headers)
}

// hostsCover reports whether the hosts a matches include all those b
// matches; an empty list matches every host.
func hostsCover(a, b []string) bool {
	return listCovers(a, b, func(ha, hb string) bool {
		suffix, wild := strings.CutPrefix(ha, "*")
		return ha == hb || wild && strings.HasSuffix(hb, suffix)
	})
}

// pathCovers reports whether the paths a matches include all those b
// matches.
func pathCovers(a, b *RouteConfig) bool {
	if a.Path != "" {
		return b.Path == a.Path
	}
	prefix := coveredPrefix(a.PathPrefix)
	if b.Path != "" {
		return strings.HasPrefix(b.Path, prefix)
	}
	return strings.HasPrefix(coveredPrefix(b.PathPrefix), prefix)
}

// methodsCover reports whether the methods a matches include all those b
// matches; an empty list matches every method.
func methodsCover(a, b []string) bool {
	return listCovers(a, b, func(ma, mb string) bool { return ma == mb })
}

// listCovers reports whether a matcher list a, empty matching everything,
// matches all that b matches: each item of b is covered by an item of a.
func listCovers(a, b []string, covers func(a, b string) bool) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for _, x := range b {
		if !slices.ContainsFunc(a, func(y string) bool { return covers(y, x) }) {
			return false
		}
	}
	return true
}

// headersCover reports whether every header condition of a is one of b's,
// so that a request b matches meets a's conditions too.
func headersCover(a, b []HeaderField) bool {
	for _, ha := range a {
		if !slices.ContainsFunc(b, func(hb HeaderField) bool {
			return strings.EqualFold(ha.Name, hb.Name) && ha.Value == hb.Value
		}) {
			return false
		}
	}
	return true
}

// coveredPrefix returns the path prefix a route matches; an empty prefix
// matches every path, as "/" does.
func coveredPrefix(prefix string) string {
	if prefix == "" {
		return "/"
	}
	return prefix
}
