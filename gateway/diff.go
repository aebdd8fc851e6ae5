package gateway

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatewayhq/gateway/gateway/config"
)

// What `gateway diff` reports is the plan that [Gateway.Apply] would
// carry out, decided by the same functions: [decide] for the listeners
// and the access log, [planTargets] for the backends. [Diff] runs them
// against what a gateway serving the old config has in service, or
// against a running gateway's /status, instead of against the gateway's
// own state.

// The changes a [DiffReport] names.
const (
	ChangeUnchanged = "unchanged"
	ChangeAdded     = "added"
	ChangeRemoved   = "removed"
	ChangeChanged   = "changed"
	// ChangeCarried: a backend kept with its state and settings.
	ChangeCarried = "carried"
	// ChangeUpdated: a backend kept with its state, whose settings change
	// in place.
	ChangeUpdated = "updated"
	// ChangeReordered: a route that moved in the match order and is
	// otherwise the same.
	ChangeReordered = "reordered"
)

// DiffReport is what applying a config would do to a gateway, in the
// order apply does it: what `gateway diff` prints, and its JSON.
type DiffReport struct {
	// Valid is false when the new or old config has problems, which
	// Problems lists; nothing else is filled in then.
	Valid bool `json:"valid"`
	// Changed is false when the two configs are the same effective
	// config, which apply records as unchanged.
	Changed  bool             `json:"changed"`
	Problems []config.Problem `json:"problems,omitempty"`
	// Live is true when the report compares with a running gateway and
	// shows its backends' health and requests in flight.
	Live bool `json:"live"`
	// Backends counts the backends kept (updated ones included), created
	// and retired, as /reloads records them after the apply.
	Backends BackendCounts `json:"backends"`
	Listener ListenerDiff  `json:"listener"`
	Admin    ListenerDiff  `json:"admin"`
	TLS      ListenerDiff  `json:"tls"`
	// Settings lists the top-level settings that change and belong to no
	// listener.
	Settings []FieldDiff `json:"settings"`
	Pools    []PoolDiff  `json:"pools"`
	Routes   []RouteDiff `json:"routes"`
	// AccessLog is the access log: Action start, move or stop when its
	// path changes.
	AccessLog ListenerDiff `json:"accessLog"`
	DNS       DNSDiff      `json:"dns"`
}

// BackendCounts counts backends as a [ReloadRecord] does.
type BackendCounts struct {
	Carried int `json:"carried"`
	Added   int `json:"added"`
	Removed int `json:"removed"`
}

// ListenerDiff is what applying a config does to the public listener,
// the admin listener, the HTTPS listener or the access log.
type ListenerDiff struct {
	// Change is unchanged, added, removed or changed.
	Change string `json:"change"`
	// Action is what apply does: none (there is none and none is asked
	// for), keep (the socket is kept), restart (the public listener's
	// settings changed: a new server takes over the socket), move (a new
	// address: the new socket is bound first, the old one closes once its
	// clients have gone), start or stop.
	Action string `json:"action"`
	// From and To are the address or path before and after; "" for none.
	From string `json:"from"`
	To   string `json:"to"`
	// Fields lists the settings that change.
	Fields []FieldDiff `json:"fields"`
	// Certificates describes each certificate the HTTPS listener serves
	// before or after; tls only.
	Certificates []CertificateDiff `json:"certificates,omitempty"`
}

// CertificateDiff is what applying a config does to one certificate the
// HTTPS listener serves, known by its files.
type CertificateDiff struct {
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// Change is unchanged (the files stay, and so does the certificate
	// loaded from them: a reload never reads them again; rotation does),
	// added or removed.
	Change string `json:"change"`
	// Before and After are the certificate served before and after:
	// from the running gateway, or read from the files; null when there
	// is none, or its files cannot be read where diff runs.
	Before *CertificateInfo `json:"before"`
	After  *CertificateInfo `json:"after"`
}

// CertificateInfo identifies a certificate: the hex SHA-256 fingerprint
// of its leaf and its DNS names.
type CertificateInfo struct {
	SHA256 string   `json:"sha256"`
	Names  []string `json:"names"`
}

