package gateway

// End-to-end tests of resolved servers: a real DNS server on loopback
// (dns_server_test.go) whose answers each test changes, and backends on
// distinct loopback addresses, 127.0.0.2, 127.0.0.3, ..., all on one
// port, as the pods behind a headless Service are.

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// appName is the name the tests' resolved servers look up.
const appName = "app.gateway.test"

// addrBackend is a backend on a loopback address of its own. It answers
// every path with the last number of its address ("2" for 127.0.0.2),
// /slow once its gate opens, and counts what it served.
type addrBackend struct {
	*httptest.Server
	ip     string // "127.0.0.N"
	name   string // "N"
	served atomic.Int64
	// gate holds /slow requests; entered receives one value per /slow
	// request that arrived.
	gate    *releaseGate
	entered chan struct{}
	// healthz is the status /healthz answers, 0 for 200, and probeHost
	// the Host header of the last probe.
	healthz   atomic.Int32
	probeHost atomic.Value
}

// startAddrBackends starts n backends on 127.0.0.2 up to 127.0.0.(n+1),
// all on one port, which it returns.
func startAddrBackends(t *testing.T, n int) (port string, backends []*addrBackend) {
	t.Helper()
	for try := 0; ; try++ {
		port, listeners, err := listenOnePort(n)
		if err == nil {
			for i, ln := range listeners {
				backends = append(backends, startAddrBackend(t, ln, fmt.Sprintf("127.0.0.%d", i+2)))
			}
			return port, backends
		}
		if try == 10 {
			t.Fatalf("no port free on %d loopback addresses: %v", n, err)
		}
	}
}

// listenOnePort listens on 127.0.0.2 up to 127.0.0.(n+1) on one port.
func listenOnePort(n int) (string, []net.Listener, error) {
	first, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(first.Addr().String())
	listeners := []net.Listener{first}
	for i := 3; i < n+2; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%s", i, port))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return "", nil, err
		}
		listeners = append(listeners, ln)
	}
	return port, listeners, nil
}

func startAddrBackend(t *testing.T, ln net.Listener, ip string) *addrBackend {
	b := &addrBackend{ip: ip, name: ip[strings.LastIndexByte(ip, '.')+1:], gate: newReleaseGate(t), entered: make(chan struct{}, 100)}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			b.probeHost.Store(r.Host)
			if code := b.healthz.Load(); code != 0 {
				w.WriteHeader(int(code))
			}
			return
		case "/slow":
			b.entered <- struct{}{}
			<-b.gate.ch
		}
		b.served.Add(1)
		io.WriteString(w, b.name)
	}))
	b.Listener.Close()
	b.Listener = ln
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// ips returns the addresses of backends.
func ips(backends ...*addrBackend) []string {
	var out []string
	for _, b := range backends {
		out = append(out, b.ip)
	}
	return out
}

// resolvedConfig is a config with an admin listener and the pool app of
// one resolved server, http://app.gateway.test:PORT, looked up on the
// DNS server at dnsAddr every refresh, with health checks off; extra
// adds keys to the pool. A lookup may take 5s, ten times a loopback
// answer's worst on a loaded machine, so that a name resolves at start;
// the tests of failed lookups shorten it (timeoutOption).
func resolvedConfig(dnsAddr, port, refresh, extra string) string {
	return withDNSTimeout(dnsAddr, port, refresh, extra, "5s")
}

