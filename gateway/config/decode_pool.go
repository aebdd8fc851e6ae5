package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatewayhq/gateway/health"
	"go.yaml.in/yaml/v3"
)

// shorthandPool is the name of the pool the top-level `servers` declares.
const shorthandPool = "default"

// defaultPool returns the pool settings neither the pool nor the top
// level sets.
func defaultPool() PoolConfig {
	return PoolConfig{
		Algorithm: RoundRobin,
		HealthCheck: HealthCheckConfig{
			Enabled:            true,
			Method:             health.DefaultMethod,
			Path:               health.DefaultPath,
			Interval:           health.DefaultInterval,
			Timeout:            health.DefaultTimeout,
			HealthyThreshold:   health.DefaultHealthyThreshold,
			UnhealthyThreshold: health.DefaultUnhealthyThreshold,
			ExpectStatus:       []StatusRange{StatusRange(health.DefaultExpect())},
		},
		Passive: PassiveConfig{
			MaxFails: 3,
			Window:   10 * time.Second,
			EjectFor: 10 * time.Second,
		},
		ConnectTimeout:        2 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleTimeout:           30 * time.Second,
	}
}

// poolDefaults decodes the top-level settings every pool starts from:
// `healthCheck`, `healthCheckInterval`, `passive` and the timeouts.
func (d *decoder) poolDefaults(f map[string]mapEntry) PoolConfig {
	p := defaultPool()
	health := d.poolSettings(f, "", &p)
	if e, ok := f["healthCheckInterval"]; ok {
		if set, ok := health["interval"]; ok {
			d.add(e.at, e.key, "", fmt.Sprintf("set either healthCheckInterval or healthCheck.interval (line %d), not both", set.at.Line))
		} else {
			d.setDuration(f, "", e.key, &p.HealthCheck.Interval, false)
		}
	}
	if e, ok := f["backendTLS"]; ok {
		d.backendTLS(e.value, e.key, &p.TLS)
	}
	return p
}

// poolSettings decodes the settings a pool shares with the top level
// into p, overriding only what f sets, and returns the `healthCheck`
// keys it found.
func (d *decoder) poolSettings(f map[string]mapEntry, path string, p *PoolConfig) (health map[string]mapEntry) {
	if e, ok := f["healthCheck"]; ok {
		health = d.healthCheck(e.value, keyPath(path, e.key), &p.HealthCheck)
	}
	if e, ok := f["passive"]; ok {
		d.passive(e.value, keyPath(path, e.key), &p.Passive)
	}
	d.setDuration(f, path, "connectTimeout", &p.ConnectTimeout, false)
	d.setDuration(f, path, "responseHeaderTimeout", &p.ResponseHeaderTimeout, false)
	d.setDuration(f, path, "idleTimeout", &p.IdleTimeout, false)
	return health
}

// poolSet is the decoded pools, with what routes need to know of them.
type poolSet struct {
	list  []*PoolConfig
	names []string
	// shorthand is the pool the top-level `servers` declares, or nil;
	// shorthandAt is the `servers` key.
	shorthand   *PoolConfig
	shorthandAt *yaml.Node
}

// allPools decodes `pools` and the `servers` shorthand, each pool
// starting from template.
func (d *decoder) allPools(root *yaml.Node, f map[string]mapEntry, template PoolConfig) poolSet {
	var set poolSet
	poolsOK := true
	if e, ok := f["pools"]; ok {
		var es []mapEntry
		es, poolsOK = d.entries(e.value, e.key, "a mapping of pool names to pools")
		for _, pe := range es {
			set.list = append(set.list, d.pool(pe, template))
			set.names = append(set.names, pe.key)
		}
	}
	if e, ok := f["algorithm"]; ok {
		if _, ok := f["servers"]; !ok {
			d.add(e.at, e.key, "", "algorithm goes with the top-level servers; set it inside each pool instead")
		}
	}
	if e, ok := f["servers"]; ok {
		if slices.Contains(set.names, shorthandPool) {
			d.add(e.at, e.key, "", fmt.Sprintf("the top-level servers declare the pool %q, which pools declares too; move these servers into pools.%s", shorthandPool, shorthandPool))
		} else {
			p := clonePool(template)
			p.Name = shorthandPool
			d.poolServers(f, "", e.at, p)
			set.list = append(set.list, p)
			set.names = append(set.names, shorthandPool)
			set.shorthand, set.shorthandAt = p, e.at
		}
	}
	if len(set.list) == 0 && poolsOK {
		d.add(root, "", "", "no servers: set servers or pools")
	}
	return set
}

