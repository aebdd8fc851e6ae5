package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countedBackend is a loopback backend that answers its name and counts
// the TCP connections it accepts and closes and the health probes it gets
// on /healthz, which it answers with the status healthz holds (200 while
// it holds 0).
type countedBackend struct {
	*httptest.Server
	name           string
	opened, closed atomic.Int64
	probes         atomic.Int64
	healthz        atomic.Int32
}

// startCountedBackend starts a countedBackend; handler, when not nil,
// answers every path but /healthz instead of the name.
func startCountedBackend(t *testing.T, name string, handler http.HandlerFunc) *countedBackend {
	t.Helper()
	b := &countedBackend{name: name}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if code := b.healthz.Load(); code != 0 {
				w.WriteHeader(int(code))
			}
			b.probes.Add(1)
			return
		}
		if handler != nil {
			handler(w, r)
			return
		}
		io.WriteString(w, name)
	}))
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			b.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			b.closed.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// releaseGate is a channel a backend handler waits on; it is opened at most
// once, by the test or by its cleanup, so no handler outlives the test.
type releaseGate struct {
	ch   chan struct{}
	once sync.Once
}

func newReleaseGate(t *testing.T) *releaseGate {
	g := &releaseGate{ch: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *releaseGate) open() { g.once.Do(func() { close(g.ch) }) }

// slowHandler answers "slow" once gate opens on /slow, and name at once on
// every other path. entered receives a value when a /slow request arrives.
func slowHandler(name string, gate *releaseGate, entered chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-gate.ch
			io.WriteString(w, "slow")
			return
		}
		io.WriteString(w, name)
	}
}

// getLater sends a GET for url from a goroutine of its own and delivers
// "STATUS BODY", or the error, on the channel it returns.
func getLater(url string) <-chan string {
	out := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			out <- err.Error()
			return
		}
		out <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	return out
}

// waitBound is how long waitUntil waits: far more than any condition
// takes on a loaded machine, so that reaching it means the condition
// never came.
const waitBound = 15 * time.Second

// waitUntil polls cond until it holds, and fails the test when it has not
// within waitBound.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitBound, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reloadOK applies config to g and fails the test when it is rejected.
func reloadOK(t *testing.T, g *Gateway, config string) ReloadRecord {
	t.Helper()
	rec, err := g.Load("test.yaml", []byte(config), TriggerWatch)
	if err != nil {
		t.Fatalf("reload rejected: %v", err)
	}
	return rec
}

// backendAt returns the backend with base URL url in pool name of the
// current generation.
func backendAt(t *testing.T, g *Gateway, name, url string) *backend {
	t.Helper()
	p := g.current().poolNamed(name)
	if p == nil {
		t.Fatalf("no pool %q", name)
	}
	for _, b := range p.backends {
		if b.name() == url {
			return b
		}
	}
	t.Fatalf("pool %q has no backend %s", name, url)
	return nil
}

// checkers counts the health checkers of g that probe.
func checkers(g *Gateway) int { return g.backends.checks.Checkers() }

// goroutinesIn counts the goroutines whose stack holds frame, a function
// name followed by "(".
func goroutinesIn(frame string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), frame)
		}
		buf = make([]byte, 2*len(buf))
	}
}

// healthConfig is a one-pool config with active checks on /healthz every
// interval; hcExtra adds keys to the healthCheck mapping.
func healthConfig(interval, hcExtra string, servers ...string) string {
	return strings.Replace(poolConfig("round_robin", "", servers...), "healthCheck: {enabled: false}",
		fmt.Sprintf("healthCheck: {enabled: true, path: /healthz, interval: %s%s}", interval, hcExtra), 1)
}

