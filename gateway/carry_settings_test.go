package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
)

// The tests of a backend's identity, its pool's name and canonical URL, and
// of pool settings applied to a kept backend in place.

// getN sends n GETs for url with client and fails unless each is answered
// 200 with body want.
func getN(t *testing.T, client *http.Client, url string, n int, want string) {
	t.Helper()
	for range n {
		if status, body := get(t, client, url); status != 200 || body != want {
			t.Fatalf("GET %s: %d %q, want 200 %q", url, status, body, want)
		}
	}
}

// statusOf returns the /status entry of the backend with URL url in pool.
func statusOf(t *testing.T, g *Gateway, pool, url string) BackendStatus {
	t.Helper()
	for _, p := range g.Status().Pools {
		if p.Name != pool {
			continue
		}
		for _, b := range p.Backends {
			if b.URL == url {
				return b
			}
		}
	}
	t.Fatalf("/status has no backend %s in pool %q", url, pool)
	return BackendStatus{}
}

func TestCarryRespelledURLKeepsBackend(t *testing.T) {
	a := startCountedBackend(t, "a", nil)
	port := strings.TrimPrefix(a.URL, "http://127.0.0.1:")
	tests := []struct{ name, spelling, shown string }{
		{"leading zero in the port", "http://127.0.0.1:0" + port, "http://127.0.0.1:0" + port},
		{"IPv4-mapped IPv6", "http://[::FFFF:127.0.0.1]:" + port, "http://[::ffff:127.0.0.1]:" + port},
		{"trailing slash", a.URL + "/", a.URL},
	}
	passive := "    passive: {maxFails: 3, window: 1m, ejectFor: 1m}\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opened := a.opened.Load()
			g, base := startGateway(t, withAdmin(poolConfig("round_robin", passive, a.URL)))
			client := &http.Client{}
			getN(t, client, base+"/", 3, "a")
			old := backendAt(t, g, "p", a.URL)
			now := time.Now()
			for range 2 {
				old.health.ReportFailure(now, old.settings.Load().passive)
			}

			rec := reloadOK(t, g, withAdmin(poolConfig("round_robin", passive, tt.spelling)))

			if rec.Carried != 1 || rec.Added != 0 || rec.Removed != 0 {
				t.Fatalf("carried/added/removed %d/%d/%d, want 1/0/0", rec.Carried, rec.Added, rec.Removed)
			}
			if b := backendAt(t, g, "p", tt.shown); b != old {
				t.Fatal("the respelled server is a new backend")
			}
			getN(t, client, base+"/", 3, "a")
			if n := a.opened.Load() - opened; n != 1 {
				t.Fatalf("the backend saw %d connections, want the one it had", n)
			}
			if !old.health.ReportFailure(now, old.settings.Load().passive) {
				t.Fatal("the passive failure window was lost: a third failure did not reach the threshold")
			}
			if s := statusOf(t, g, "p", tt.shown); s.Requests != 6 || !s.Carried {
				t.Fatalf("/status: %+v, want 6 requests, carried", s)
			}
			fams := scrape(t, g)
			wantMetric(t, fams, 6, "gateway_requests_total", "pool", "p", "backend", tt.shown, "code", "200")
			if tt.shown != a.URL {
				if _, ok := sampleValue(fams, "gateway_requests_total", "pool", "p", "backend", a.URL, "code", "200"); ok {
					t.Error("the metrics still show the old spelling")
				}
			}
		})
	}
}

