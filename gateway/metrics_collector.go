package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The descriptions of the gateway's own metrics.
var (
	descRequests = prometheus.NewDesc("gateway_requests_total",
		"Requests answered, by pool, backend and status code; backend is empty for answers the gateway gave itself and pool is empty when no route matched.",
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
		"Config load attempts, by result: applied or rejected.",
		[]string{"result"}, nil)
	descLastReloadOK = prometheus.NewDesc("gateway_config_last_reload_successful",
		"Whether the last config load attempt was applied (1) or rejected (0).",
		nil, nil)
	descLastSuccess = prometheus.NewDesc("gateway_config_last_reload_success_timestamp_seconds",
		"Unix time of the last config that was applied.",
		nil, nil)
	descGeneration = prometheus.NewDesc("gateway_config_generation",
		"Number of the generation being served; 0 before the first config.",
		nil, nil)
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
		descFailures, descReloads, descLastReloadOK, descLastSuccess, descGeneration, descUpgraded} {
		ch <- d
	}
}

// Collect reads the counters and sends them as metrics.
func (c metricsCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	all, latency := m.current()
	collectRequests(ch, seriesKey{}, m.unrouted)
	for _, s := range all {
		collectRequests(ch, s.seriesKey, s.stats)
		if b := s.backend; b != nil {
			healthy := 0.0
			if b.health.Healthy() {
				healthy = 1
			}
			ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, s.pool, s.seriesKey.backend)
			ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(b.inFlight.Load()), s.pool, s.seriesKey.backend)
			ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(b.failures.Load()), s.pool, s.seriesKey.backend)
		}
	}
	collectLatency(ch, "", m.unroutedLatency)
	for pool, h := range latency {
		collectLatency(ch, pool, h)
	}

	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(m.reloadsApplied.Load()), ResultApplied)
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(m.reloadsRejected.Load()), ResultRejected)
	ok := 0.0
	if m.lastReloadOK.Load() {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descLastReloadOK, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(m.lastSuccessNano.Load())/1e9)
	var number uint64
	if gen := m.g.gen.Load(); gen != nil {
		number = gen.number
	}
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(number))
	ch <- prometheus.MustNewConstMetric(descUpgraded, prometheus.GaugeValue, float64(m.g.openTunnels()))
}

// collectRequests sends one gateway_requests_total series for every status
// code s has counted.
func collectRequests(ch chan<- prometheus.Metric, key seriesKey, s *requestStats) {
	for code := range s.byCode {
		if n := s.byCode[code].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), key.pool, key.backend, strconv.Itoa(code))
		}
	}
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