// withDNSTimeout is [resolvedConfig] with timeout as dns.timeout.
func withDNSTimeout(dnsAddr, port, refresh, extra, timeout string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
admin: 127.0.0.1:0
dns: {resolvers: [%q], refresh: %s, timeout: %s}
pools:
  app:
    healthCheck: {enabled: false}
%s    servers:
      - {url: "http://%s:%s", resolve: true}
`, dnsAddr, refresh, timeout, extra, appName, port)
}

// waitGeneration waits until g serves a generation after number and
// returns it.
func waitGeneration(t *testing.T, g *Gateway, after uint64) *generation {
	t.Helper()
	waitUntil(t, fmt.Sprintf("a generation after %d", after), func() bool { return g.current().number > after })
	return g.current()
}

// dnsRecords returns the records of g with the trigger dns.
func dnsRecords(g *Gateway) []ReloadRecord {
	var out []ReloadRecord
	for _, r := range g.Reloads() {
		if r.Trigger == TriggerDNS {
			out = append(out, r)
		}
	}
	return out
}

// backendURLs returns the URLs of the backends of the pool app.
func backendURLs(g *Gateway) []string {
	var out []string
	for _, b := range g.current().poolNamed("app").backends {
		out = append(out, b.name())
	}
	return out
}

// urlsOf returns the backend URLs a resolved server of port has at ips.
func urlsOf(port string, ips ...string) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, "http://"+ip+":"+port)
	}
	return out
}

func TestDNSTrafficOverEveryAddress(t *testing.T) {
	port, bs := startAddrBackends(t, 3)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs[2], bs[0], bs[1])...)
	g, base := startGateway(t, resolvedConfig(dns.addr, port, "1h", ""))

	if got, want := backendURLs(g), urlsOf(port, ips(bs...)...); !slices.Equal(got, want) {
		t.Fatalf("backends %v, want one per address, in address order: %v", got, want)
	}
	client := &http.Client{}
	if got := sequence(t, client, base+"/", 9); got != "234234234" {
		t.Fatalf("9 requests served %q, want each address three times in address order", got)
	}
	for _, b := range bs {
		if n := b.served.Load(); n != 3 {
			t.Errorf("%s served %d, want 3", b.ip, n)
		}
	}
	for _, s := range g.Status().Pools[0].Backends {
		if s.Source != appName {
			t.Errorf("backend %s has source %q, want %q", s.URL, s.Source, appName)
		}
	}
	noBackendFailed(t, g)
}

func TestDNSAddedAddressGetsTrafficWithinRefresh(t *testing.T) {
	const refresh = 100 * time.Millisecond
	port, bs := startAddrBackends(t, 4)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs[:3]...)...)
	g, base := startGateway(t, resolvedConfig(dns.addr, port, refresh.String(), ""))
	client := &http.Client{}
	sequence(t, client, base+"/", 3)

	changed := time.Now()
	dns.set(appName, ips(bs...)...)
	deadline := changed.Add(10 * refresh)
	for bs[3].served.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the added address got no request within %v, 10 times the refresh", 10*refresh)
		}
		if status, _ := get(t, client, base+"/"); status != 200 {
			t.Fatalf("status %d while the address was added", status)
		}
	}
	served := time.Since(changed)

	recs := dnsRecords(g)
	if len(recs) != 1 {
		t.Fatalf("%d dns records, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.Name != appName || r.Result != ResultApplied || r.Carried != 3 || r.Added != 1 || r.Removed != 0 || r.Hash != g.RunningHash() {
		t.Errorf("dns record %+v, want %s applied with 3 carried, 1 added, 0 removed and the running hash", r, appName)
	}
	published := r.Time.Add(r.Duration)
	t.Logf("from the DNS change: the next refresh's answer after %v, the generation published %v later, the first request on the added address %v after that (refresh %v ±10%%)",
		r.Time.Sub(changed), r.Duration, changed.Add(served).Sub(published), refresh)
	for i, s := range g.Status().Pools[0].Backends {
		if s.Carried != (i < 3) {
			t.Errorf("backend %s carried %t", s.URL, s.Carried)
		}
	}
}

func TestDNSRemovedAddressFinishesInFlight(t *testing.T) {
	port, bs := startAddrBackends(t, 3)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs...)...)
	g, base := startGateway(t, resolvedConfig(dns.addr, port, "20ms", ""))
	client := &http.Client{}
	sequence(t, client, base+"/", 1) // 2 served: the slow request goes to 3
	slow := getLater(base + "/slow")
	<-bs[1].entered
	gone := g.current().poolNamed("app").backends[1]

	before := g.current().number
	dns.set(appName, bs[0].ip, bs[2].ip)
	waitGeneration(t, g, before)
	if got, want := backendURLs(g), urlsOf(port, bs[0].ip, bs[2].ip); !slices.Equal(got, want) {
		t.Fatalf("backends %v after the address left, want %v", got, want)
	}
	served := bs[1].served.Load()
	if got := sequence(t, client, base+"/", 6); got != "424242" && got != "242424" {
		t.Fatalf("requests after the address left served %q, want only 2 and 4", got)
	}
	if n := bs[1].served.Load(); n != served {
		t.Fatalf("the removed address served %d new requests", n-served)
	}
	if gone.inFlight.Load() != 1 {
		t.Fatalf("the removed backend has %d requests in flight, want its slow one", gone.inFlight.Load())
	}
	bs[1].gate.open()
	if got := <-slow; got != "200 3" {
		t.Fatalf("the slow request on the removed address ended %q, want 200 3", got)
	}
	if r := dnsRecords(g); len(r) != 1 || r[0].Carried != 2 || r[0].Added != 0 || r[0].Removed != 1 {
		t.Fatalf("dns records %+v, want one with 2 carried and 1 removed", r)
	}
}

func TestDNSDownAddressStaysDown(t *testing.T) {
	port, bs := startAddrBackends(t, 3)
	bs[1].healthz.Store(http.StatusServiceUnavailable)
	dns := startDNSServer(t)
	dns.set(appName, bs[0].ip, bs[1].ip)
	hc := "    healthCheck: {path: /healthz, interval: 50ms, unhealthyThreshold: 1, healthyThreshold: 1}\n"
	g, base := startGateway(t, strings.Replace(resolvedConfig(dns.addr, port, "20ms", hc), "    healthCheck: {enabled: false}\n", "", 1))
	down := backendAt(t, g, "app", "http://"+bs[1].ip+":"+port)
	waitUntil(t, "127.0.0.3 to go down", func() bool { return !down.health.Healthy() })
	if host := bs[1].probeHost.Load(); host != appName+":"+port {
		t.Fatalf("probes sent Host %v, want the server's name and port %s:%s", host, appName, port)
	}

	// An answer that keeps 127.0.0.3 and adds 127.0.0.4, then a few more
	// refreshes: 127.0.0.3 is the same backend, still down.
	before := g.current().number
	dns.set(appName, ips(bs...)...)
	waitGeneration(t, g, before)
	if backendAt(t, g, "app", "http://"+bs[1].ip+":"+port) != down || down.health.Healthy() {
		t.Fatal("the down address was not carried over down")
	}
	served := bs[1].served.Load()
	if got := sequence(t, &http.Client{}, base+"/", 4); strings.Contains(got, "3") {
		t.Fatalf("requests served %q; the down address served some", got)
	}
	if bs[1].served.Load() != served {
		t.Fatal("the down address got requests")
	}
	// It comes back up by its checker, as any backend does.
	bs[1].healthz.Store(0)
	waitUntil(t, "127.0.0.3 to come back up", down.health.Healthy)
}

func TestDNSRoundRobinContinues(t *testing.T) {
	port, bs := startAddrBackends(t, 4)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs[:3]...)...)
	g, base := startGateway(t, resolvedConfig(dns.addr, port, "20ms", ""))
	client := &http.Client{}
	steps := []struct {
		answer []string
		served string // before the next change
	}{
		{ips(bs[:3]...), "23"},
		{ips(bs[3], bs[0], bs[2], bs[1]), "4523"}, // 3 was served last: 4 is next
		{ips(bs[0], bs[1], bs[3]), "5235"},        // 4 was, and left: 5 comes after it
	}
	for i, s := range steps {
		if i > 0 {
			before := g.current().number
			dns.set(appName, s.answer...)
			waitGeneration(t, g, before)
		}
		if got := sequence(t, client, base+"/", len(s.served)); got != s.served {
			t.Fatalf("step %d served %q, want %q", i, got, s.served)
		}
	}
}

func TestDNSFailureKeepsAddresses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		fail    func(*dnsServer)
		result  string
		err     string
		timeout string // short only where the lookups are to time out
	}{
		{"timeout", func(s *dnsServer) { s.silence(appName) }, resolveTimeout, "i/o timeout", "100ms"},
		{"SERVFAIL", func(s *dnsServer) { s.fail(appName, rcodeServFail) }, resolveError, "server misbehaving", "5s"},
		{"REFUSED", func(s *dnsServer) { s.fail(appName, rcodeRefused) }, resolveError, "server misbehaving", "5s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			port, bs := startAddrBackends(t, 2)
			dns := startDNSServer(t)
			dns.set(appName, ips(bs...)...)
			g, base, logs := startLoggedGateway(t, withDNSTimeout(dns.addr, port, "20ms", "", tt.timeout))
			w := g.names.current()[appName]
			// On a loaded machine the lookup at start may pass the short
			// timeout: the next ones bring the addresses.
			waitUntil(t, "the name to resolve", func() bool { return len(w.addresses()) == 2 })
			number, records := g.current().number, len(dnsRecords(g))

			tt.fail(dns)
			from := w.counts[slices.Index(resolveResults[:], tt.result)].Load()
			waitUntil(t, "three failed lookups", func() bool {
				return w.counts[slices.Index(resolveResults[:], tt.result)].Load() >= from+3
			})
			if got := sequence(t, &http.Client{}, base+"/", 4); got != "2323" {
				t.Fatalf("requests while the lookups failed served %q, want both addresses", got)
			}
			if n := g.current().number; n != number || len(dnsRecords(g)) != records {
				t.Fatalf("failed lookups made generation %d after %d, records %+v", n, number, dnsRecords(g))
			}
			st := g.Status().Pools[0].Resolved
			if len(st) != 1 || !slices.Equal(st[0].Addresses, []netip.Addr{netip.MustParseAddr(bs[0].ip), netip.MustParseAddr(bs[1].ip)}) ||
				!strings.Contains(st[0].Error, tt.err) || st[0].ResolvedAt == nil {
				t.Fatalf("status %+v, want both addresses kept, their answer's time and an error with %q", st, tt.err)
			}
			fams := scrape(t, g)
			if v, _ := sampleValue(fams, "gateway_dns_resolutions_total", "name", appName, "result", tt.result); v < 3 {
				t.Errorf("gateway_dns_resolutions_total{result=%q} = %v, want at least 3", tt.result, v)
			}
			if fails := logs.records(t, "name lookup failed; its last addresses stay in service"); len(fails) != 1 || fails[0]["result"] != tt.result {
				t.Errorf("failure logs %v, want one, with result %s", fails, tt.result)
			}

			resolved := len(logs.records(t, "name resolved"))
			dns.set(appName, ips(bs...)...)
			waitUntil(t, "the name to resolve again", func() bool { return len(logs.records(t, "name resolved")) == resolved+1 })
			if again := logs.records(t, "name resolved"); again[len(again)-1]["was"] != tt.result {
				t.Errorf("resolved logs %v, want the last saying the %s ended", again, tt.result)
			}
			if n := g.current().number; n != number || len(dnsRecords(g)) != records {
				t.Fatalf("the same answer again made generation %d, records %+v", n, dnsRecords(g))
			}
		})
	}
}

// TestDNSUnreachableResolverKeepsAddresses checks that lookups that
// reach no resolver keep the addresses, as failed answers do: a reload
// points dns.resolvers at a port nothing listens on, which keeps the name
// and its addresses, and a later reload points it back.
func TestDNSUnreachableResolverKeepsAddresses(t *testing.T) {
	port, bs := startAddrBackends(t, 2)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs...)...)
	cfg := resolvedConfig(dns.addr, port, "20ms", "")
	g, base, logs := startLoggedGateway(t, cfg)
	w := g.names.current()[appName]
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.LocalAddr().String()
	closed.Close()

	number := reloadOK(t, g, strings.Replace(cfg, dns.addr, down, 1)).Generation
	failed := slices.Index(resolveResults[:], resolveError)
	from := w.counts[failed].Load()
	waitUntil(t, "three lookups that reach no resolver", func() bool { return w.counts[failed].Load() >= from+3 })
	if got := sequence(t, &http.Client{}, base+"/", 4); got != "2323" {
		t.Fatalf("requests while no resolver was reachable served %q, want both addresses", got)
	}
	if n := g.current().number; n != number || len(dnsRecords(g)) != 0 {
		t.Fatalf("lookups that reached no resolver made generation %d after %d, records %+v", n, number, dnsRecords(g))
	}
	st := g.Status().Pools[0].Resolved
	if len(st) != 1 || len(st[0].Addresses) != 2 || !strings.Contains(st[0].Error, "on "+down+": ") {
		t.Fatalf("status %+v, want both addresses kept and an error naming the resolver %s", st, down)
	}
	if fails := logs.records(t, "name lookup failed; its last addresses stay in service"); len(fails) != 1 || fails[0]["result"] != resolveError {
		t.Errorf("failure logs %v, want one, with result %s", fails, resolveError)
	}

	reloadOK(t, g, cfg)
	waitUntil(t, "the name to resolve again", func() bool { return len(logs.records(t, "name resolved")) == 2 })
	if got := sequence(t, &http.Client{}, base+"/", 4); got != "2323" {
		t.Fatalf("requests once the resolver was back served %q, want both addresses", got)
	}
	if len(dnsRecords(g)) != 0 {
		t.Fatalf("the same answer again was recorded: %+v", dnsRecords(g))
	}
}

func TestDNSEmptyAnswerEmptiesPool(t *testing.T) {
	for _, tt := range []struct {
		name  string
		empty func(*dnsServer)
		err   string
	}{
		{"NXDOMAIN", func(s *dnsServer) { s.fail(appName, rcodeNXDomain) }, "no such host"},
		{"no records", func(s *dnsServer) { s.set(appName) }, "no such host"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			port, bs := startAddrBackends(t, 2)
			dns := startDNSServer(t)
			dns.set(appName, ips(bs...)...)
			g, base := startGateway(t, resolvedConfig(dns.addr, port, "20ms", ""))
			client := &http.Client{}
			sequence(t, client, base+"/", 2)

			before := g.current().number
			tt.empty(dns)
			waitGeneration(t, g, before)
			if got := backendURLs(g); len(got) != 0 {
				t.Fatalf("backends %v after an empty answer, want none", got)
			}
			resp, err := client.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || string(body) != "no healthy backend for this route\n" {
				t.Fatalf("request to the emptied pool: %d %q, want 503 with Retry-After", resp.StatusCode, body)
			}
			if st := g.Status().Pools[0].Resolved[0]; len(st.Addresses) != 0 || !strings.Contains(st.Error, tt.err) {
				t.Fatalf("status %+v, want no address and an error with %q", st, tt.err)
			}

			before = g.current().number
			dns.set(appName, bs[1].ip)
			waitGeneration(t, g, before)
			if got := sequence(t, client, base+"/", 2); got != "33" {
				t.Fatalf("after a later answer served %q, want 33", got)
			}
			recs := dnsRecords(g)
			if len(recs) != 2 || recs[0].Removed != 2 || recs[1].Added != 1 {
				t.Fatalf("dns records %+v, want 2 removed, then 1 added", recs)
			}
		})
	}
}

func TestDNSReshuffledAnswerIsNoChange(t *testing.T) {
	const refreshes = 5
	port, bs := startAddrBackends(t, 3)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs...)...)
	g, _ := startGateway(t, resolvedConfig(dns.addr, port, "20ms", ""))
	w := g.names.current()[appName]
	number := g.current().number
	for i := range refreshes {
		order := ips(bs...)
		for range i + 1 {
			order = append(order[1:], order[0])
		}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		dns.set(appName, order...)
		from := w.counts[0].Load()
		waitUntil(t, "a refresh", func() bool { return w.counts[0].Load() > from })
	}
	if n := g.current().number; n != number {
		t.Fatalf("reshuffled answers made generation %d after %d", n, number)
	}
	if recs := dnsRecords(g); len(recs) != 0 {
		t.Fatalf("reshuffled answers were recorded: %+v", recs)
	}
	var lookups uint64
	for i := range w.counts {
		lookups += w.counts[i].Load()
	}
	if a, aaaa := dns.queried(appName); uint64(a) != lookups || uint64(aaaa) != lookups {
		t.Fatalf("%d lookups sent %d A and %d AAAA queries, want one of each per lookup", lookups, a, aaaa)
	}
}

func TestDNSZeroFailedAcrossAddressChanges(t *testing.T) {
	const clients, changes = 8, 50
	port, bs := startAddrBackends(t, 5)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs[:3]...)...)
	g, base := startGateway(t, resolvedConfig(dns.addr, port, "10ms", ""))
	var names []string
	for _, b := range bs {
		names = append(names, b.name)
	}
	load := startKeepAliveLoad(base+"/", clients, names)
	prev := 0b00111
	for i := range changes {
		// A set of 1 to 5 of the addresses, never empty, never the one
		// before: the bits of mask.
		mask := (i*13+7)%31 + 1
		if mask == prev {
			mask = mask%31 + 1
		}
		prev = mask
		var set []string
		for j, b := range bs {
			if mask>>j&1 == 1 {
				set = append(set, b.ip)
			}
		}
		before := g.current().number
		dns.set(appName, set...)
		waitGeneration(t, g, before)
		load.await(t)
	}
	load.stop(t, fmt.Sprintf("%d address-set changes", changes))
	if recs := dnsRecords(g); len(recs) != min(changes, reloadHistory) {
		t.Fatalf("%d dns records kept, want %d", len(recs), min(changes, reloadHistory))
	}
	for _, b := range bs {
		if b.served.Load() == 0 {
			t.Errorf("%s served nothing", b.ip)
		}
	}
}

func TestDNSUnresolvableAtStart(t *testing.T) {
	port, bs := startAddrBackends(t, 1)
	dns := startDNSServer(t)
	dns.silence(appName)
	g, base := startGateway(t, withDNSTimeout(dns.addr, port, "50ms", "", "100ms"))
	if !g.Ready() {
		t.Fatal("the gateway is not ready with a name that did not resolve")
	}
	if code, body := adminGet(t, g, "/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if status, _ := get(t, &http.Client{}, base+"/"); status != 503 {
		t.Fatalf("a request before the name resolved got %d, want 503", status)
	}
	if st := g.Status().Pools[0].Resolved[0]; st.ResolvedAt != nil || len(st.Addresses) != 0 || !strings.Contains(st.Error, "timeout") {
		t.Fatalf("status %+v, want no answer yet and a timeout", st)
	}

	dns.set(appName, bs[0].ip)
	waitGeneration(t, g, 1)
	if got := sequence(t, &http.Client{}, base+"/", 2); got != "22" {
		t.Fatalf("after the name resolved served %q", got)
	}
}

func TestDNSConfigReloadKeepsNames(t *testing.T) {
	port, bs := startAddrBackends(t, 3)
	dns := startDNSServer(t)
	dns.set(appName, bs[0].ip)
	dns.set("other.gateway.test", bs[1].ip, bs[2].ip)
	g, base := startGateway(t, resolvedConfig(dns.addr, port, "1h", ""))
	w := g.names.current()[appName]
	if a, aaaa := dns.queried(appName); a != 1 || aaaa != 1 {
		t.Fatalf("the start sent %d A and %d AAAA queries, want one of each", a, aaaa)
	}

	// The name changes in DNS; a reload that keeps it changes nothing of
	// its addresses and asks nothing: the next lookup is an hour away.
	dns.set(appName, bs[2].ip)
	other := fmt.Sprintf("      - {url: \"http://other.gateway.test:%s\", resolve: true}\n", port)
	rec := reloadOK(t, g, withDNSTimeout(dns.addr, port, "1h", "", "4s")+other)
	if g.names.current()[appName] != w {
		t.Fatal("the reload replaced the watch of a name it kept")
	}
	if a, aaaa := dns.queried(appName); a != 1 || aaaa != 1 {
		t.Fatalf("after a reload that kept the name: %d A and %d AAAA queries, want still one of each", a, aaaa)
	}
	if a, aaaa := dns.queried("other.gateway.test"); a != 1 || aaaa != 1 {
		t.Fatalf("the name the reload brought in got %d A and %d AAAA queries, want one of each before it applied", a, aaaa)
	}
	if rec.Carried != 1 || rec.Added != 2 || rec.Removed != 0 {
		t.Fatalf("reload record %+v, want 1 carried and the 2 addresses of the new name added", rec)
	}
	if got := sequence(t, &http.Client{}, base+"/", 3); got != "234" {
		t.Fatalf("after the reload served %q, want the kept address and the new name's two", got)
	}
	if w.settings.Load().cfg.Timeout != 4*time.Second {
		t.Fatal("the kept watch did not take the new dns settings")
	}

	// A reload without the names stops their loops.
	loops := goroutinesIn("gateway.(*nameWatch).run(")
	if loops != 2 {
		t.Fatalf("%d name loops run, want 2", loops)
	}
	reloadOK(t, g, withAdmin(poolConfig("round_robin", "", "http://"+bs[0].ip+":"+port)))
	if n := goroutinesIn("gateway.(*nameWatch).run("); n != 0 {
		t.Fatalf("%d name loops run after their names left the config, want 0", n)
	}
	if len(g.names.current()) != 0 {
		t.Fatal("watches left after their names left the config")
	}
	if _, ok := sampleValue(scrape(t, g), "gateway_dns_resolutions_total", "name", appName, "result", resolveOK); ok {
		t.Error("the name that left the config still has series")
	}
}

func TestDNSStaticAndResolvedAreOneBackend(t *testing.T) {
	port, bs := startAddrBackends(t, 3)
	dns := startDNSServer(t)
	dns.set(appName, bs[0].ip, bs[1].ip)
	dns.set("alias.gateway.test", bs[1].ip, bs[2].ip)
	servers := fmt.Sprintf(`      - {url: "http://%s:%s", weight: 2}
      - {url: "http://alias.gateway.test:%s", resolve: true}
`, bs[1].ip, port, port)
	cfg := strings.Replace(resolvedConfig(dns.addr, port, "20ms", ""), "    servers:\n", "    algorithm: weighted_round_robin\n    servers:\n", 1) + servers
	g, _ := startGateway(t, cfg)
	p := g.current().poolNamed("app")
	if got, want := backendURLs(g), urlsOf(port, bs[0].ip, bs[1].ip, bs[2].ip); !slices.Equal(got, want) {
		t.Fatalf("backends %v, want each address once, in the order the servers give them: %v", got, want)
	}
	if !slices.Equal(p.weights, []int{1, 1, 1}) {
		t.Fatalf("weights %v, want the first server's weight for the address three servers share", p.weights)
	}
	st := g.Status().Pools[0].Backends
	if st[1].Source != appName || st[2].Source != "alias.gateway.test" {
		t.Fatalf("sources %q %q, want the first server each address came from", st[1].Source, st[2].Source)
	}

	// The address leaves the first name: the backend stays, as the static
	// server's, with its weight and no source, and keeps its counters.
	shared := p.backends[1]
	shared.served.Add(5)
	before := g.current().number
	dns.set(appName, bs[0].ip)
	waitGeneration(t, g, before)
	p = g.current().poolNamed("app")
	if p.backends[1] != shared || shared.served.Load() != 5 || p.weights[1] != 2 || shared.settings.Load().source != "" {
		t.Fatalf("the shared address: same backend %t, served %d, weight %d, source %q; want the same backend with weight 2 and no source",
			p.backends[1] == shared, shared.served.Load(), p.weights[1], shared.settings.Load().source)
	}
}

func TestDNSWeightAppliesToEachAddress(t *testing.T) {
	port, bs := startAddrBackends(t, 3)
	dns := startDNSServer(t)
	dns.set(appName, bs[0].ip, bs[1].ip)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
dns: {resolvers: [%q]}
pools:
  app:
    algorithm: weighted_round_robin
    healthCheck: {enabled: false}
    servers:
      - {url: "http://%s:%s", resolve: true, weight: 2}
      - {url: "http://%s:%s", weight: 1}
`, dns.addr, appName, port, bs[2].ip, port)
	_, base := startGateway(t, cfg)
	got := sequence(t, &http.Client{}, base+"/", 10)
	for _, b := range bs {
		want := 4
		if b == bs[2] {
			want = 2
		}
		if n := strings.Count(got, b.name); n != want {
			t.Errorf("%s served %d of 10, want %d: %q", b.ip, n, want, got)
		}
	}
}