func TestCarryChangedIntervalKeepsDownBackendDown(t *testing.T) {
	a := startCountedBackend(t, "a", nil)
	const thresholds = ", healthyThreshold: 2, unhealthyThreshold: 1"
	g, base := startGateway(t, healthConfig("1h", thresholds, a.URL))
	b := backendAt(t, g, "p", a.URL)
	waitUntil(t, "the first probe's result", func() bool { return b.health.Snapshot().LastResult == "ok" })
	client := &http.Client{}
	getN(t, client, base+"/", 3, "a")
	// The backend fails its checks; a reload that changes the interval
	// probes it at once and takes it down.
	a.healthz.Store(http.StatusServiceUnavailable)
	reloadOK(t, g, healthConfig("2h", thresholds, a.URL))
	waitUntil(t, "the backend to go down", func() bool { return !b.health.Healthy() })

	rec := reloadOK(t, g, healthConfig("3h", thresholds, a.URL))

	if b.health.Healthy() {
		t.Fatal("the reload brought a down backend back up")
	}
	if rec.Carried != 1 || backendAt(t, g, "p", a.URL) != b {
		t.Fatalf("carried %d: the backend was replaced", rec.Carried)
	}
	// The restarted checker probes at once, and the backend stays down.
	waitUntil(t, "the restarted checker's probe", func() bool { return a.probes.Load() == 3 })
	waitUntil(t, "its result", func() bool { return b.health.Snapshot().ConsecutiveFails == 1 })
	if snap := b.health.Snapshot(); snap.Healthy || snap.Transitions != 1 || snap.Reason != "status 503" {
		t.Fatalf("after the reload: %+v; want down for status 503 since the one transition", snap)
	}
	if status, _ := get(t, client, base+"/"); status != http.StatusServiceUnavailable {
		t.Fatalf("a request to the pool of the down backend got %d, want 503", status)
	}
	if s := statusOf(t, g, "p", a.URL); s.State != StateDown || s.Requests != 3 || !s.Carried {
		t.Fatalf("/status: %+v, want down, 3 requests, carried", s)
	}

	// The backend recovers: one pass under new settings is not enough.
	a.healthz.Store(0)
	reloadOK(t, g, healthConfig("4h", thresholds, a.URL))
	waitUntil(t, "the next restarted checker's probe result", func() bool { return b.health.Snapshot().ConsecutivePasses == 1 })
	if b.health.Healthy() {
		t.Fatal("one pass under the new settings brought the backend up; healthyThreshold is 2")
	}
}

// scriptedProber is a health.Prober that answers with what ok holds and
// records when each probe started.
type scriptedProber struct {
	mu     sync.Mutex
	ok     bool
	starts []time.Time
}

func (p *scriptedProber) Probe(context.Context) health.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts = append(p.starts, time.Now())
	if p.ok {
		return health.Result{OK: true}
	}
	return health.Result{Reason: "status 503"}
}

// set makes the next probes pass or fail.
func (p *scriptedProber) set(ok bool) {
	p.mu.Lock()
	p.ok = ok
	p.mu.Unlock()
}

// since returns the start times of the probes, as offsets from t0.
func (p *scriptedProber) since(t0 time.Time) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for _, s := range p.starts {
		out = append(out, s.Sub(t0))
	}
	return out
}

func TestCarryChangedProbeHostAppliesInPlace(t *testing.T) {
	// The backend routes on its Host: probes pass only for api.example.
	var mu sync.Mutex
	var hosts []string
	a := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			io.WriteString(w, "a")
			return
		}
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		if r.Host != "api.example" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	probed := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), hosts...)
	}
	const thresholds = ", healthyThreshold: 2, unhealthyThreshold: 1"
	hostKey := func(host string) string {
		if host == "" {
			return thresholds
		}
		return thresholds + ", host: " + host
	}
	g, base := startGateway(t, healthConfig("1h", hostKey("www.example"), a.URL))
	b := backendAt(t, g, "p", a.URL)
	waitUntil(t, "the first probe's result", func() bool { return b.health.Snapshot().LastResult != "" })
	if b.health.Healthy() {
		t.Fatal("a probe answered 404 left the backend up")
	}
	b.served.Add(5) // as if it had served before

	rec := reloadOK(t, g, healthConfig("1h", hostKey("api.example"), a.URL))

	if rec.Carried != 1 || rec.Added != 0 || backendAt(t, g, "p", a.URL) != b {
		t.Fatalf("carried %d, added %d: the backend whose probe Host changed was replaced", rec.Carried, rec.Added)
	}
	// The restarted checker probes at once, with the new Host; one pass is
	// not enough for a down backend.
	waitUntil(t, "the restarted checker's probe result", func() bool { return b.health.Snapshot().ConsecutivePasses == 1 })
	if b.health.Healthy() || b.served.Load() != 5 {
		t.Fatalf("after one pass under the new Host: healthy %t, served %d; want down, 5", b.health.Healthy(), b.served.Load())
	}
	if got := probed(); len(got) != 2 || got[0] != "www.example" || got[1] != "api.example" {
		t.Fatalf("probes sent Host %q, want www.example, then api.example", got)
	}

	// Leaving the key out sends the backend's address again.
	reloadOK(t, g, healthConfig("1h", hostKey(""), a.URL))
	waitUntil(t, "the third checker's probe", func() bool { return len(probed()) == 3 })
	if got, want := probed()[2], strings.TrimPrefix(a.URL, "http://"); got != want {
		t.Fatalf("with host left out the probe sent Host %q, want the backend's address %q", got, want)
	}
	if backendAt(t, g, "p", a.URL) != b {
		t.Fatal("the backend was replaced")
	}
	if status, _ := get(t, &http.Client{}, base+"/"); status != http.StatusServiceUnavailable {
		t.Fatalf("a request to the pool of the down backend got %d, want 503", status)
	}
}

func TestCarryRestartsCheckerWithNewInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prober := &scriptedProber{}
		opts := backendOptions{
			logger: slog.New(slog.DiscardHandler),
			prober: func(string, health.CheckConfig) health.Prober { return prober },
		}
		decode := func(interval string) *config.Config {
			cfg, err := config.Decode("t.yaml", []byte(healthConfig(interval, ", healthyThreshold: 2, unhealthyThreshold: 1", "http://127.0.0.1:9")))
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}
		t0 := time.Now()
		gen, plan := build(decode("10s"), nil, 1, nil, nil, opts, nil)
		plan.commit()
		b := gen.pools[0].backends[0]
		defer b.retire()
		synctest.Wait()
		if b.health.Healthy() {
			t.Fatal("a failed probe with unhealthyThreshold 1 left the backend up")
		}
		b.served.Add(7) // as if it had served before
		time.Sleep(35 * time.Second)

		reloaded := time.Now()
		prober.set(true)
		gen, plan = build(decode("1m"), nil, 2, gen, plan.live, opts, nil)
		plan.commit()
		synctest.Wait()
		if gen.pools[0].backends[0] != b || plan.stats.Carried != 1 {
			t.Fatal("the backend whose interval changed was not kept")
		}
		if b.health.Healthy() || b.served.Load() != 7 {
			t.Fatalf("after the first pass under the new interval: healthy %t, served %d; want down, 7", b.health.Healthy(), b.served.Load())
		}
		time.Sleep(66 * time.Second)
		synctest.Wait()
		if !b.health.Healthy() {
			t.Fatal("two passes under the new settings left the backend down")
		}

		// Every 10s ±10% until the reload, then at once and every 1m ±10%.
		starts := prober.since(t0)
		var before, after []time.Duration
		for _, s := range starts {
			if s < reloaded.Sub(t0) {
				before = append(before, s)
			} else {
				after = append(after, s-reloaded.Sub(t0))
			}
		}
		if len(before) != 4 || before[0] != 0 {
			t.Fatalf("probes before the reload at %v, want four from 0 every 10s", before)
		}
		for i := 1; i < len(before); i++ {
			if gap := before[i] - before[i-1]; gap < 9*time.Second || gap > 11*time.Second {
				t.Fatalf("probes before the reload at %v: a gap of %v", before, gap)
			}
		}
		if len(after) != 2 || after[0] != 0 || after[1] < 54*time.Second || after[1] > 66*time.Second {
			t.Fatalf("probes after the reload at %v from it, want one at once and one 1m ±10%% later", after)
		}
	})
}

func TestCarryServerInTwoPoolsIsTwoBackends(t *testing.T) {
	a := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, "a")
	})
	pool := func(name, probe string) string {
		return fmt.Sprintf("  %s:\n    healthCheck: {path: %s, interval: 1h, unhealthyThreshold: 1}\n    servers: [%s]\n", name, probe, a.URL)
	}
	routes := "routes:\n  - {pathPrefix: /x, pool: x}\n  - {pool: y}\n"
	g, base := startGateway(t, "listen: 127.0.0.1:0\npools:\n"+pool("x", "/bad")+pool("y", "/good")+routes)
	x, y := backendAt(t, g, "x", a.URL), backendAt(t, g, "y", a.URL)
	if x == y {
		t.Fatal("the pools share one backend")
	}
	waitUntil(t, "both pools' first probe results", func() bool {
		return x.health.Snapshot().LastResult != "" && y.health.Snapshot().LastResult != ""
	})
	if x.health.Healthy() || !y.health.Healthy() {
		t.Fatalf("healthy in x %t, in y %t; want each as its own pool's checks say: down, up", x.health.Healthy(), y.health.Healthy())
	}
	client := &http.Client{}
	if status, _ := get(t, client, base+"/x"); status != http.StatusServiceUnavailable {
		t.Fatalf("pool x answered %d, want 503", status)
	}
	getN(t, client, base+"/y", 2, "a")
	sx, sy := statusOf(t, g, "x", a.URL), statusOf(t, g, "y", a.URL)
	if sx.State != StateDown || sx.Requests != 0 || sy.State != StateUp || sy.Requests != 2 {
		t.Fatalf("/status: x %+v, y %+v; want x down with 0 requests, y up with 2", sx, sy)
	}

	// A reload that changes pool x's checks keeps both backends.
	rec := reloadOK(t, g, "listen: 127.0.0.1:0\npools:\n"+pool("x", "/other")+pool("y", "/good")+routes)
	if rec.Carried != 2 || backendAt(t, g, "x", a.URL) != x || backendAt(t, g, "y", a.URL) != y {
		t.Fatalf("carried %d: a backend was replaced", rec.Carried)
	}
}

