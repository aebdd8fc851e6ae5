package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// withAdmin adds an admin listener on a free loopback port to config.
func withAdmin(config string) string {
	return config + "admin: 127.0.0.1:0\n"
}

// routedConfig is a config with pool p of servers, which requests for host
// 127.0.0.1 go to, and pool dead of one backend at the address down where
// nothing listens, which requests for /dead go to.
func routedConfig(down string, servers ...string) string {
	return poolConfig("round_robin", "", servers...) + `  dead:
    healthCheck: {enabled: false}
    passive: {maxFails: 0}
    servers: [http://` + down + `]
routes:
  - pathPrefix: /dead
    pool: dead
  - host: 127.0.0.1
    pool: p
`
}

// sendRefused sends a request of a [routedConfig] gateway at public to the
// dead pool, answered 502, and one to a host no route matches, answered
// 404.
func sendRefused(t *testing.T, public string) {
	t.Helper()
	get(t, http.DefaultClient, public+"/dead")
	req, _ := http.NewRequest(http.MethodDelete, public+"/", nil)
	req.Host = "elsewhere.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
}

// adminGet fetches path from g's admin listener and returns status and
// body.
func adminGet(t *testing.T, g *Gateway, path string) (int, string) {
	t.Helper()
	addr := g.AdminAddr()
	if addr == "" {
		t.Fatal("the admin listener is off")
	}
	return get(t, http.DefaultClient, "http://"+addr+path)
}

// adminStatus fetches and decodes /status.
func adminStatus(t *testing.T, g *Gateway) StatusReport {
	t.Helper()
	code, body := adminGet(t, g, "/status")
	if code != http.StatusOK {
		t.Fatalf("/status: %d %s", code, body)
	}
	var r StatusReport
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	return r
}

// refused reports whether nothing listens on addr.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func TestAdminHealthzAndReadyz(t *testing.T) {
	b := startBackend(t, "a", nil)
	g, _ := startGateway(t, withAdmin(poolConfig("round_robin", "", b.URL)))
	tests := []struct {
		path, method string
		code         int
		body         string
	}{
		{"/healthz", http.MethodGet, 200, "ok"},
		{"/readyz", http.MethodGet, 200, "ready"},
		{"/healthz", http.MethodPost, 405, "Method Not Allowed\n"},
		{"/nothing", http.MethodGet, 404, "404 page not found\n"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://"+g.AdminAddr()+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != tt.code || body != tt.body {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, body, tt.code, tt.body)
		}
	}
}

func TestAdminStatus(t *testing.T) {
	a := startBackend(t, "a", nil)
	b := startBackend(t, "b", nil)
	text := withAdmin(poolConfig("weighted_round_robin", "", "{url: "+a.URL+", weight: 3}", b.URL))
	g, public := startGateway(t, text)
	for range 4 {
		get(t, http.DefaultClient, public+"/")
	}
	waitUntil(t, "the 4 requests to end", func() bool {
		p := g.current().pools[0]
		return p.backends[0].served.Load()+p.backends[1].served.Load() == 4 && p.backends[0].inFlight.Load()+p.backends[1].inFlight.Load() == 0
	})

	r := adminStatus(t, g)
	gen := g.current()
	if r.Generation.Number != 1 || r.Generation.Hash != config.Hash([]byte(text)) || r.Generation.Source != "test.yaml" ||
		!r.Generation.LoadedAt.Equal(gen.loadedAt) {
		t.Errorf("generation = %+v, want number 1, hash of the config, source test.yaml, loaded at %v", r.Generation, gen.loadedAt)
	}
	if !r.Ready {
		t.Error("ready = false")
	}
	if r.LastReload == nil || r.LastReload.Result != ResultApplied || r.LastReload.Generation != 1 || r.LastReload.Trigger != TriggerStart {
		t.Errorf("lastReload = %+v", r.LastReload)
	}
	want := []PoolStatus{{Name: "p", Algorithm: config.WeightedRoundRobin, Backends: []BackendStatus{
		{URL: a.URL, Healthy: true, State: StateUp, Reason: "starting", Requests: 3, Weight: 3},
		{URL: b.URL, Healthy: true, State: StateUp, Reason: "starting", Requests: 1, Weight: 1},
	}}}
	if got, _ := json.Marshal(r.Pools); string(got) != string(mustJSON(t, want)) {
		t.Errorf("pools =\n%s\nwant\n%s", got, mustJSON(t, want))
	}
	// lastProbe and ejectedUntil are null, not zero times.
	if _, body := adminGet(t, g, "/status"); !strings.Contains(body, `"lastProbe": null`) || !strings.Contains(body, `"ejectedUntil": null`) {
		t.Errorf("/status lacks null lastProbe and ejectedUntil:\n%s", body)
	}
}