func TestCarryKeepsBackendState(t *testing.T) {
	a, b, c := startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)
	passive := "    passive: {maxFails: 3, window: 1m, ejectFor: 1m}\n"
	g, base := startGateway(t, poolConfig("round_robin", passive, a.URL, b.URL))
	client := &http.Client{}
	for range 4 {
		if status, _ := get(t, client, base+"/"); status != 200 {
			t.Fatalf("status %d", status)
		}
	}
	oldA, oldB := backendAt(t, g, "p", a.URL), backendAt(t, g, "p", b.URL)
	oldB.health.Eject(time.Minute, "test")
	now := time.Now()
	for range 2 {
		if oldA.health.ReportFailure(now, oldA.settings.Load().passive) {
			t.Fatal("two failures reached a threshold of three")
		}
	}

	rec := reloadOK(t, g, poolConfig("round_robin", passive, a.URL, b.URL, c.URL))

	if rec.Carried != 2 || rec.Added != 1 || rec.Removed != 0 {
		t.Fatalf("carried/added/removed %d/%d/%d, want 2/1/0", rec.Carried, rec.Added, rec.Removed)
	}
	newA, newB := backendAt(t, g, "p", a.URL), backendAt(t, g, "p", b.URL)
	if newA != oldA || newB != oldB {
		t.Fatal("an unchanged backend was not carried over as the same *Backend")
	}
	if got := g.current().poolNamed("p").carried; fmt.Sprint(got) != "[true true false]" {
		t.Fatalf("Carried %v, want [true true false]", got)
	}
	if newA.served.Load() != 2 || newB.served.Load() != 2 {
		t.Fatalf("served %d and %d, want 2 and 2", newA.served.Load(), newB.served.Load())
	}
	if s := newB.health.Snapshot(); s.Healthy || !s.Ejected {
		t.Fatalf("ejected backend after reload: %+v, want still ejected", s)
	}
	if !newA.health.ReportFailure(now, newA.settings.Load().passive) {
		t.Fatal("the passive failure window was not carried: a third failure did not reach the threshold")
	}
	// b is ejected, so the rotation serves only a and the new c.
	seen := map[string]int{}
	for range 4 {
		_, body := get(t, client, base+"/")
		seen[body]++
	}
	if seen["a"] != 2 || seen["c"] != 2 {
		t.Fatalf("after reload served %v, want a and c twice each and the ejected b never", seen)
	}
}

func TestCarryKeepsInFlightCount(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	a := startBackend(t, "a", slowHandler("a", gate, entered))
	g, base := startGateway(t, poolConfig("round_robin", "", a.URL))
	done := getLater(base + "/slow")
	<-entered
	reloadOK(t, g, "# a comment changes the content only\n"+poolConfig("round_robin", "", a.URL))
	b := backendAt(t, g, "p", a.URL)
	if n := b.inFlight.Load(); n != 1 {
		t.Fatalf("in flight after reload %d, want 1", n)
	}
	gate.open()
	if got := <-done; got != "200 slow" {
		t.Fatalf("slow request: %q, want 200 slow", got)
	}
	waitUntil(t, "the in-flight count to drop to 0", func() bool { return b.inFlight.Load() == 0 })
	if b.served.Load() != 1 {
		t.Fatalf("served %d, want 1", b.served.Load())
	}
}

func TestCarryRemovedBackendStopsChecker(t *testing.T) {
	a, b := startCountedBackend(t, "a", nil), startCountedBackend(t, "b", nil)
	g, _ := startGateway(t, healthConfig("10ms", "", a.URL, b.URL))
	waitUntil(t, "two probes of each backend", func() bool { return a.probes.Load() >= 2 && b.probes.Load() >= 2 })
	if n := checkers(g); n != 2 {
		t.Fatalf("%d checkers, want 2", n)
	}

	rec := reloadOK(t, g, healthConfig("10ms", "", b.URL))

	if rec.Carried != 1 || rec.Removed != 1 {
		t.Fatalf("carried/removed %d/%d, want 1/1", rec.Carried, rec.Removed)
	}
	if n := checkers(g); n != 1 {
		t.Fatalf("%d checkers after removing a backend, want 1", n)
	}
	probesA, probesB := a.probes.Load(), b.probes.Load()
	waitUntil(t, "five more probes of the remaining backend", func() bool { return b.probes.Load() >= probesB+5 })
	if got := a.probes.Load(); got != probesA {
		t.Fatalf("the removed backend got %d probes after its removal", got-probesA)
	}
}

