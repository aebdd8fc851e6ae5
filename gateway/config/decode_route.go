package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxPathPrefix bounds the length of a route's `pathPrefix`.
const maxPathPrefix = 1024

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
			for i, item := range list.Content {
				path := itemPath(e.key, i)
				if r, ok := d.route(item, path, pools.names); ok {
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
	for _, r := range routes {
		if r.Host == "" && coveredPrefix(r.PathPrefix) == "/" {
			return r.Pool == pool
		}
	}
	return false
}

// route decodes one entry of `routes`; names lists the pools it may name.
func (d *decoder) route(n *yaml.Node, path string, names []string) (RouteConfig, bool) {
	var r RouteConfig
	f, ok := d.fields(n, path, "a mapping with host, pathPrefix and pool", "host", "pathPrefix", "pool")
	if !ok {
		return r, false
	}
	hostOK := d.setChecked(f, path, "host", &r.Host, checkRouteHost)
	// A fully qualified name's trailing dot names the same host, as the
	// request's Host is matched without one.
	r.Host = strings.ToLower(r.Host)
	if len(r.Host) > 1 {
		r.Host = strings.TrimSuffix(r.Host, ".")
	}
	prefixOK := d.setChecked(f, path, "pathPrefix", &r.PathPrefix, checkPathPrefix)
	e, ok := f["pool"]
	if !ok {
		d.add(n, keyPath(path, "pool"), "", "missing; a route names the pool it sends to")
		return r, false
	}
	p := keyPath(path, e.key)
	v := d.scalar(e.value, p, "a pool name")
	if v == nil {
		return r, false
	}
	if v.ShortTag() != tagStr && v.ShortTag() != tagInt {
		d.typeError(e.value, v, p, "a pool name")
		return r, false
	}
	if !slices.Contains(names, v.Value) {
		msg := fmt.Sprintf("no pool named %q", v.Value)
		if c := closestName(v.Value, names); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		d.add(e.value, p, "", msg)
		return r, false
	}
	r.Pool = v.Value
	return r, hostOK && prefixOK
}

// checkRouteHost returns what is wrong with a route's host, or "".
func checkRouteHost(h string) string {
	switch {
	case strings.Contains(h, "://"):
		return "must be a host name without a scheme"
	case strings.Contains(h, "/"):
		return "must be a host name without a path"
	case strings.Contains(h, "*"):
		return "wildcards are not supported; a route's host matches exactly"
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

// checkPathPrefix returns what is wrong with a route's path prefix, or "".
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
// earlier route covers its host (the same host, or any host) and its path
// prefix starts with the earlier one's.
func (d *decoder) reportShadowed(routes []placedRoute) {
	byHost := map[string][]int{}
	for i, r := range routes {
		prefix := coveredPrefix(r.PathPrefix)
		earliest := -1
		hosts := []string{r.Host}
		if r.Host != "" {
			hosts = append(hosts, "")
		}
		for _, h := range hosts {
			for _, j := range byHost[h] {
				if strings.HasPrefix(prefix, coveredPrefix(routes[j].PathPrefix)) {
					if earliest < 0 || j < earliest {
						earliest = j
					}
					break
				}
			}
		}
		byHost[r.Host] = append(byHost[r.Host], i)
		if earliest < 0 {
			continue
		}
		earlier := routes[earliest].path
		if r.path == "servers" {
			d.add(r.at, r.path, "", fmt.Sprintf("the catch-all route to the pool %q is unreachable: %s already matches every request", r.Pool, earlier))
		} else {
			d.add(r.at, r.path, "", fmt.Sprintf("unreachable: %s comes first and matches every request this route matches", earlier))
		}
	}
}

// coveredPrefix returns the path prefix a route matches; an empty prefix
// matches every path, as "/" does.
func coveredPrefix(prefix string) string {
	if prefix == "" {
		return "/"
	}
	return prefix
}