func TestAdminStatusCarriedAndProbed(t *testing.T) {
	a := startBackend(t, "a", nil)
	b := startBackend(t, "b", nil)
	g, _ := startGateway(t, withAdmin(healthConfig("50ms", "", a.URL)))
	waitUntil(t, "a probe", func() bool { return !g.current().pools[0].backends[0].health.Snapshot().LastProbe.IsZero() })
	reloadOK(t, g, withAdmin(healthConfig("50ms", "", a.URL, b.URL)))

	r := adminStatus(t, g)
	bs := r.Pools[0].Backends
	if len(bs) != 2 || !bs[0].Carried || bs[1].Carried {
		t.Fatalf("backends = %+v, want a carried and b not", bs)
	}
	if bs[0].LastProbe == nil || bs[0].LastResult != "ok" {
		t.Errorf("a: lastProbe %v, lastResult %q; want a probe that passed", bs[0].LastProbe, bs[0].LastResult)
	}
	if r.Generation.Number != 2 || r.LastReload.Carried != 1 || r.LastReload.Added != 1 {
		t.Errorf("generation %d, last reload %+v", r.Generation.Number, r.LastReload)
	}
}

func TestAdminReloads(t *testing.T) {
	b := startBackend(t, "a", nil)
	cfg := withAdmin(poolConfig("round_robin", "", b.URL))
	g, _ := startGateway(t, cfg)
	if _, err := g.Load("test.yaml", []byte("listen: [\n"), TriggerWatch); err == nil {
		t.Fatal("a broken config was applied")
	}
	reloadOK(t, g, cfg+"# touched\n")
	reloadOK(t, g, strings.Replace(cfg, "round_robin", "least_connections", 1))

	code, body := adminGet(t, g, "/reloads")
	var got []ReloadRecord
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("/reloads = %d %v\n%s", code, err, body)
	}
	want := []struct {
		result, trigger string
		generation      uint64
	}{{ResultApplied, TriggerStart, 1}, {ResultRejected, TriggerWatch, 0}, {ResultUnchanged, TriggerWatch, 1}, {ResultApplied, TriggerWatch, 2}}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(got), len(want), body)
	}
	for i, w := range want {
		if got[i].Result != w.result || got[i].Trigger != w.trigger || got[i].Generation != w.generation {
			t.Errorf("record %d = %+v, want %+v", i, got[i], w)
		}
	}
	if got[1].Error == "" || got[1].Hash != config.Hash([]byte("listen: [\n")) {
		t.Errorf("the rejected record lacks its error or hash: %+v", got[1])
	}
	if !strings.Contains(body, `"durationSeconds"`) {
		t.Errorf("records lack durationSeconds:\n%s", body)
	}
}

func TestAdminNotOnPublicListener(t *testing.T) {
	b := startBackend(t, "backend", nil)
	g, public := startGateway(t, withAdmin(poolConfig("round_robin", "", b.URL)))
	for _, path := range []string{"/healthz", "/readyz", "/status", "/reloads", "/metrics"} {
		if code, body := get(t, http.DefaultClient, public+path); code != 200 || body != "backend" {
			t.Errorf("public %s = %d %q, want the backend's answer", path, code, body)
		}
	}
	if code, _ := adminGet(t, g, "/healthz"); code != 200 {
		t.Errorf("admin /healthz = %d", code)
	}
}