func TestCarryChangedPassiveSettingsKeepEjection(t *testing.T) {
	a, b, c := startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)
	config := func(passive string) string {
		return poolConfig("round_robin", "    passive: {"+passive+"}\n", a.URL, b.URL, c.URL)
	}
	g, base := startGateway(t, config("maxFails: 3, window: 1m, ejectFor: 1m"))
	p := g.current().poolNamed("p")
	ba, bb := backendAt(t, g, "p", a.URL), backendAt(t, g, "p", b.URL)
	for range 3 {
		g.passiveFailure(p, bb, "test")
	}
	ejected := bb.health.Snapshot()
	if !ejected.Ejected {
		t.Fatal("three failures did not eject b")
	}
	for range 2 {
		g.passiveFailure(p, ba, "test")
	}

	rec := reloadOK(t, g, config("maxFails: 3, window: 2m, ejectFor: 5m"))

	if rec.Carried != 3 || backendAt(t, g, "p", b.URL) != bb || backendAt(t, g, "p", a.URL) != ba {
		t.Fatalf("carried %d: a backend was replaced", rec.Carried)
	}
	if snap := bb.health.Snapshot(); !snap.Ejected || !snap.EjectedUntil.Equal(ejected.EjectedUntil) {
		t.Fatalf("b after the reload: %+v; want still ejected until %v", snap, ejected.EjectedUntil)
	}
	seen := map[string]int{}
	for range 4 {
		_, body := get(t, &http.Client{}, base+"/")
		seen[body]++
	}
	if seen["a"] != 2 || seen["c"] != 2 {
		t.Fatalf("served %v, want a and c twice each and the ejected b never", seen)
	}
	// The window was kept, and the new ejectFor applies.
	p = g.current().poolNamed("p")
	g.passiveFailure(p, ba, "test")
	if snap := ba.health.Snapshot(); !snap.Ejected || time.Until(snap.EjectedUntil) < 4*time.Minute {
		t.Fatalf("a after its third failure: %+v; want ejected for the new 5m", snap)
	}

	// Passive health turned off ends the ejections it made.
	reloadOK(t, g, config("maxFails: 0"))
	for _, be := range []*backend{ba, bb} {
		if snap := be.health.Snapshot(); !snap.Healthy || snap.Ejected || snap.Reason != "passive health off" {
			t.Fatalf("%s with passive health off: %+v; want up for passive health off", be.name(), snap)
		}
	}
}

