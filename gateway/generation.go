package gateway

import (
	"bytes"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// Generation is everything one config produced: its pools, their backends
// and the routes to them. A Generation is immutable once published; a
// request loads the current one once and finishes on it, however long it
// takes, while a reload publishes the next one beside it.
type Generation struct {
	// Number counts the generations this process has published, from 1.
	Number uint64
	// Config is the config the generation was built from.
	Config *config.Config
	// LoadedAt is when the generation was published.
	LoadedAt time.Time
	// Pools lists the pools in config order.
	Pools []*Pool

	routes []route
}

// route is a compiled [config.RouteConfig].
type route struct {
	host   []byte // lowercase; empty matches any host
	prefix []byte // empty matches any path
	pool   *Pool
}

// match returns the pool of the first route that matches host (the Host
// header, any port ignored) and path, or nil.
func (g *Generation) match(host, path []byte) *Pool {
	host = stripPort(host)
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

// Pool returns the pool called name, or nil.
func (g *Generation) Pool(name string) *Pool {
	for _, p := range g.Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
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

// carryStats counts what a build did with the backends of the generation
// before it.
type carryStats struct {
	Carried, Added, Removed int
}

// build makes the generation for cfg beside prev. Backends whose identity
// is in live are reused, the others created; the returned map is the new
// set of live backends and retired lists those that left the config. build
// starts nothing and changes nothing that a running request can see.
func build(cfg *config.Config, number uint64, prev *Generation, live map[string]*Backend, logger *slog.Logger) (g *Generation, next map[string]*Backend, retired []*Backend, stats carryStats) {
	g = &Generation{Number: number, Config: cfg}
	next = make(map[string]*Backend)
	for _, pc := range cfg.Pools {
		p := &Pool{Name: pc.Name, Algorithm: pc.Algorithm, on5xx: pc.Passive.On5xx}
		for _, sc := range pc.Servers {
			key := backendKey(sc.URL, pc)
			b, seen := next[key]
			carried := false
			if !seen {
				if old, ok := live[key]; ok {
					b, carried = old, true
					stats.Carried++
				} else {
					b = newBackend(sc, pc, logger)
					stats.Added++
				}
				next[key] = b
			} else {
				_, carried = live[key]
			}
			p.Backends = append(p.Backends, b)
			p.Carried = append(p.Carried, carried)
			p.weights = append(p.weights, sc.Weight)
		}
		p.selector = newSelector(p.Algorithm, p.weights)
		if prev != nil {
			continueRotation(p, prev.Pool(p.Name))
		}
		g.Pools = append(g.Pools, p)
	}
	for _, rc := range cfg.Routes {
		g.routes = append(g.routes, route{host: []byte(rc.Host), prefix: []byte(rc.PathPrefix), pool: g.Pool(rc.Pool)})
	}
	for key, b := range live {
		if _, ok := next[key]; !ok {
			retired = append(retired, b)
			stats.Removed++
		}
	}
	return g, next, retired, stats
}

// continueRotation makes p's rotation go on from where old's stopped.
//
// A pool whose algorithm, backends and weights did not change takes over
// old's selector, so requests still running on the old generation and
// those on the new one advance a single rotation and the backends keep
// their exact shares.
//
// Otherwise, if the backend old served last is in p, p's next pick is the
// one after it: for weighted round-robin, the slot after the one that
// stands at the same fraction of that backend's slots in p's schedule.
// When the backend served last left the pool, the rotation goes on with
// the first backend after it in old's order that p kept.
func continueRotation(p, old *Pool) {
	if old == nil || old.Algorithm != p.Algorithm {
		return
	}
	if sameRotation(p, old) {
		p.selector = old.selector
		return
	}
	oldSlots, oldNext := rotation(old)
	newSlots, newNext := rotation(p)
	if len(oldSlots) == 0 || len(newSlots) == 0 {
		return
	}
	taken := oldNext.Load()
	if taken == 0 {
		return
	}
	last := int((taken - 1) % uint64(len(oldSlots)))
	for k := range oldSlots {
		slot := (last + k) % len(oldSlots)
		i := p.index(old.Backends[oldSlots[slot]].key)
		if i < 0 {
			continue
		}
		had, j := occurrences(oldSlots, slot)
		has, _ := occurrences(newSlots, slotOf(newSlots, i, 0))
		if has == 0 {
			continue
		}
		if k == 0 {
			// The last served took its (j+1)-th of had slots: go on after
			// the slot that leaves the same fraction of its has slots done.
			newNext.Store(uint64(slotOf(newSlots, i, ((j+1)*has+had-1)/had-1) + 1))
		} else {
			newNext.Store(uint64(slotOf(newSlots, i, j*has/had)))
		}
		return
	}
}

// sameRotation reports whether p and old pick alike: the same backends in
// the same order with the same weights.
func sameRotation(p, old *Pool) bool {
	if len(p.Backends) != len(old.Backends) {
		return false
	}
	for i, b := range p.Backends {
		if b.key != old.Backends[i].key || p.weights[i] != old.weights[i] {
			return false
		}
	}
	return true
}

// rotation returns the cycle of p's selector, the backend index of each
// slot, and the counter of slots taken; nil for selectors without one.
func rotation(p *Pool) ([]int32, *atomic.Uint64) {
	switch s := p.selector.(type) {
	case *roundRobin:
		slots := make([]int32, len(p.Backends))
		for i := range slots {
			slots[i] = int32(i)
		}
		return slots, &s.next
	case *weightedRoundRobin:
		return s.schedule, &s.next
	}
	return nil, nil
}

// occurrences returns how many slots hold the backend of slot, and how
// many of them come before slot. A slot of -1 counts nothing.
func occurrences(slots []int32, slot int) (total, before int) {
	if slot < 0 {
		return 0, 0
	}
	for k, s := range slots {
		if s == slots[slot] {
			total++
			if k < slot {
				before++
			}
		}
	}
	return total, before
}

// slotOf returns the slot of backend i's n-th appearance (from 0) in
// slots, or -1.
func slotOf(slots []int32, i, n int) int {
	for k, s := range slots {
		if int(s) == i {
			if n == 0 {
				return k
			}
			n--
		}
	}
	return -1
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