// FieldDiff is one setting that changes: its key path, its value before
// and after as the config file writes it ("" when unset), and what the
// change does.
type FieldDiff struct {
	Key    string `json:"key"`
	From   string `json:"from"`
	To     string `json:"to"`
	Effect string `json:"effect"`
}

// PoolDiff is what applying a config does to one pool and its backends.
type PoolDiff struct {
	Name string `json:"name"`
	// Change is unchanged, added, removed or changed.
	Change   string        `json:"change"`
	Fields   []FieldDiff   `json:"fields"`
	Backends []BackendDiff `json:"backends"`
}

// BackendDiff is what applying a config does to one backend.
type BackendDiff struct {
	URL string `json:"url"`
	// Change is carried (kept with its state), updated (kept, with new
	// settings applied in place), added (probed at once, new
	// connections) or removed (its requests in flight finish).
	Change string `json:"change"`
	// Source is the name of the resolved server the backend is an
	// address of; for a resolved server whose addresses are not known
	// (offline, or a name that apply looks up first), URL is the
	// server's and the entry stands for all of them.
	Source string `json:"source,omitempty"`
	// Health is up or down, and InFlight the requests in flight, from
	// the running gateway; null offline and for added backends.
	Health   *string `json:"health"`
	InFlight *int64  `json:"inFlight"`
	// Settings lists what changes in place for an updated backend.
	Settings []FieldDiff `json:"settings"`
}

// RouteDiff is what applying a config does to one route, known by its
// name or, without one, as routes[i].
type RouteDiff struct {
	Name string `json:"name"`
	// Change is unchanged, added, removed, changed or reordered.
	Change string `json:"change"`
	// Index is the route's place in the match order, from 0: in the new
	// config, or in the old one for a removed route.
	Index  int         `json:"index"`
	Fields []FieldDiff `json:"fields"`
}

// DNSDiff is what applying a config does to the lookups of resolved
// servers' names.
type DNSDiff struct {
	// Change is changed when the dns settings change or a name comes or
	// goes.
	Change string      `json:"change"`
	Fields []FieldDiff `json:"fields"`
	Names  []NameDiff  `json:"names"`
}

// NameDiff is one name of resolved servers: carried (kept with its
// current addresses, not looked up again by the reload), added (looked
// up before the new generation is built) or removed.
type NameDiff struct {
	Name   string `json:"name"`
	Change string `json:"change"`
	// Addresses are the running gateway's addresses for the name; null
	// offline.
	Addresses []netip.Addr `json:"addresses"`
}

// liveBackend is a running backend as the plan knows it.
type liveBackend struct {
	pool, url, source string
	weight            int
	health            *string
	inFlight          *int64
}

// Diff returns what applying next does to a gateway that serves cur, as
// the plan that [Gateway.Apply] carries out decides it. status is the
// running gateway's /status report, whose backends (with their health
// and requests in flight) and resolved names' addresses are those the
// plan starts from, and cur is then the running config as /config writes
// it, header rule values redacted; nil compares two configs offline,
// from the backends cur names, with resolved servers named but not
// looked up.
//
// Header rule values are shown redacted ([config.Config.Redacted]).
// Offline, whether anything changes is decided on the real values, by
// [config.Config.Equal] as apply decides it. Against a running gateway,
// whose values only /config's digests tell, next's values are redacted
// as /config redacts the running ones and compared by digest: a value
// equal to the running one gives the running digest, and a value written
// as a digest is hashed again, so it differs.
func Diff(cur *config.Config, status *StatusReport, next *config.Config) DiffReport {
	changed := !sameConfig(cur, next)
	if status == nil {
		cur = cur.Redacted()
	}
	next = next.Redacted()
	if status != nil {
		changed = !sameConfig(cur, next)
	}
	r := DiffReport{Valid: true, Changed: changed, Live: status != nil}

	live, addrs := liveOf(cur, status)
	p := decide(runningOf(cur), next)
	tp := planTargets(next, keptAddrs(next, addrs), live)
	r.Backends = BackendCounts(tp.stats)

	was, now := settingsMap(cur), settingsMap(next)
	r.Listener = listenerDiff(p.listener(), cur.Listen, next.Listen,
		fieldDiffs(was, now, "", []string{"clientHeaderTimeout", "clientIdleTimeout", "maxHeaderBytes", "maxConnections"}))
	r.Admin = listenerDiff(p.admin, cur.Admin, next.Admin, nil)
	r.TLS = listenerDiff(p.tlsListen, tlsListenOf(cur), tlsListenOf(next), fieldDiffs(was, now, "tls.", nil, "tls.listen"))
	r.TLS.Certificates = certificateDiffs(cur, next, status)
	r.AccessLog = listenerDiff(p.accessLog, cur.AccessLog, next.AccessLog, nil)
	r.Settings = append([]FieldDiff{}, fieldDiffs(was, now, "", []string{"trustedProxies", "maxBodySize", "shutdownTimeout"})...)
	if a, b := commonOrder(cur, next); !slices.Equal(a, b) {
		r.Settings = append(r.Settings, FieldDiff{Key: "pools", From: strings.Join(a, ", "), To: strings.Join(b, ", "),
			Effect: "the order /status and metrics list the pools in"})
	}
	r.Pools = poolDiffs(cur, next, tp, live, addrs, was, now)
	r.Routes = routeDiffs(cur, next)
	r.DNS = dnsDiff(cur, next, addrs, status != nil, fieldDiffs(was, now, "dns.", nil))
	return r
}