func TestCarryConnectionSettings(t *testing.T) {
	tests := []struct {
		name          string
		before, after string // pool keys
		replaced      bool
		unchanged     bool // the reload is recorded as unchanged: nothing to carry
	}{
		{"connectTimeout", "connectTimeout: 2s", "connectTimeout: 3s", true, false},
		{"idleTimeout", "idleTimeout: 30s", "idleTimeout: 40s", true, false},
		{"responseHeaderTimeout", "responseHeaderTimeout: 60s", "responseHeaderTimeout: 30s", false, false},
		{"passive", "passive: {maxFails: 3}", "passive: {maxFails: 5}", false, false},
		{"nothing", "idleTimeout: 30s", "idleTimeout: 30s", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := startCountedBackend(t, "a", nil), startBackend(t, "c", nil)
			g, base := startGateway(t, poolConfig("round_robin", "    "+tt.before+"\n", a.URL, c.URL))
			ba, bc := backendAt(t, g, "p", a.URL), backendAt(t, g, "p", c.URL)
			bc.health.Eject(time.Minute, "test") // so that every request goes to a
			client := &http.Client{}
			getN(t, client, base+"/", 3, "a")

			rec := reloadOK(t, g, poolConfig("round_robin", "    "+tt.after+"\n", a.URL, c.URL))

			wantCarried, wantResult := 2, ResultApplied
			if tt.unchanged {
				wantCarried, wantResult = 0, ResultUnchanged
			}
			if rec.Result != wantResult {
				t.Fatalf("reload result %q, want %q", rec.Result, wantResult)
			}
			if rec.Carried != wantCarried || backendAt(t, g, "p", a.URL) != ba || backendAt(t, g, "p", c.URL) != bc {
				t.Fatalf("carried %d: a backend was replaced", rec.Carried)
			}
			if snap := bc.health.Snapshot(); !snap.Ejected {
				t.Fatalf("c after the reload: %+v; want still ejected", snap)
			}
			getN(t, client, base+"/", 3, "a")
			wantOpened, wantClosed := int64(1), int64(0)
			if tt.replaced {
				wantOpened, wantClosed = 2, 1
				waitUntil(t, "the replaced idle connection to close", func() bool { return a.closed.Load() == 1 })
			}
			if o, c := a.opened.Load(), a.closed.Load(); o != wantOpened || c != wantClosed {
				t.Fatalf("the backend saw %d connections opened and %d closed, want %d and %d", o, c, wantOpened, wantClosed)
			}
			if n := ba.served.Load(); n != 6 {
				t.Fatalf("served %d, want 6", n)
			}
		})
	}
}

func TestCarryReplacedConnectionsCloseAfterTheirLastRequest(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	defer gate.open() // before the cleanups, which wait for the handler
	a := startCountedBackend(t, "a", slowHandler("a", gate, entered))
	g, base := startGateway(t, poolConfig("round_robin", "    connectTimeout: 2s\n", a.URL))
	slow := getLater(base + "/slow")
	<-entered
	// A second connection, which then idles.
	getN(t, &http.Client{}, base+"/", 1, "a")

	reloadOK(t, g, poolConfig("round_robin", "    connectTimeout: 3s\n", a.URL))

	// The replaced idle connection closes at once; the one carrying the
	// slow request stays open until its answer is through.
	waitUntil(t, "the replaced idle connection to close", func() bool { return a.closed.Load() == 1 })
	getN(t, &http.Client{}, base+"/", 1, "a")
	if o, c := a.opened.Load(), a.closed.Load(); o != 3 || c != 1 {
		t.Fatalf("opened %d, closed %d; want a third connection, and of the replaced ones only the idle one closed while a request is in flight", o, c)
	}
	gate.open()
	if got := <-slow; got != "200 slow" {
		t.Fatalf("the request in flight across the reload: %q, want 200 slow", got)
	}
	waitUntil(t, "the replaced connections to close after the last request on them", func() bool { return a.closed.Load() == 2 })
	getN(t, &http.Client{}, base+"/", 1, "a")
	if o, c := a.opened.Load(), a.closed.Load(); o != 3 || c != 2 {
		t.Fatalf("opened %d, closed %d; want the new connection kept", o, c)
	}
}

func TestCarryRequestsEndOnTheUpstreamTheyStartedOn(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	defer gate.open() // before the cleanups, which wait for the handler
	slow := slowHandler("a", gate, entered)
	a := startCountedBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			upgradeHandler(echo)(w, r)
			return
		}
		slow(w, r)
	})
	g, base := startGateway(t, poolConfig("round_robin", "    connectTimeout: 2s\n", a.URL))
	b := backendAt(t, g, "p", a.URL)
	old := b.upstream.Load()
	pending := getLater(base + "/slow")
	<-entered
	tunnel, br := dialUpgrade(t, base)

	reloadOK(t, g, poolConfig("round_robin", "    connectTimeout: 3s\n", a.URL))

	next := b.upstream.Load()
	if next == old {
		t.Fatal("a new connectTimeout kept the upstream")
	}
	getN(t, &http.Client{}, base+"/", 1, "a")
	if o, n, all := old.inFlight.Load(), next.inFlight.Load(), b.inFlight.Load(); o != 2 || n != 0 || all != 2 {
		t.Fatalf("in flight: %d on the old upstream, %d on the new, %d on the backend; want the request and the tunnel on the old one: 2, 0, 2", o, n, all)
	}
	// Both end on the upstream they started on.
	io.WriteString(tunnel, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the tunnel opened before the reload: %q, %v", buf, err)
	}
	tunnel.Close()
	gate.open()
	if got := <-pending; got != "200 slow" {
		t.Fatalf("the request in flight across the reload: %q, want 200 slow", got)
	}
	waitUntil(t, "the request and the tunnel to end", func() bool { return b.inFlight.Load() == 0 })
	if o, n := old.inFlight.Load(), next.inFlight.Load(); o != 0 || n != 0 {
		t.Fatalf("in flight after they ended: %d on the old upstream, %d on the new; want 0 and 0", o, n)
	}
	// The retired upstream holds no connection any more.
	old.mu.Lock()
	idle, open := len(old.idle), old.open
	old.mu.Unlock()
	if idle != 0 || open != 0 {
		t.Fatalf("the retired upstream holds %d idle of %d pooled connections, want none", idle, open)
	}
}