// pool decodes one entry of `pools`.
func (d *decoder) pool(pe mapEntry, template PoolConfig) *PoolConfig {
	path := keyPath("pools", pe.key)
	if !isPoolName(pe.key) {
		d.add(pe.at, path, pe.key, `invalid pool name; use letters, digits, "_", "." and "-"`)
	}
	p := clonePool(template)
	p.Name = pe.key
	f, ok := d.fields(pe.value, path, "a mapping of pool settings",
		"algorithm", "servers", "healthCheck", "passive", "connectTimeout", "responseHeaderTimeout", "idleTimeout", "tls")
	if ok {
		d.poolSettings(f, path, p)
		if e, ok := f["tls"]; ok {
			d.backendTLS(e.value, keyPath(path, e.key), &p.TLS)
		}
		d.poolServers(f, path, pe.at, p)
	}
	return p
}

// clonePool returns a copy of p that shares no memory with it.
func clonePool(p PoolConfig) *PoolConfig {
	p.Servers = slices.Clone(p.Servers)
	p.HealthCheck.ExpectStatus = slices.Clone(p.HealthCheck.ExpectStatus)
	return &p
}

// isPoolName reports whether s is a valid pool name: letters, digits,
// '_', '.' and '-'.
func isPoolName(s string) bool {
	return s != "" && hasOnlyNameChars(s, "_.-")
}

// algorithmNames lists the valid values of `algorithm`.
func algorithmNames() []string {
	return []string{string(RoundRobin), string(WeightedRoundRobin), string(LeastConnections), string(IPHash)}
}

// poolServers decodes a pool's `algorithm` and `servers` into p; at is
// where a missing `servers` is reported.
func (d *decoder) poolServers(f map[string]mapEntry, path string, at *yaml.Node, p *PoolConfig) {
	if e, ok := f["algorithm"]; ok {
		if s, ok := d.str(e.value, keyPath(path, e.key)); ok {
			if slices.Contains(algorithmNames(), s) {
				p.Algorithm = Algorithm(s)
			} else {
				msg := "unknown algorithm; use " + strings.Join(algorithmNames(), ", ")
				if c := closestName(s, algorithmNames()); c != "" {
					msg = fmt.Sprintf("unknown algorithm; did you mean %q? (valid: %s)", c, strings.Join(algorithmNames(), ", "))
				}
				d.add(e.value, keyPath(path, e.key), s, msg)
			}
		}
	}
	e, ok := f["servers"]
	if !ok {
		d.add(at, keyPath(path, "servers"), "", "missing; a pool needs at least one server")
		return
	}
	p.Servers = d.servers(e.value, keyPath(path, e.key), p.Algorithm)
}

// maxWeight bounds a server's weight.
const maxWeight = 1_000_000

// servers decodes a pool's list of servers.
func (d *decoder) servers(n *yaml.Node, path string, alg Algorithm) []ServerConfig {
	list, ok := d.items(n, path, "a list of servers", "empty; a pool needs at least one server")
	if !ok {
		return nil
	}
	var out []ServerConfig
	seen := map[string]int{}
	allOK, anyWeight := true, false
	for i, item := range list {
		s, ok := d.server(item, itemPath(path, i))
		if !ok {
			allOK = false
			continue
		}
		key := CanonicalURL(s.URL)
		if j, dup := seen[key]; dup {
			d.add(item, itemPath(path, i), s.URL.String(), fmt.Sprintf("the same server as servers[%d]", j))
			allOK = false
			continue
		}
		seen[key] = i
		anyWeight = anyWeight || s.Weight > 0
		out = append(out, s)
	}
	if alg == WeightedRoundRobin && allOK && !anyWeight {
		d.add(n, path, "", "weighted_round_robin needs at least one server with a weight above 0")
	}
	return out
}

// server decodes one server: a URL, or a mapping with `url`, `weight`
// and `resolve`.
func (d *decoder) server(n *yaml.Node, path string) (ServerConfig, bool) {
	const expected = "a URL or a mapping with url, weight and resolve"
	s := ServerConfig{Weight: 1}
	v := d.follow(n)
	if v == nil {
		return s, false
	}
	urlNode, urlPath, settingsOK := n, path, true
	switch {
	case v.Kind == yaml.MappingNode:
		f, _ := d.fields(n, path, expected, "url", "weight", "resolve")
		settingsOK = d.setInt(f, path, "weight", &s.Weight, 0, maxWeight)
		settingsOK = d.setBool(f, path, "resolve", &s.Resolve) && settingsOK
		e, ok := f["url"]
		if !ok {
			d.add(n, keyPath(path, "url"), "", "missing; a server needs a url")
			return s, false
		}
		urlNode, urlPath = e.value, keyPath(path, e.key)
	case v.Kind == yaml.ScalarNode && v.ShortTag() != tagNull:
	default:
		d.typeError(n, v, path, expected)
		return s, false
	}
	raw, ok := d.str(urlNode, urlPath)
	if !ok {
		return s, false
	}
	u, err := parseServerURL(raw)
	if err != nil {
		d.addf(urlNode, urlPath, "%v", err)
		return s, false
	}
	s.URL = u
	if s.Resolve {
		if msg := checkResolvable(u.Hostname()); msg != "" {
			d.addf(urlNode, urlPath, "%s", msg)
			return s, false
		}
	}
	return s, settingsOK
}