// sameConfig reports whether applying next over cur changes nothing:
// whether they are equal configs ([config.Config.Equal]), wherever each
// was read from.
func sameConfig(cur, next *config.Config) bool {
	same := *next
	same.Source, same.Hash = cur.Source, cur.Hash
	return cur.Equal(&same)
}

// liveOf returns the running backends by key, and the addresses of the
// resolved names: from status when it is given, else those cur names.
func liveOf(cur *config.Config, status *StatusReport) (map[string]liveBackend, map[string][]netip.Addr) {
	live := make(map[string]liveBackend)
	if status == nil {
		for _, pp := range planTargets(cur, nil, map[string]bool(nil)).pools {
			for _, pb := range pp.backends {
				live[pb.key] = liveBackend{pool: pp.cfg.Name, url: displayURL(pb.target.url), weight: pb.weight}
			}
		}
		return live, nil
	}
	addrs := make(map[string][]netip.Addr)
	for _, ps := range status.Pools {
		for _, bs := range ps.Backends {
			u, err := url.Parse(bs.URL)
			if err != nil {
				continue
			}
			health, inFlight := bs.State, bs.InFlight
			live[backendKey(ps.Name, u)] = liveBackend{pool: ps.Name, url: bs.URL, source: bs.Source,
				weight: bs.Weight, health: &health, inFlight: &inFlight}
		}
		for _, rs := range ps.Resolved {
			addrs[rs.Name] = rs.Addresses
		}
	}
	return live, addrs
}

// keptAddrs returns the addresses of the names of cfg that addrs has: a
// reload keeps the addresses of a name it keeps, and looks a new one up.
func keptAddrs(cfg *config.Config, addrs map[string][]netip.Addr) map[string][]netip.Addr {
	out := make(map[string][]netip.Addr)
	for _, name := range resolvedNames(cfg) {
		if a, ok := addrs[name]; ok {
			out[name] = a
		}
	}
	return out
}

// listenerDiff describes action on a listener or file named from before
// and to after, with the settings that change.
func listenerDiff(a action, from, to string, fields []FieldDiff) ListenerDiff {
	d := ListenerDiff{Action: a.String(), From: from, To: to, Fields: fields, Change: ChangeChanged}
	if d.Fields == nil {
		d.Fields = []FieldDiff{}
	}
	switch a {
	case actionStart:
		d.Change = ChangeAdded
	case actionStop:
		d.Change = ChangeRemoved
	case actionNone, actionKeep:
		if len(fields) == 0 {
			d.Change = ChangeUnchanged
		}
	}
	return d
}

// settings is a config's settings by key path.
type settings map[string]string