func TestDNSStatusReloadsAndMetrics(t *testing.T) {
	port, bs := startAddrBackends(t, 2)
	dns := startDNSServer(t)
	dns.set(appName, bs[0].ip)
	g, _ := startGateway(t, resolvedConfig(dns.addr, port, "20ms", ""))
	before := g.current().number
	dns.set(appName, ips(bs...)...)
	waitGeneration(t, g, before)

	st := adminStatus(t, g)
	r := st.Pools[0].Resolved
	if len(r) != 1 || r[0].Name != appName || len(r[0].Addresses) != 2 || r[0].Addresses[1].String() != bs[1].ip || r[0].Error != "" ||
		r[0].ResolvedAt == nil || time.Since(*r[0].ResolvedAt) > time.Minute {
		t.Fatalf("/status resolved %+v, want %s with both addresses, a recent time and no error", r, appName)
	}
	if b := st.Pools[0].Backends; len(b) != 2 || b[0].Source != appName || b[1].Source != appName {
		t.Fatalf("/status backends %+v, want both with source %s", b, appName)
	}
	if st.LastReload == nil || st.LastReload.Trigger != TriggerStart {
		t.Fatalf("/status lastReload %+v, want the config file's start, not the dns record", st.LastReload)
	}
	_, body := adminGet(t, g, "/status")
	for _, want := range []string{`"name": "` + appName + `"`, `"addresses": [`, `"resolvedAt": "`, `"error": ""`, `"source": "` + appName + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/status lacks %s:\n%s", want, body)
		}
	}
	_, body = adminGet(t, g, "/reloads")
	if !strings.Contains(body, `"trigger": "dns"`) || !strings.Contains(body, `"name": "`+appName+`"`) || !strings.Contains(body, `"added": 1`) {
		t.Errorf("/reloads lacks the dns record:\n%s", body)
	}
	fams := scrape(t, g)
	wantMetric(t, fams, 1, "gateway_config_reloads_total", "trigger", "dns", "result", "applied")
	wantMetric(t, fams, 1, "gateway_config_reloads_total", "trigger", "start", "result", "applied")
	wantMetric(t, fams, 1, "gateway_config_last_reload_successful")
	for _, result := range resolveResults {
		if _, ok := sampleValue(fams, "gateway_dns_resolutions_total", "name", appName, "result", result); !ok {
			t.Errorf("gateway_dns_resolutions_total{result=%q} is missing", result)
		}
	}

	// A rejected config leaves the dns records and their counts alone,
	// and the dns records leave the gauge of the config file alone.
	g.Load("test.yaml", []byte("listen: [\n"), TriggerWatch)
	fams = scrape(t, g)
	wantMetric(t, fams, 0, "gateway_config_last_reload_successful")
	before = g.current().number
	dns.set(appName, bs[1].ip)
	waitGeneration(t, g, before)
	fams = scrape(t, g)
	wantMetric(t, fams, 0, "gateway_config_last_reload_successful")
	wantMetric(t, fams, 2, "gateway_config_reloads_total", "trigger", "dns", "result", "applied")
}

