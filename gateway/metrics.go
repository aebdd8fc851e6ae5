package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics counts what the gateway does and exposes it to Prometheus. The
// request path only adds to atomic counters that a [pool] reaches by
// pointer; the [prometheus.Registry] reads them when it is scraped, through
// a [metricsCollector]. Counters live in [requestStats] and
// [latencyHistogram] objects kept by pool name and backend identity
// ([backendKey]), so a reload that keeps a backend keeps its counts, also
// when it respells the backend's URL; the backend label is the URL as the
// config being served spells it.
type metrics struct {
	g        *Gateway
	registry *prometheus.Registry

	// mu guards the maps and series, which [metrics.sync] replaces and a
	// scrape reads.
	mu      sync.Mutex
	stats   map[seriesKey]*requestStats
	latency map[string]*latencyHistogram
	series  []series
	// routes holds the stats of each route by label, and routeSeries
	// those of the current generation's routes, in order.
	routes      map[string]*routeStats
	routeSeries []routeSeries

	// unrouted counts the requests no route matched, or that came before
	// any config was loaded: pool "" and backend "".
	unrouted        *requestStats
	unroutedLatency *latencyHistogram

	// reloadsMu guards reloads, the count of reload attempts by trigger
	// and result.
	reloadsMu sync.Mutex
	reloads   map[reloadKey]uint64
	// lastReloadOK and lastSuccessNano follow the config file's attempts
	// only.
	lastReloadOK    atomic.Bool
	lastSuccessNano atomic.Int64
}

// reloadKey names the labels of gateway_config_reloads_total.
type reloadKey struct {
	trigger, result string
}

// seriesKey identifies a [requestStats]: its pool, and the key of its
// backend ([backendKey]), "" for the requests the gateway answered itself.
type seriesKey struct {
	pool, backend string
}

// series is one pool and backend the current generation serves, as a scrape
// reports it. backend is nil for the pool's own refusals.
type series struct {
	pool    string
	backend *backend
	stats   *requestStats
}

// label returns the series' backend label: the backend's URL as the config
// being served spells it, or "" for the pool's own refusals.
func (s series) label() string {
	if s.backend == nil {
		return ""
	}
	return s.backend.name()
}

// poolStats is what a [pool] of a published generation counts into: one
// [requestStats] per backend, aligned with [pool.backends], one for the
// requests the gateway refused on the pool's behalf, and the pool's latency
// histogram.
type poolStats struct {
	backends []*requestStats
	refused  *requestStats
	latency  *latencyHistogram
}

// forBackend returns the stats of b in p, or the pool's refusal stats when
// b is not one of p's backends.
func (s *poolStats) forBackend(p *pool, b *backend) *requestStats {
	for i, pb := range p.backends {
		if pb == b {
			return s.backends[i]
		}
	}
	return s.refused
}

// routeStats counts a route's requests by status code, and those its
// rate limit refused. It is kept by the route's label across reloads.
type routeStats struct {
	codes   requestStats
	limited atomic.Uint64
}

// routeSeries is one route of the current generation, as a scrape
// reports it; limited says whether the route has a rate limit.
type routeSeries struct {
	label   string
	limited bool
	stats   *routeStats
}

// statusCodes is the number of status codes [requestStats] counts apart:
// every three-digit code; anything else is counted as code 0.
const statusCodes = 1000

// requestStats counts answered requests by status code with one atomic
// counter per code, so counting takes no lock and no label lookup. The
// counters of a hundred codes (1xx, 2xx, ...) are allocated when the
// first of them is counted: a backend that has served nothing costs ten
// pointers, not a counter for each of the thousand codes, which matters
// with thousands of backends.
type requestStats struct {
	byClass [statusCodes / 100]atomic.Pointer[[100]atomic.Uint64]
}

// count adds one request answered with status code.
func (s *requestStats) count(code int) {
	if code < 0 || code >= statusCodes {
		code = 0
	}
	class := &s.byClass[code/100]
	counts := class.Load()
	if counts == nil {
		class.CompareAndSwap(nil, new([100]atomic.Uint64))
		counts = class.Load()
	}
	counts[code%100].Add(1)
}