// settingsMap returns cfg's settings, with their order.
func settingsMap(cfg *config.Config) settings {
	m := make(settings)
	for i, s := range cfg.Settings() {
		m[s.Key] = s.Value
		m[orderKey+s.Key] = strconv.Itoa(i)
	}
	return m
}

// orderKey prefixes the entries of a [settings] that hold a key's place.
const orderKey = "\x00"

// fieldDiffs returns the settings under prefix that differ between was
// and now, named by their key path without prefix, in the order now
// (then was) has them. With keys, only those are compared; skip lists
// key paths (and what is under them) to leave out.
func fieldDiffs(was, now settings, prefix string, keys []string, skip ...string) []FieldDiff {
	var names []string
	seen := make(map[string]bool)
	for _, m := range []settings{now, was} {
		var these []string
		for k := range m {
			if strings.HasPrefix(k, orderKey) || !strings.HasPrefix(k, prefix) || seen[k] {
				continue
			}
			rel := strings.TrimPrefix(k, prefix)
			if keys != nil && !slices.Contains(keys, rel) || skipped(k, skip) {
				continue
			}
			seen[k] = true
			these = append(these, k)
		}
		slices.SortFunc(these, func(a, b string) int {
			x, _ := strconv.Atoi(m[orderKey+a])
			y, _ := strconv.Atoi(m[orderKey+b])
			return x - y
		})
		names = append(names, these...)
	}
	var out []FieldDiff
	for _, k := range names {
		from, inWas := was[k]
		to, inNow := now[k]
		if from == to && inWas == inNow {
			continue
		}
		rel := strings.TrimPrefix(k, prefix)
		out = append(out, FieldDiff{Key: rel, From: from, To: to, Effect: effectOf(prefix, rel, from, to)})
	}
	return out
}

// skipped reports whether key is one of skip or under one of them.
func skipped(key string, skip []string) bool {
	for _, s := range skip {
		if key == s || strings.HasPrefix(key, s+".") || strings.HasPrefix(key, s+"[") {
			return true
		}
	}
	return false
}

// effectOf says what changing the setting key (under prefix) from from
// to to does, as the apply code carries it out.
func effectOf(prefix, key, from, to string) string {
	switch {
	case prefix == "" && key == "maxConnections":
		return "applies at once to the running listener"
	case prefix == "" && (key == "clientHeaderTimeout" || key == "clientIdleTimeout" || key == "maxHeaderBytes"):
		return "a new server takes over the socket; open connections close after their next response"
	case prefix == "" && key == "shutdownTimeout":
		return "applies to the next shutdown"
	case prefix == "":
		return "applies to the next request"
	case prefix == "tls." && key == "redirectHTTP":
		return "applies to the next request"
	case prefix == "tls.":
		return "applies from the next handshake; open connections keep theirs"
	case prefix == "dns.":
		return "kept names take it from their next lookup, keeping their rhythm"
	case strings.HasPrefix(prefix, "routes["):
		if strings.HasPrefix(key, "rateLimit") {
			return "the route's clients start with full buckets"
		}
		return "applies to the next request"
	}
	// A pool's setting.
	switch {
	case key == "algorithm":
		return "rotation restarts"
	case key == "healthCheck.enabled" && to == "false":
		return "probing stops; backends are up unless passive health ejects them"
	case strings.HasPrefix(key, "healthCheck."):
		return "applied in place, health kept; probes restart at once"
	case key == "passive.on5xx":
		return "applies to the pool's next answer"
	case key == "passive.maxFails" && to == "0":
		return "passive health off; failures counted and ejections in force are forgotten"
	case strings.HasPrefix(key, "passive."):
		return "applied in place from the next failure; failures counted and ejections in force are kept"
	case key == "responseHeaderTimeout":
		return "applied in place to the next read or write of every connection"
	case key == "connectTimeout" || key == "idleTimeout" || strings.HasPrefix(key, "tls."):
		return "new connections for new requests; idle ones close at once, busy ones after their request"
	}
	return "applied in place"
}

// commonOrder returns the names of the pools cur and next share, in the
// order of each.
func commonOrder(cur, next *config.Config) (a, b []string) {
	in := func(c *config.Config, name string) bool { return poolConfigNamed(c, name) != nil }
	for _, p := range cur.Pools {
		if in(next, p.Name) {
			a = append(a, p.Name)
		}
	}
	for _, p := range next.Pools {
		if in(cur, p.Name) {
			b = append(b, p.Name)
		}
	}
	return a, b
}