func TestCarryShorterResponseTimeoutAppliesToKeptConnections(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	defer gate.open() // before the cleanups, which wait for the handler
	a := startCountedBackend(t, "a", slowHandler("a", gate, entered))
	g, base := startGateway(t, poolConfig("round_robin", "    responseHeaderTimeout: 1m\n", a.URL))
	client := &http.Client{}
	getN(t, client, base+"/", 1, "a")

	reloadOK(t, g, poolConfig("round_robin", "    responseHeaderTimeout: 100ms\n", a.URL))

	start := time.Now()
	status, _ := get(t, client, base+"/slow")
	took := time.Since(start)
	<-entered
	if status != http.StatusGatewayTimeout {
		t.Fatalf("a silent backend answered %d after %v, want 504", status, took)
	}
	if n := a.opened.Load(); n != 1 {
		t.Fatalf("the backend saw %d connections, want the kept one", n)
	}
	// 100ms and its slack of 12.5ms; the bound leaves the old 1m far out.
	if took > 10*time.Second {
		t.Fatalf("the 504 took %v, want about 100ms", took)
	}
	t.Logf("the 504 took %v", took)
}

func TestCarryProbingOffBringsDownBackendUp(t *testing.T) {
	a := startCountedBackend(t, "a", nil)
	a.healthz.Store(http.StatusServiceUnavailable)
	g, base := startGateway(t, healthConfig("1h", ", unhealthyThreshold: 1", a.URL))
	b := backendAt(t, g, "p", a.URL)
	waitUntil(t, "the backend to go down", func() bool { return !b.health.Healthy() })

	reloadOK(t, g, poolConfig("round_robin", "", a.URL))

	if backendAt(t, g, "p", a.URL) != b {
		t.Fatal("the backend was replaced")
	}
	if n := checkers(g); n != 0 {
		t.Fatalf("%d checkers run with probing off", n)
	}
	s := statusOf(t, g, "p", a.URL)
	if s.State != StateUp || s.Reason != "active checks off" || s.LastProbe != nil || s.LastResult != "" {
		t.Fatalf("/status: %+v; want up for active checks off, no probe", s)
	}
	getN(t, &http.Client{}, base+"/", 2, "a")
}

func TestRotationContinuesAcrossSettingsChange(t *testing.T) {
	urls := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		urls[name] = startBackend(t, name, nil).URL
	}
	tests := []struct {
		algorithm    string
		servers      string
		served, next string
	}{
		{"round_robin", "a b c", "a", "bcabc"},
		{"weighted_round_robin", "a:3 b:1", "aa", "baaaba"},
	}
	for _, tt := range tests {
		t.Run(tt.algorithm, func(t *testing.T) {
			servers := rotationServers(urls, tt.servers)
			g, base := startGateway(t, poolConfig(tt.algorithm, "    connectTimeout: 2s\n", servers...))
			client := &http.Client{}
			if got := sequence(t, client, base+"/", len(tt.served)); got != tt.served {
				t.Fatalf("before the reload served %q, want %q", got, tt.served)
			}
			reloadOK(t, g, poolConfig(tt.algorithm, "    connectTimeout: 3s\n    passive: {maxFails: 5}\n", servers...))
			if got := sequence(t, client, base+"/", len(tt.next)); got != tt.next {
				t.Fatalf("after a reload that changed only settings served %q, want %q", got, tt.next)
			}
		})
	}
}