// each calls f with every status code counted so far and its count, in
// increasing order of code.
func (s *requestStats) each(f func(code int, n uint64)) {
	for class := range s.byClass {
		counts := s.byClass[class].Load()
		if counts == nil {
			continue
		}
		for i := range counts {
			if n := counts[i].Load(); n > 0 {
				f(class*100+i, n)
			}
		}
	}
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{
		g:               g,
		registry:        prometheus.NewRegistry(),
		stats:           make(map[seriesKey]*requestStats),
		latency:         make(map[string]*latencyHistogram),
		unrouted:        new(requestStats),
		unroutedLatency: new(latencyHistogram),
	}
	m.registry.MustRegister(
		metricsCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// sync attaches stats to every pool and route of gen before it is
// published: the stats of a pool and backend, or of a route label, that
// the running generation already has are kept, new ones start at zero,
// and those gen no longer serves stop being reported. It is called under the gateway's apply lock.
func (m *metrics) sync(gen *generation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	stats := make(map[seriesKey]*requestStats)
	latency := make(map[string]*latencyHistogram)
	var all []series
	keep := func(key seriesKey, b *backend) *requestStats {
		if s, ok := stats[key]; ok {
			return s
		}
		s := m.stats[key]
		if s == nil {
			s = new(requestStats)
		}
		stats[key] = s
		all = append(all, series{pool: key.pool, backend: b, stats: s})
		return s
	}
	for _, p := range gen.pools {
		h := m.latency[p.name]
		if h == nil {
			h = new(latencyHistogram)
		}
		latency[p.name] = h
		ps := &poolStats{latency: h, refused: keep(seriesKey{pool: p.name}, nil)}
		for _, b := range p.backends {
			ps.backends = append(ps.backends, keep(seriesKey{pool: p.name, backend: b.key}, b))
		}
		p.stats = ps
	}
	routes := make(map[string]*routeStats)
	var routeAll []routeSeries
	for i := range gen.routes.routes {
		r := &gen.routes.routes[i]
		s := m.routes[r.label]
		if s == nil {
			s = new(routeStats)
		}
		routes[r.label] = s
		r.stats = s
		routeAll = append(routeAll, routeSeries{label: r.label, limited: r.limiter != nil, stats: s})
	}
	m.stats, m.latency, m.series = stats, latency, all
	m.routes, m.routeSeries = routes, routeAll
}

// current returns what a scrape reports: the series and the latency
// histograms by pool of the current generation, and its routes.
func (m *metrics) current() ([]series, map[string]*latencyHistogram, []routeSeries) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.series, m.latency, m.routeSeries
}

// reloaded counts a reload attempt. Only the config file's attempts set
// whether the last reload succeeded, and when one last did.
func (m *metrics) reloaded(r ReloadRecord) {
	m.reloadsMu.Lock()
	if m.reloads == nil {
		m.reloads = make(map[reloadKey]uint64)
	}
	m.reloads[reloadKey{r.Trigger, r.Result}]++
	m.reloadsMu.Unlock()
	if sourceOf(r.Trigger) != configSource {
		return
	}
	m.lastReloadOK.Store(r.ok())
	if r.ok() {
		m.lastSuccessNano.Store(time.Now().UnixNano())
	}
}

// reloadCounts returns the count of reload attempts by trigger and result:
// every result of the config file's and the certificates' triggers and
// the dns generations applied, counted or not, so that their series exist
// from the start, and whatever else was counted.
func (m *metrics) reloadCounts() map[reloadKey]uint64 {
	counts := make(map[reloadKey]uint64)
	for _, trigger := range []string{TriggerStart, TriggerWatch, TriggerSignal, TriggerCertificate} {
		for _, result := range []string{ResultApplied, ResultRejected, ResultUnchanged} {
			counts[reloadKey{trigger, result}] = 0
		}
	}
	counts[reloadKey{TriggerDNS, ResultApplied}] = 0
	m.reloadsMu.Lock()
	defer m.reloadsMu.Unlock()
	for k, n := range m.reloads {
		counts[k] = n
	}
	return counts
}