// poolConfigNamed returns cfg's pool called name, or nil.
func poolConfigNamed(cfg *config.Config, name string) *config.PoolConfig {
	for _, p := range cfg.Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// poolDiffs describes each pool of next, then each pool of cur that next
// removes, from the plan tp.
func poolDiffs(cur, next *config.Config, tp targetPlan, live map[string]liveBackend, addrs map[string][]netip.Addr, was, now settings) []PoolDiff {
	out := []PoolDiff{}
	for _, pp := range tp.pools {
		name := pp.cfg.Name
		prefix := "pools." + name + "."
		d := PoolDiff{Name: name, Change: ChangeUnchanged, Fields: []FieldDiff{}, Backends: []BackendDiff{}}
		old := poolConfigNamed(cur, name)
		if old == nil {
			d.Change = ChangeAdded
		} else {
			d.Fields = append(d.Fields, fieldDiffs(was, now, prefix, nil, prefix+"servers")...)
		}
		inPlace := backendFields(old, pp.cfg, d.Fields)
		for _, pb := range pp.backends {
			bd := BackendDiff{URL: displayURL(pb.target.url), Change: ChangeAdded, Settings: []FieldDiff{}}
			if pb.target.server.Resolve {
				bd.Source = pb.target.server.Name()
			}
			if lb, ok := live[pb.key]; pb.carried && ok {
				bd.Change, bd.Health, bd.InFlight = ChangeCarried, lb.health, lb.inFlight
				if lb.weight != pb.weight {
					bd.Settings = append(bd.Settings, FieldDiff{Key: "weight", From: strconv.Itoa(lb.weight), To: strconv.Itoa(pb.weight),
						Effect: "the pool's rotation takes the new weight"})
				}
				if lb.url != bd.URL {
					bd.Settings = append(bd.Settings, FieldDiff{Key: "url", From: lb.url, To: bd.URL, Effect: "the same backend, spelled anew"})
				}
				bd.Settings = append(bd.Settings, inPlace...)
				if len(bd.Settings) > 0 {
					bd.Change = ChangeUpdated
				}
			}
			d.Backends = append(d.Backends, bd)
		}
		d.Backends = append(d.Backends, unresolved(old, pp.cfg, addrs, inPlace)...)
		d.Backends = append(d.Backends, removedFrom(name, tp.removed, live)...)
		if d.Change == ChangeUnchanged && (len(d.Fields) > 0 || slices.ContainsFunc(d.Backends, func(b BackendDiff) bool { return b.Change != ChangeCarried })) {
			d.Change = ChangeChanged
		}
		out = append(out, d)
	}
	for _, old := range cur.Pools {
		if poolConfigNamed(next, old.Name) != nil {
			continue
		}
		d := PoolDiff{Name: old.Name, Change: ChangeRemoved, Fields: []FieldDiff{}, Backends: removedFrom(old.Name, tp.removed, live)}
		d.Backends = append(d.Backends, unresolved(old, nil, addrs, nil)...)
		out = append(out, d)
	}
	return out
}

// backendFields returns the fields of a pool, from old to now, that
// change its backends in place ([backend.update]): all but the algorithm
// and passive.on5xx, which belong to the pool, and the probe settings
// while probing is off before and after.
func backendFields(old, now *config.PoolConfig, fields []FieldDiff) []FieldDiff {
	probing := old != nil && old.HealthCheck.Enabled || now.HealthCheck.Enabled
	var out []FieldDiff
	for _, f := range fields {
		switch {
		case f.Key == "algorithm" || f.Key == "passive.on5xx":
		case strings.HasPrefix(f.Key, "healthCheck.") && !probing:
		default:
			out = append(out, f)
		}
	}
	return out
}

// removedFrom describes the backends of pool among the removed keys.
func removedFrom(pool string, removed []string, live map[string]liveBackend) []BackendDiff {
	out := []BackendDiff{}
	for _, key := range removed {
		if lb := live[key]; lb.pool == pool {
			out = append(out, BackendDiff{URL: lb.url, Change: ChangeRemoved, Source: lb.source, Health: lb.health, InFlight: lb.inFlight, Settings: []FieldDiff{}})
		}
	}
	return out
}

// unresolved describes the resolved servers of the pool, before (old)
// and after (now; nil when the pool goes), whose names have no known
// addresses: each stands for the backends of its name, added when the
// pool did not have it, removed when it goes, else carried, or updated
// with the pool's fields inPlace.
func unresolved(old, now *config.PoolConfig, addrs map[string][]netip.Addr, inPlace []FieldDiff) []BackendDiff {
	var out []BackendDiff
	has := func(p *config.PoolConfig, s config.ServerConfig) bool {
		return p != nil && slices.ContainsFunc(p.Servers, func(o config.ServerConfig) bool {
			return o.Resolve && config.CanonicalURL(o.URL) == config.CanonicalURL(s.URL)
		})
	}
	entry := func(s config.ServerConfig, change string) BackendDiff {
		return BackendDiff{URL: displayURL(s.URL), Source: s.Name(), Change: change, Settings: []FieldDiff{}}
	}
	if now != nil {
		for _, s := range now.Servers {
			if _, known := addrs[s.Name()]; !s.Resolve || known {
				continue
			}
			e := entry(s, ChangeAdded)
			if has(old, s) {
				e.Change = ChangeCarried
				if len(inPlace) > 0 {
					e.Change, e.Settings = ChangeUpdated, append(e.Settings, inPlace...)
				}
			}
			out = append(out, e)
		}
	}
	if old != nil {
		for _, s := range old.Servers {
			if _, known := addrs[s.Name()]; s.Resolve && !known && !has(now, s) {
				out = append(out, entry(s, ChangeRemoved))
			}
		}
	}
	return out
}

// routeLabel returns the name of cfg's route i: its name, or routes[i].
func routeLabel(cfg *config.Config, i int) string {
	if n := cfg.Routes[i].Name; n != "" {
		return n
	}
	return "routes[" + strconv.Itoa(i) + "]"
}

// routeDiffs describes each route of next, then each route of cur that
// next removes, matched by name, or by place for routes without one.
func routeDiffs(cur, next *config.Config) []RouteDiff {
	out := []RouteDiff{}
	index := make(map[string]int)
	for i := range cur.Routes {
		index[routeLabel(cur, i)] = i
	}
	kept := make(map[string]bool)
	for i := range next.Routes {
		label := routeLabel(next, i)
		d := RouteDiff{Name: label, Index: i, Change: ChangeAdded, Fields: []FieldDiff{}}
		if j, ok := index[label]; ok {
			kept[label] = true
			d.Fields = append(d.Fields, routeFields(&cur.Routes[j], &next.Routes[i])...)
			switch {
			case len(d.Fields) > 0:
				d.Change = ChangeChanged
			case i != j:
				d.Change = ChangeReordered
			default:
				d.Change = ChangeUnchanged
			}
			if i != j {
				d.Fields = append(d.Fields, FieldDiff{Key: "index", From: strconv.Itoa(j), To: strconv.Itoa(i), Effect: "matched at its new place in the order"})
			}
		}
		out = append(out, d)
	}
	for i := range cur.Routes {
		if label := routeLabel(cur, i); !kept[label] {
			out = append(out, RouteDiff{Name: label, Index: i, Change: ChangeRemoved, Fields: []FieldDiff{}})
		}
	}
	return out
}

// routeFields returns the settings that differ between two routes, a
// split's weights shown as one field before and after.
func routeFields(a, b *config.RouteConfig) []FieldDiff {
	one := func(r *config.RouteConfig) *config.Config {
		c := &config.Config{Routes: []config.RouteConfig{*r}}
		c.Routes[0].Pools = nil
		return c
	}
	const prefix = "routes[0]."
	out := fieldDiffs(settingsMap(one(a)), settingsMap(one(b)), prefix, nil, "routes[0].name")
	if x, y := splitWeights(a), splitWeights(b); x != y {
		out = append(out, FieldDiff{Key: "pools", From: x, To: y, Effect: "the split takes the new weights from the next request"})
	}
	return out
}

// splitWeights returns a route's split as "pool:weight, ...", or "".
func splitWeights(r *config.RouteConfig) string {
	parts := make([]string, len(r.Pools))
	for i, pw := range r.Pools {
		parts[i] = pw.Pool + ":" + strconv.Itoa(pw.Weight)
	}
	return strings.Join(parts, ", ")
}

// dnsDiff describes the names of resolved servers, with the dns settings
// that change.
func dnsDiff(cur, next *config.Config, addrs map[string][]netip.Addr, live bool, fields []FieldDiff) DNSDiff {
	d := DNSDiff{Change: ChangeUnchanged, Fields: fields, Names: []NameDiff{}}
	if d.Fields == nil {
		d.Fields = []FieldDiff{}
	}
	before, after := resolvedNames(cur), resolvedNames(next)
	for _, name := range after {
		n := NameDiff{Name: name, Change: ChangeAdded}
		if slices.Contains(before, name) {
			n.Change = ChangeCarried
			if live {
				n.Addresses = append([]netip.Addr{}, addrs[name]...)
			}
		}
		d.Names = append(d.Names, n)
	}
	for _, name := range before {
		if !slices.Contains(after, name) {
			n := NameDiff{Name: name, Change: ChangeRemoved}
			if live {
				n.Addresses = append([]netip.Addr{}, addrs[name]...)
			}
			d.Names = append(d.Names, n)
		}
	}
	if len(d.Fields) > 0 || slices.ContainsFunc(d.Names, func(n NameDiff) bool { return n.Change != ChangeCarried }) {
		d.Change = ChangeChanged
	}
	return d
}

// certificateDiffs describes the certificates the HTTPS listener serves
// under cur, then under next: those of status when it is given (the
// running gateway's), else read from cur's files; and, for files next
// adds, read from them. Files that cannot be read leave the certificate
// unknown.
func certificateDiffs(cur, next *config.Config, status *StatusReport) []CertificateDiff {
	served := func(cfg *config.Config) []pairKey {
		var keys []pairKey
		if cfg.TLS != nil {
			for _, c := range cfg.TLS.Certificates {
				keys = append(keys, pairKey{c.CertFile, c.KeyFile})
			}
		}
		return keys
	}
	before, after := served(cur), served(next)
	running := make(map[pairKey]*CertificateInfo)
	if status != nil {
		for _, c := range status.Certificates {
			if c.Use == "server" {
				running[pairKey{c.CertFile, c.KeyFile}] = &CertificateInfo{SHA256: c.SHA256, Names: c.Names}
			}
		}
	} else {
		running = readCertificates(cur)
	}
	var fresh map[pairKey]*CertificateInfo
	var out []CertificateDiff
	for _, k := range after {
		d := CertificateDiff{CertFile: k.certFile, KeyFile: k.keyFile, Change: ChangeAdded}
		if slices.Contains(before, k) {
			d.Change, d.Before, d.After = ChangeUnchanged, running[k], running[k]
		} else {
			if fresh == nil {
				fresh = readCertificates(next)
			}
			d.After = fresh[k]
		}
		out = append(out, d)
	}
	for _, k := range before {
		if !slices.Contains(after, k) {
			out = append(out, CertificateDiff{CertFile: k.certFile, KeyFile: k.keyFile, Change: ChangeRemoved, Before: running[k]})
		}
	}
	return out
}

// readCertificates reads the certificates cfg's HTTPS listener serves,
// by files; empty when any file cfg names cannot be used.
func readCertificates(cfg *config.Config) map[pairKey]*CertificateInfo {
	out := make(map[pairKey]*CertificateInfo)
	if cfg.TLS == nil {
		return out
	}
	st, problems := loadTLSState(cfg, nil)
	if len(problems) > 0 {
		return out
	}
	for _, c := range st.certificates() {
		if c.Use == "server" {
			out[pairKey{c.CertFile, c.KeyFile}] = &CertificateInfo{SHA256: c.SHA256, Names: c.Names}
		}
	}
	return out
}
