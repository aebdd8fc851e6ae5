package gateway

import (
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// generation is everything one config produced: its pools, their backends
// and the routes to them. A generation is immutable once published; a
// request loads the current one once and finishes on it, however long it
// takes, while a reload publishes the next one beside it.
type generation struct {
	// number counts the generations this process has published, from 1.
	number uint64
	// cfg is the config the generation was built from.
	cfg *config.Config
	// loadedAt is when the generation was published.
	loadedAt time.Time
	// pools lists the pools in config order, and byName holds them by
	// name.
	pools  []*pool
	byName map[string]*pool
	// routes are the compiled routes, in match order.
	routes *routeTable
	// addrs are the addresses of the resolved servers' names that the
	// generation was built with, by name.
	addrs map[string][]netip.Addr
}

// poolNamed returns the pool called name, or nil.
func (g *generation) poolNamed(name string) *pool {
	if g.byName != nil {
		return g.byName[name]
	}
	for _, p := range g.pools {
		if p.name == name {
			return p
		}
	}
	return nil
}

// carryStats counts what a build did with the backends of the generation
// before it.
type carryStats struct {
	Carried, Added, Removed int
}

// backendPlan is what a built generation does to the backends once it is
// published; see [backendPlan.commit].
type backendPlan struct {
	// live is the set of backends the generation serves, by key.
	live map[string]*backend
	// added lists the new backends and carried the kept ones, with the
	// settings to apply to them; retired lists those that left.
	added   []*backend
	carried []carriedBackend
	retired []*backend
	stats   carryStats
}

// carriedBackend is a backend a build kept, and the target and pool
// config that it now serves under, with the pool's TLS material.
type carriedBackend struct {
	b      *backend
	target target
	pool   *config.PoolConfig
	tls    *clientTLS
}

// target is one backend that a server of the config stands for: the
// server itself, or one address of a resolved server's name.
type target struct {
	// server is the server in the config.
	server config.ServerConfig
	// url is where the backend is: the server's URL, or the server's
	// scheme, one address of its name and its port.
	url *url.URL
}

// targets returns the backends that server s stands for: s itself, or,
// for a resolved server, one for each address addrs holds for its name,
// in the order of addrs.
func targets(s config.ServerConfig, addrs map[string][]netip.Addr) []target {
	if !s.Resolve {
		return []target{{server: s, url: s.URL}}
	}
	port := s.URL.Port()
	var out []target
	for _, a := range addrs[s.Name()] {
		host := a.String()
		switch {
		case port != "":
			host = net.JoinHostPort(host, port)
		case a.Is6():
			host = "[" + host + "]"
		}
		out = append(out, target{server: s, url: &url.URL{Scheme: s.URL.Scheme, Host: host}})
	}
	return out
}

// targetPlan is what becomes of the backends when a config is applied:
// for each pool of the config, in config order, the backends it serves,
// each carried over or new; and the running backends that leave.
type targetPlan struct {
	pools []plannedPool
	// removed holds the keys of the running backends the config has no
	// place for, sorted.
	removed []string
	stats   carryStats
}

// plannedPool is one pool of a [targetPlan].
type plannedPool struct {
	cfg      *config.PoolConfig
	backends []plannedBackend
}

// plannedBackend is one backend of a [plannedPool]: the target it stands
// for, its key ([backendKey]), its weight, and whether a running backend
// with that key is carried over.
type plannedBackend struct {
	target  target
	key     string
	weight  int
	carried bool
}

// planTargets decides what applying cfg does to the backends in live,
// by key, with addrs as the addresses of its resolved servers' names. A
// backend whose key is in live is carried over; the others are new; the
// keys of live that cfg has no place for are removed. A backend that two
// servers of a pool stand for (a static server and an address of a
// resolved one, or an address of two names) is one backend of the pool,
// at the place and with the weight of the first. It is the one decision
// of carry-over: [build] carries it out and `gateway diff` prints it.
func planTargets[V any](cfg *config.Config, addrs map[string][]netip.Addr, live map[string]V) targetPlan {
	var tp targetPlan
	kept := make(map[string]bool)
	for _, pc := range cfg.Pools {
		pp := plannedPool{cfg: pc}
		for _, sc := range pc.Servers {
			for _, t := range targets(sc, addrs) {
				key := backendKey(pc.Name, t.url)
				if kept[key] {
					continue // the pool has it already
				}
				kept[key] = true
				_, carried := live[key]
				if carried {
					tp.stats.Carried++
				} else {
					tp.stats.Added++
				}
				pp.backends = append(pp.backends, plannedBackend{target: t, key: key, weight: sc.Weight, carried: carried})
			}
		}
		tp.pools = append(tp.pools, pp)
	}
	for key := range live {
		if !kept[key] {
			tp.removed = append(tp.removed, key)
		}
	}
	slices.Sort(tp.removed)
	tp.stats.Removed = len(tp.removed)
	return tp
}

// build makes the generation for cfg beside prev, with addrs as the
// addresses of its resolved servers' names, as [planTargets] decides:
// backends whose key is in live are kept, the others created; the plan
// returned says what becomes of every backend once the generation is
// published. tlsOf gives the TLS material of a pool's tls setting (nil:
// the system's roots). build starts nothing and changes nothing that a
// running request can see.
func build(cfg *config.Config, addrs map[string][]netip.Addr, number uint64, prev *generation, live map[string]*backend, opts backendOptions, tlsOf func(config.BackendTLSConfig) *clientTLS) (*generation, *backendPlan) {
	g := &generation{number: number, cfg: cfg, addrs: addrs, byName: make(map[string]*pool, len(cfg.Pools))}
	tp := planTargets(cfg, addrs, live)
	plan := &backendPlan{live: make(map[string]*backend), stats: tp.stats}
	for _, pp := range tp.pools {
		pc := pp.cfg
		p := &pool{name: pc.Name, algorithm: pc.Algorithm, on5xx: pc.Passive.On5xx}
		var ct *clientTLS
		if tlsOf != nil {
			ct = tlsOf(pc.TLS)
		}
		for _, pb := range pp.backends {
			b := live[pb.key]
			if pb.carried {
				plan.carried = append(plan.carried, carriedBackend{b: b, target: pb.target, pool: pc, tls: ct})
			} else {
				b = newBackend(pb.target, pc, opts, ct)
				plan.added = append(plan.added, b)
			}
			plan.live[pb.key] = b
			p.backends = append(p.backends, b)
			p.carried = append(p.carried, pb.carried)
			p.weights = append(p.weights, pb.weight)
		}
		p.selector = newSelector(p.algorithm, p.weights)
		if prev != nil {
			continueRotation(p, prev.poolNamed(p.name))
		}
		g.pools = append(g.pools, p)
		g.byName[p.name] = p
	}
	var prevRoutes *routeTable
	if prev != nil {
		prevRoutes = prev.routes
	}
	g.routes = compileRoutes(cfg.Routes, g.poolNamed, prevRoutes)
	for _, key := range tp.removed {
		plan.retired = append(plan.retired, live[key])
	}
	return g, plan
}

// commit carries out the plan once its generation is published: the new
// backends start probing, the kept ones take their new settings in place
// ([backend.update]) and those that left are retired.
func (plan *backendPlan) commit() {
	for _, b := range plan.added {
		b.start()
	}
	for _, c := range plan.carried {
		c.b.update(c.target, c.pool, c.tls)
	}
	for _, b := range plan.retired {
		b.retire()
	}
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
func continueRotation(p, old *pool) {
	if old == nil || old.algorithm != p.algorithm {
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
		i := p.index(old.backends[oldSlots[slot]].key)
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
func sameRotation(p, old *pool) bool {
	if len(p.backends) != len(old.backends) {
		return false
	}
	for i, b := range p.backends {
		if b.key != old.backends[i].key || p.weights[i] != old.weights[i] {
			return false
		}
	}
	return true
}

// rotation returns the cycle of p's selector, the backend index of each
// slot, and the counter of slots taken; nil for selectors without one.
func rotation(p *pool) ([]int32, *atomic.Uint64) {
	switch s := p.selector.(type) {
	case *roundRobin:
		slots := make([]int32, len(p.backends))
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
