package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The descriptions of the gateway's own metrics.
var (
	descRequests = prometheus.NewDesc("gateway_requests_total",
		"Requests answered, by pool, backend and status code; backend is empty for answers the gateway gave itself, and pool when no route matched or the route answered without a pool (a redirect, a rate limit).",
		[]string{"pool", "backend", "code"}, nil)
	descDuration = prometheus.NewDesc("gateway_request_duration_seconds",
		"Time from the start of a request to the end of its response body, by pool; upgraded connections are not included.",
		[]string{"pool"}, nil)
	descHealthy = prometheus.NewDesc("gateway_backend_healthy",
		"Whether the backend may take traffic (1) or not (0).",
		[]string{"pool", "backend"}, nil)
	descInFlight = prometheus.NewDesc("gateway_backend_in_flight",
		"Requests in flight on the backend, upgraded connections included.",
		[]string{"pool", "backend"}, nil)
	descFailures = prometheus.NewDesc("gateway_backend_failures_total",
		"Requests the backend could not answer: connect failures, closes, resets and timeouts before the response, invalid responses, and responses cut short.",
		[]string{"pool", "backend"}, nil)
	descReloads = prometheus.NewDesc("gateway_config_reloads_total",
		"Reload attempts, by trigger (start, watch, signal for the config file; certificate for a TLS file it names; dns for a changed answer) and result (applied, rejected, unchanged).",
		[]string{"trigger", "result"}, nil)
	descResolutions = prometheus.NewDesc("gateway_dns_resolutions_total",
		"Lookups of the names of resolved servers, by name and result: ok (addresses), empty (NXDOMAIN or no A or AAAA record), timeout, error (SERVFAIL, REFUSED, unreachable, malformed).",
		[]string{"name", "result"}, nil)
	descLastReloadOK = prometheus.NewDesc("gateway_config_last_reload_successful",
		"Whether the last attempt to load the config file was applied or unchanged (1) or rejected (0).",
		nil, nil)
	descLastSuccess = prometheus.NewDesc("gateway_config_last_reload_success_timestamp_seconds",
		"Unix time of the last attempt to load the config file that was applied or unchanged.",
		nil, nil)
	descWatcherFailing = prometheus.NewDesc("gateway_config_watcher_failing",
		"Whether the config watcher cannot watch (1) and changes are found by polling while it is restarted, or watches or is off (0).",
		nil, nil)
	descWatcherFailures = prometheus.NewDesc("gateway_config_watcher_failures_total",
		"Times the config watcher stopped watching with an error.",
		nil, nil)
	descGeneration = prometheus.NewDesc("gateway_config_generation",
		"Number of the generation being served; 0 before the first config.",
		nil, nil)
	descRouteRequests = prometheus.NewDesc("gateway_route_requests_total",
		"Requests answered, by route (its name, or routes[i]) and status code.",
		[]string{"route", "code"}, nil)
	descRateLimited = prometheus.NewDesc("gateway_rate_limited_total",
		"Requests refused with 429 by the route's rate limit, by route.",
		[]string{"route"}, nil)
	descUpgraded = prometheus.NewDesc("gateway_upgraded_connections",
		"Upgraded connections (WebSocket and the like) open now.",
		nil, nil)
)

// metricsCollector reports the counters of a [metrics] at scrape time as
// constant metrics, so the request path never touches a metric vector.
type metricsCollector struct{ m *metrics }

// Describe sends the descriptions of every metric Collect reports.
func (c metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descDuration, descHealthy, descInFlight,
		descFailures, descReloads, descLastReloadOK, descLastSuccess, descWatcherFailing, descWatcherFailures,
		descGeneration, descUpgraded, descRouteRequests, descRateLimited, descCertExpiry, descCertReloadOK, descResolutions} {
		ch <- d
	}
}

// Collect reads the counters and sends them as metrics.
func (c metricsCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	all, latency, routes := m.current()
	collectCodes(ch, descRequests, m.unrouted, "", "")
	for _, s := range all {
		label := s.label()
		collectCodes(ch, descRequests, s.stats, s.pool, label)
		if b := s.backend; b != nil {
			healthy := 0.0
			if b.health.Healthy() {
				healthy = 1
			}
			ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, s.pool, label)
			ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(b.inFlight.Load()), s.pool, label)
			ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(b.failures.Load()), s.pool, label)
		}
	}
	for _, r := range routes {
		collectCodes(ch, descRouteRequests, &r.stats.codes, r.label)
		if r.limited {
			ch <- prometheus.MustNewConstMetric(descRateLimited, prometheus.CounterValue, float64(r.stats.limited.Load()), r.label)
		}
	}
	collectLatency(ch, "", m.unroutedLatency)
	for pool, h := range latency {
		collectLatency(ch, pool, h)
	}

	for k, n := range m.reloadCounts() {
		ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(n), k.trigger, k.result)
	}
	ok := 0.0
	if m.lastReloadOK.Load() {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descLastReloadOK, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(m.lastSuccessNano.Load())/1e9)
	watch, failures := m.g.watch.get()
	failing := 0.0
	if watch.State == WatchFailing {
		failing = 1
	}
	ch <- prometheus.MustNewConstMetric(descWatcherFailing, prometheus.GaugeValue, failing)
	ch <- prometheus.MustNewConstMetric(descWatcherFailures, prometheus.CounterValue, float64(failures))
	var number uint64
	if gen := m.g.gen.Load(); gen != nil {
		number = gen.number
	}
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(number))
	ch <- prometheus.MustNewConstMetric(descUpgraded, prometheus.GaugeValue, float64(m.g.openTunnels()))
	collectTLS(ch, m.g.tls.Load())
	collectResolutions(ch, m.g.names.current())
}

// collectCodes sends one series of the counter desc for every status
// code s has counted, labelled with labels and the code.
func collectCodes(ch chan<- prometheus.Metric, desc *prometheus.Desc, s *requestStats, labels ...string) {
	s.each(func(code int, n uint64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(n), append(labels, strconv.Itoa(code))...)
	})
}

// collectLatency sends the duration histogram of pool.
func collectLatency(ch chan<- prometheus.Metric, pool string, h *latencyHistogram) {
	count, sum, buckets := h.snapshot()
	ch <- prometheus.MustNewConstHistogram(descDuration, count, sum, buckets, pool)
}

// openTunnels returns how many upgraded connections are open.
func (g *Gateway) openTunnels() int {
	g.tunnels.mu.Lock()
	defer g.tunnels.mu.Unlock()
	return len(g.tunnels.conns) / 2
}