func TestCarryRemovedBackendClosesIdleConnectionsAtOnce(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	a := startCountedBackend(t, "a", slowHandler("a", gate, entered))
	b := startCountedBackend(t, "b", nil)
	g, base := startGateway(t, poolConfig("round_robin", "", a.URL))
	slow := getLater(base + "/slow")
	<-entered
	// A second request needs a second backend connection, which then
	// idles in the removed backend's pool.
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "a" {
		t.Fatalf("got %d %q, want 200 a", status, body)
	}
	if n := a.opened.Load(); n != 2 {
		t.Fatalf("backend a has %d connections, want 2", n)
	}

	rec := reloadOK(t, g, poolConfig("round_robin", "", b.URL))

	if rec.Removed != 1 || rec.Added != 1 {
		t.Fatalf("added/removed %d/%d, want 1/1", rec.Added, rec.Removed)
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "b" {
		t.Fatalf("new generation answered %d %q, want 200 b", status, body)
	}
	// The idle connection closes at once; the one carrying the request
	// stays open until its answer is through.
	waitUntil(t, "the removed backend's idle connection to close", func() bool { return a.closed.Load() == 1 })
	gate.open()
	if got := <-slow; got != "200 slow" {
		t.Fatalf("the in-flight request on the removed backend: %q, want 200 slow", got)
	}
	waitUntil(t, "both connections of the removed backend to close", func() bool { return a.closed.Load() == 2 })
}

func TestCarryKeepsKeepAliveConnections(t *testing.T) {
	a := startCountedBackend(t, "a", nil)
	other := startBackend(t, "other", nil)
	g, base := startGateway(t, poolConfig("round_robin", "", a.URL))
	client := &http.Client{}
	sequential := func() {
		t.Helper()
		for range 5 {
			if status, body := get(t, client, base+"/"); status != 200 || body != "a" {
				t.Fatalf("got %d %q, want 200 a", status, body)
			}
		}
	}
	sequential()
	configs := []string{
		poolConfig("round_robin", "", a.URL),
		"# only a comment\n" + poolConfig("round_robin", "", a.URL),
		poolConfig("round_robin", "", a.URL) + "  q:\n    servers: [" + other.URL + "]\nroutes:\n  - {pathPrefix: /q, pool: q}\n  - {pool: p}\n",
	}
	for _, config := range configs {
		reloadOK(t, g, config)
		sequential()
	}
	if n := a.opened.Load(); n != 1 {
		t.Fatalf("backend saw %d connections over %d reloads, want the one it had", n, len(configs))
	}
}

// rotationServers turns tokens such as "a" or "a:3" (backend a, weight 3)
// into server entries for the backends of urls.
func rotationServers(urls map[string]string, tokens string) []string {
	var out []string
	for _, tok := range strings.Fields(tokens) {
		name, weight, weighted := strings.Cut(tok, ":")
		if weighted {
			out = append(out, fmt.Sprintf("{url: %s, weight: %s}", urls[name], weight))
		} else {
			out = append(out, urls[name])
		}
	}
	return out
}

// sequence fetches n responses from url and returns their bodies joined.
func sequence(t *testing.T, client *http.Client, url string, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		status, body := get(t, client, url)
		if status != 200 {
			t.Fatalf("GET %s: status %d", url, status)
		}
		b.WriteString(body)
	}
	return b.String()
}

func TestRotationContinuesAcrossReload(t *testing.T) {
	urls := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		urls[name] = startBackend(t, name, nil).URL
	}
	tests := []struct {
		name          string
		algorithm     string
		before, after string // server tokens
		served, next  string // responses before and after the reload
	}{
		{"added in front", "round_robin", "a b", "c a b", "ab", "cabca"},
		{"identical", "round_robin", "a b c", "a b c", "a", "bcabc"},
		{"reordered", "round_robin", "a b c", "b a c", "ab", "acbac"},
		{"reordered last at end", "round_robin", "a b c", "c b a", "a", "cbacb"},
		{"last served removed", "round_robin", "a b c", "a c", "ab", "caca"},
		{"last two removed", "round_robin", "a b c", "a", "abc", "aa"},
		{"weighted identical", "weighted_round_robin", "a:3 b:1", "a:3 b:1", "aa", "baaaba"},
		{"weighted after light", "weighted_round_robin", "a:3 b:1", "a:3 b:1", "aab", "aaabaa"},
		// a b a c a is the schedule of 3:1:1; b was served last, so the
		// rotation goes on after b's slot.
		{"weighted added", "weighted_round_robin", "a:3 b:1", "a:3 b:1 c:1", "aab", "acaab"},
		// Two of a's three slots were taken; four of its six count as
		// taken in the schedule a a a b a a a.
		{"weighted reweighted", "weighted_round_robin", "a:3 b:1", "a:6 b:1", "aa", "aaaaaba"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, base := startGateway(t, poolConfig(tt.algorithm, "", rotationServers(urls, tt.before)...))
			client := &http.Client{}
			if got := sequence(t, client, base+"/", len(tt.served)); got != tt.served {
				t.Fatalf("before the reload served %q, want %q", got, tt.served)
			}
			reloadOK(t, g, poolConfig(tt.algorithm, "", rotationServers(urls, tt.after)...))
			if got := sequence(t, client, base+"/", len(tt.next)); got != tt.next {
				t.Fatalf("after the reload served %q, want %q", got, tt.next)
			}
		})
	}
}