func TestAdminOffWithoutAddress(t *testing.T) {
	b := startBackend(t, "a", nil)
	g, _ := startGateway(t, poolConfig("round_robin", "", b.URL))
	if addr := g.AdminAddr(); addr != "" {
		t.Fatalf("AdminAddr = %q without admin in the config", addr)
	}
}

func TestAdminReadyzDrainsAtShutdown(t *testing.T) {
	gate := newReleaseGate(t)
	entered := make(chan struct{}, 1)
	b := startBackend(t, "a", slowHandler("a", gate, entered))
	g, public := startGateway(t, withAdmin(poolConfig("round_robin", "", b.URL)))
	admin := g.AdminAddr()

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(public + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		slow <- readAll(t, resp)
	}()
	<-entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- g.Shutdown(ctx)
	}()
	waitUntil(t, "/readyz to answer 503", func() bool {
		code, body := get(t, http.DefaultClient, "http://"+admin+"/readyz")
		return code == http.StatusServiceUnavailable && body == "not ready: draining"
	})
	if code, body := get(t, http.DefaultClient, "http://"+admin+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz while draining = %d %q", code, body)
	}
	gate.open()
	if got := <-slow; got != "slow" {
		t.Errorf("the request in flight got %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !refused(admin) {
		t.Error("the admin listener still accepts after shutdown")
	}
}

func TestAdminRebindsOnReload(t *testing.T) {
	b := startBackend(t, "a", nil)
	base := poolConfig("round_robin", "", b.URL)
	g, _ := startGateway(t, withAdmin(base))
	first := g.AdminAddr()

	reloadOK(t, g, withAdmin(base)+"# same admin address\n")
	if got := g.AdminAddr(); got != first {
		t.Fatalf("an unchanged admin address was rebound: %s, then %s", first, got)
	}

	next := freeAddr(t)
	reloadOK(t, g, base+"admin: "+next+"\n")
	if got := g.AdminAddr(); got != next {
		t.Fatalf("AdminAddr = %s, want %s", got, next)
	}
	if code, _ := adminGet(t, g, "/healthz"); code != 200 {
		t.Errorf("the new admin listener answered %d", code)
	}
	// The old address answers until its clients have gone, then closes.
	if code, _ := get(t, &http.Client{}, "http://"+first+"/healthz"); code != 200 {
		t.Errorf("the retiring admin address answered %d", code)
	}
	waitRetired(t, g.adminDoor)
	if !refused(first) {
		t.Errorf("the old admin listener %s still accepts", first)
	}

	reloadOK(t, g, base)
	if got := g.AdminAddr(); got != "" {
		t.Fatalf("AdminAddr = %q after the admin key was removed", got)
	}
	waitRetired(t, g.adminDoor)
	if !refused(next) {
		t.Errorf("the admin listener %s still accepts after its key was removed", next)
	}
}

// waitRetired waits until every socket e retired has closed. It does not
// connect, which would keep a retiring socket open.
func waitRetired(t *testing.T, e *entrance) {
	t.Helper()
	waitUntil(t, "the retiring sockets to close", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.retiring) == 0
	})
}

func TestAdminBindFailureRejectsReload(t *testing.T) {
	b := startBackend(t, "a", nil)
	base := poolConfig("round_robin", "", b.URL)
	g, _ := startGateway(t, withAdmin(base))
	running := g.AdminAddr()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	rec, err := g.Load("test.yaml", []byte(base+"admin: "+taken.Addr().String()+"\n"), TriggerWatch)
	if err == nil || rec.Result != ResultRejected || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("reload onto a taken admin address: %+v, %v; want rejected with an admin error", rec, err)
	}
	if g.current().number != 1 || g.AdminAddr() != running {
		t.Fatalf("generation %d, admin %s after a rejected reload; want 1 and %s", g.current().number, g.AdminAddr(), running)
	}
	if code, _ := adminGet(t, g, "/healthz"); code != 200 {
		t.Errorf("the running admin listener answered %d", code)
	}
}

// readAll reads and closes resp's body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("reading the body: %v", err)
	}
	return string(b)
}

// mustJSON encodes v.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