// TestDNSServerNameOfHTTPS checks that the backends of an https resolved
// server are spoken to with the name as TLS server name, and verified
// against it, probes included. httptest's certificate is for
// *.example.com, 127.0.0.1 and ::1: the address 127.0.0.2 would not pass.
func TestDNSServerNameOfHTTPS(t *testing.T) {
	const name = "app.example.com"
	port, bs := startAddrBackends(t, 1)
	bs[0].Close()
	hellos := make(chan string, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %s", r.TLS.ServerName)
	}))
	ln, err := net.Listen("tcp", bs[0].ip+":"+port)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", bs[0].ip, err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hellos <- h.ServerName
		return nil, nil
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dns := startDNSServer(t)
	dns.set(name, bs[0].ip)
	cfg := strings.Replace(resolvedConfig(dns.addr, port, "1h", ""), "http://"+appName, "https://"+name, 1)
	cfg = strings.Replace(cfg, "healthCheck: {enabled: false}", "healthCheck: {path: /healthz, interval: 1h}", 1)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg += fmt.Sprintf("backendTLS: {caFile: %q}\n", caFile)
	_, base := startGateway(t, cfg)
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "tls "+name {
		t.Fatalf("GET of the https resolved server: %d %q, want 200 over TLS to %s", status, body, name)
	}
	for i := range 2 { // the request's and the probe's, in either order
		select {
		case h := <-hellos:
			if h != name {
				t.Errorf("a handshake sent server name %q, want %q", h, name)
			}
		case <-time.After(waitBound):
			t.Fatalf("%d handshakes within %v, want the request's and the probe's", i, waitBound)
		}
	}
}