// twoPoolConfig routes /x to pool x and everything else to pool y.
func twoPoolConfig(x, y []string) string {
	list := func(s []string) string { return "[" + strings.Join(s, ", ") + "]" }
	return "listen: 127.0.0.1:0\nhealthCheck: {enabled: false}\npools:\n" +
		"  x:\n    servers: " + list(x) + "\n" +
		"  y:\n    servers: " + list(y) + "\n" +
		"routes:\n  - {pathPrefix: /x, pool: x}\n  - {pool: y}\n"
}

func TestRotationOfOtherPoolUndisturbed(t *testing.T) {
	a, b, c := startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)
	g, base := startGateway(t, twoPoolConfig([]string{a.URL, b.URL, c.URL}, []string{a.URL, b.URL, c.URL}))
	client := &http.Client{}
	if got := sequence(t, client, base+"/y", 1) + sequence(t, client, base+"/x", 2); got != "aab" {
		t.Fatalf("served %q, want a from y, then a b from x", got)
	}
	reloadOK(t, g, twoPoolConfig([]string{c.URL, a.URL}, []string{a.URL, b.URL, c.URL}))
	if got := sequence(t, client, base+"/y", 4); got != "bcab" {
		t.Fatalf("pool y after pool x changed served %q, want bcab", got)
	}
}

// concurrentBodies has clients keep-alive clients send each GETs to url
// side by side, and counts the bodies of the responses. before, when not
// nil, is called before each client's i-th request.
func concurrentBodies(t *testing.T, url string, clients, each int, before func(i int)) map[string]int {
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{}
			for i := range each {
				if before != nil {
					before(i)
				}
				resp, err := client.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				counts[string(body)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts
}

// TestRotationOfOtherPoolExactUnderReloads checks that requests in flight
// on older generations and those on newer ones share an unchanged pool's
// rotation: every backend gets exactly its share however the reloads of
// another pool interleave with the requests. Each client's i-th request
// waits for the (i/4+1)-th reload, so at least 10 reloads land while the
// requests run, however fast the machine is.
func TestRotationOfOtherPoolExactUnderReloads(t *testing.T) {
	a, b, c := startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)
	all := []string{a.URL, b.URL, c.URL}
	g, base := startGateway(t, twoPoolConfig(all, all))
	stop := make(chan struct{})
	stopped := make(chan struct{})
	var landed atomic.Int64
	go func() {
		defer close(stopped)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := g.Load("test.yaml", []byte(twoPoolConfig(all[n%3:n%3+1], all)), TriggerWatch); err != nil {
				t.Error(err)
				return
			}
			landed.Add(1)
		}
	}()
	pace := func(i int) {
		deadline := time.Now().Add(waitBound)
		for landed.Load() < int64(i/4+1) {
			if time.Now().After(deadline) {
				t.Errorf("reload %d did not land within %v", i/4+1, waitBound)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	counts := concurrentBodies(t, base+"/y", 6, 40, pace)
	n := landed.Load()
	close(stop)
	<-stopped
	if counts["a"] != 80 || counts["b"] != 80 || counts["c"] != 80 {
		t.Fatalf("pool y served %v over %d reloads of pool x, want 80 each", counts, n)
	}
	if n < 10 {
		t.Fatalf("only %d reloads landed while the requests ran, want at least 10", n)
	}
}
