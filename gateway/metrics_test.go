package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches and parses /metrics from g's admin listener.
func scrape(t *testing.T, g *Gateway) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := adminGet(t, g, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// sampleValue returns the value of the sample of family name whose labels
// are exactly labels, given as name, value pairs: the value of a counter or
// gauge, the sample count of a histogram. ok is false when there is none.
func sampleValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		var got []string
		for _, l := range m.Label {
			got = append(got, l.GetName(), l.GetValue())
		}
		if !slices.Equal(got, sortedPairs(labels)) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// sortedPairs sorts name, value pairs by name, as the exposition does.
func sortedPairs(pairs []string) []string {
	type pair struct{ k, v string }
	var ps []pair
	for i := 0; i+1 < len(pairs); i += 2 {
		ps = append(ps, pair{pairs[i], pairs[i+1]})
	}
	slices.SortFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	var out []string
	for _, p := range ps {
		out = append(out, p.k, p.v)
	}
	return out
}

// waitMetric polls /metrics until the sample has value want.
func waitMetric(t *testing.T, g *Gateway, want float64, name string, labels ...string) {
	t.Helper()
	var got float64
	var ok bool
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, ok = sampleValue(scrape(t, g), name, labels...); ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v (present %t), want %v", name, labels, got, ok, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantMetric checks one sample of fams.
func wantMetric(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	if got, ok := sampleValue(fams, name, labels...); !ok || got != want {
		t.Errorf("%s%v = %v (present %t), want %v", name, labels, got, ok, want)
	}
}

func TestMetricsCountRequestsByBackendAndCode(t *testing.T) {
	ok := startBackend(t, "ok", nil)
	teapot := startBackend(t, "teapot", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	down := closedAddr(t)
	g, public := startGateway(t, withAdmin(routedConfig(down, ok.URL, teapot.URL)))
	for range 4 {
		get(t, http.DefaultClient, public+"/")
	}
	sendRefused(t, public)

	waitMetric(t, g, 2, "gateway_requests_total", "pool", "p", "backend", ok.URL, "code", "200")
	waitMetric(t, g, 2, "gateway_requests_total", "pool", "p", "backend", teapot.URL, "code", "418")
	fams := scrape(t, g)
	wantMetric(t, fams, 1, "gateway_requests_total", "pool", "dead", "backend", "", "code", "502")
	wantMetric(t, fams, 1, "gateway_requests_total", "pool", "", "backend", "", "code", "404")
	wantMetric(t, fams, 4, "gateway_request_duration_seconds", "pool", "p")
	wantMetric(t, fams, 1, "gateway_request_duration_seconds", "pool", "dead")
	wantMetric(t, fams, 1, "gateway_request_duration_seconds", "pool", "")
	wantMetric(t, fams, 1, "gateway_backend_failures_total", "pool", "dead", "backend", "http://"+down)
	wantMetric(t, fams, 0, "gateway_backend_in_flight", "pool", "p", "backend", ok.URL)
	wantMetric(t, fams, 1, "gateway_backend_healthy", "pool", "p", "backend", ok.URL)
	if n := len(fams["gateway_requests_total"].Metric); n != 4 {
		t.Errorf("%d gateway_requests_total series, want 4", n)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "gateway_upgraded_connections"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestMetricsInFlight(t *testing.T) {
	gate := newReleaseGate(t)
	entered := make(chan struct{}, 1)
	b := startBackend(t, "a", slowHandler("a", gate, entered))
	g, public := startGateway(t, withAdmin(poolConfig("round_robin", "", b.URL)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.Get(public + "/slow"); err == nil {
			readAll(t, resp)
		}
	}()
	<-entered
	wantMetric(t, scrape(t, g), 1, "gateway_backend_in_flight", "pool", "p", "backend", b.URL)
	gate.open()
	<-done
	waitMetric(t, g, 0, "gateway_backend_in_flight", "pool", "p", "backend", b.URL)
	waitMetric(t, g, 1, "gateway_requests_total", "pool", "p", "backend", b.URL, "code", "200")
}

func TestMetricsFollowHealth(t *testing.T) {
	var failing atomic.Bool
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	g, _ := startGateway(t, withAdmin(healthConfig("50ms", "", b.URL)))
	waitMetric(t, g, 1, "gateway_backend_healthy", "pool", "p", "backend", b.URL)
	failing.Store(true)
	waitMetric(t, g, 0, "gateway_backend_healthy", "pool", "p", "backend", b.URL)
	failing.Store(false)
	waitMetric(t, g, 1, "gateway_backend_healthy", "pool", "p", "backend", b.URL)
}

func TestMetricsFollowReloads(t *testing.T) {
	b := startBackend(t, "a", nil)
	config := withAdmin(poolConfig("round_robin", "", b.URL))
	before := time.Now()
	g, _ := startGateway(t, config)
	fams := scrape(t, g)
	wantMetric(t, fams, 1, "gateway_config_reloads_total", "trigger", "start", "result", "applied")
	// Every result of every config trigger is there from the start.
	for _, trigger := range []string{"start", "watch", "signal"} {
		for _, result := range []string{"applied", "rejected", "unchanged"} {
			if _, ok := sampleValue(fams, "gateway_config_reloads_total", "trigger", trigger, "result", result); !ok {
				t.Errorf("no series gateway_config_reloads_total{trigger=%q,result=%q}", trigger, result)
			}
		}
	}
	wantMetric(t, fams, 0, "gateway_config_reloads_total", "trigger", "watch", "result", "rejected")
	wantMetric(t, fams, 1, "gateway_config_last_reload_successful")
	wantMetric(t, fams, 1, "gateway_config_generation")
	if ts, _ := sampleValue(fams, "gateway_config_last_reload_success_timestamp_seconds"); ts < float64(before.Unix()) {
		t.Errorf("last success timestamp %v is before the start %v", ts, before.Unix())
	}

	if _, err := g.Load("test.yaml", []byte("pools: {p: {servers: [ftp://x]}}\n"), TriggerWatch); err == nil {
		t.Fatal("an invalid config was applied")
	}
	fams = scrape(t, g)
	wantMetric(t, fams, 1, "gateway_config_reloads_total", "trigger", "watch", "result", "rejected")
	wantMetric(t, fams, 0, "gateway_config_last_reload_successful")
	wantMetric(t, fams, 1, "gateway_config_generation")

	// The running config again, with a comment: unchanged, which is a
	// success.
	reloadOK(t, g, config+"# touched\n")
	fams = scrape(t, g)
	wantMetric(t, fams, 1, "gateway_config_reloads_total", "trigger", "watch", "result", "unchanged")
	wantMetric(t, fams, 0, "gateway_config_reloads_total", "trigger", "watch", "result", "applied")
	wantMetric(t, fams, 1, "gateway_config_last_reload_successful")
	wantMetric(t, fams, 1, "gateway_config_generation")

	if _, err := g.Load("test.yaml", []byte(config+"shutdownTimeout: 5s\n"), TriggerSignal); err != nil {
		t.Fatal(err)
	}
	fams = scrape(t, g)
	wantMetric(t, fams, 1, "gateway_config_reloads_total", "trigger", "signal", "result", "applied")
	wantMetric(t, fams, 1, "gateway_config_last_reload_successful")
	wantMetric(t, fams, 2, "gateway_config_generation")
}

func TestMetricsSurviveReload(t *testing.T) {
	a := startBackend(t, "a", nil)
	b := startBackend(t, "b", nil)
	c := startBackend(t, "c", nil)
	g, public := startGateway(t, withAdmin(poolConfig("round_robin", "", a.URL, b.URL)))
	for range 4 {
		get(t, http.DefaultClient, public+"/")
	}
	waitMetric(t, g, 2, "gateway_requests_total", "pool", "p", "backend", a.URL, "code", "200")
	waitMetric(t, g, 2, "gateway_requests_total", "pool", "p", "backend", b.URL, "code", "200")

	reloadOK(t, g, withAdmin(poolConfig("round_robin", "", a.URL, c.URL)))
	for range 2 {
		get(t, http.DefaultClient, public+"/")
	}
	waitMetric(t, g, 3, "gateway_requests_total", "pool", "p", "backend", a.URL, "code", "200")
	waitMetric(t, g, 1, "gateway_requests_total", "pool", "p", "backend", c.URL, "code", "200")
	fams := scrape(t, g)
	if _, ok := sampleValue(fams, "gateway_requests_total", "pool", "p", "backend", b.URL, "code", "200"); ok {
		t.Error("the removed backend is still reported")
	}
	if _, ok := sampleValue(fams, "gateway_backend_healthy", "pool", "p", "backend", b.URL); ok {
		t.Error("the removed backend's health is still reported")
	}
	wantMetric(t, fams, 6, "gateway_request_duration_seconds", "pool", "p")
}

func TestLatencyHistogramBuckets(t *testing.T) {
	var h latencyHistogram
	for _, d := range []time.Duration{0, 5 * time.Millisecond, 6 * time.Millisecond, time.Second, time.Minute} {
		h.observe(d)
	}
	count, sum, buckets := h.snapshot()
	if count != 5 || math.Abs(sum-61.011) > 1e-9 {
		t.Errorf("count %d, sum %v", count, sum)
	}
	want := map[float64]uint64{.005: 2, .01: 3, .025: 3, .05: 3, .1: 3, .25: 3, .5: 3, 1: 4, 2.5: 4, 5: 4, 10: 4}
	for le, n := range want {
		if buckets[le] != n {
			t.Errorf("bucket le=%v = %d, want %d", le, buckets[le], n)
		}
	}
}

// observedGateway returns a gateway serving one pool of one backend that
// nothing is sent to, with extra config, and an exchange on that backend,
// for measuring observe.
func observedGateway(tb testing.TB, extra string) (*Gateway, *exchange) {
	g := New(Options{})
	if _, err := g.Load("bench.yaml", []byte(poolConfig("round_robin", "", "http://127.0.0.1:9")+extra), TriggerStart); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	p := g.current().pools[0]
	ex := &exchange{g: g, route: &g.current().routes.routes[0], pool: p, backend: p.backends[0], start: time.Now(), status: 200, bytes: 512,
		method: []byte("GET"), host: []byte("example.com"), path: []byte("/index.html?q=1")}
	return g, ex
}

func TestObserveDoesNotAllocate(t *testing.T) {
	g, ex := observedGateway(t, "")
	if n := testing.AllocsPerRun(1000, func() { g.observe(ex) }); n != 0 {
		t.Errorf("observe allocates %v times per call", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	g, ex := observedGateway(b, "")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.observe(ex)
		}
	})
}

func BenchmarkObserveWithAccessLog(b *testing.B) {
	g, ex := observedGateway(b, "accessLog: "+b.TempDir()+"/access.log\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.observe(ex)
		}
	})
}

// load returns how many requests s counted with status code.
func (s *requestStats) load(code int) uint64 {
	var got uint64
	s.each(func(c int, n uint64) {
		if c == code {
			got = n
		}
	})
	return got
}

func TestRequestStatsCountsEveryCode(t *testing.T) {
	var s requestStats
	for _, code := range []int{200, 200, 404, 599, 999, 1000, -1, 0} {
		s.count(code)
	}
	var got []string
	s.each(func(code int, n uint64) { got = append(got, fmt.Sprintf("%d=%d", code, n)) })
	want := "0=3 200=2 404=1 599=1 999=1"
	if strings.Join(got, " ") != want {
		t.Fatalf("counts %v, want %s", got, want)
	}
	if s.byClass[3].Load() != nil || s.byClass[1].Load() != nil {
		t.Fatal("counters were allocated for classes never counted")
	}
}
