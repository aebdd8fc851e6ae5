package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// scriptedLookup answers lookups from a script, one answer per lookup,
// repeating the last, and notes when each lookup started.
type scriptedLookup struct {
	mu      sync.Mutex
	script  []answer
	started []time.Time
}

func (s *scriptedLookup) lookup(ctx context.Context, name string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = append(s.started, time.Now())
	a := s.script[0]
	if len(s.script) > 1 {
		s.script = s.script[1:]
	}
	return a
}

// gaps returns the time between each lookup and the one before it.
func (s *scriptedLookup) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(s.started); i++ {
		out = append(out, s.started[i].Sub(s.started[i-1]))
	}
	return out
}

// okAnswer is an ok answer with addrs.
func okAnswer(addrs ...string) answer {
	a := answer{result: resolveOK}
	for _, s := range addrs {
		a.addrs = append(a.addrs, netip.MustParseAddr(s))
	}
	return a
}

// TestNameWatchRhythm checks the loop's schedule under synctest: a lookup
// every refresh ±10% after the one before, new settings taken from the
// lookup after the one already scheduled, and a stop that ends a lookup
// in flight.
func TestNameWatchRhythm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		script := &scriptedLookup{script: []answer{okAnswer("10.0.0.1")}}
		w := newNameWatch("app.test", &dnsSettings{cfg: config.DNSConfig{Refresh: 10 * time.Second}, lookup: script.lookup}, slog.New(slog.DiscardHandler))
		w.resolve(context.Background()) // as a config bringing the name in does
		changes := 0
		w.start(context.Background(), func(context.Context, *nameWatch) { changes++ })
		time.Sleep(45 * time.Second)
		synctest.Wait()
		w.settings.Store(&dnsSettings{cfg: config.DNSConfig{Refresh: time.Minute}, lookup: script.lookup})
		time.Sleep(3 * time.Minute)
		synctest.Wait()

		gaps := script.gaps()
		if len(gaps) < 7 {
			t.Fatalf("lookups %v apart, want at least 7 gaps", gaps)
		}
		for i, gap := range gaps {
			lo, hi := 9*time.Second, 11*time.Second
			if i >= 5 { // the lookup after the one scheduled when the settings changed
				lo, hi = 54*time.Second, 66*time.Second
			}
			if gap < lo || gap > hi {
				t.Errorf("gap %d is %v, want %v to %v: %v", i, gap, lo, hi, gaps)
			}
		}
		if slices.Equal(gaps[:4], []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}) {
			t.Errorf("gaps %v have no jitter", gaps[:4])
		}
		if changes != 0 {
			t.Errorf("the same answer again called changed %d times", changes)
		}

		// A lookup in flight ends with the stop.
		blocked := make(chan struct{})
		w.settings.Store(&dnsSettings{cfg: config.DNSConfig{Refresh: time.Second}, lookup: func(ctx context.Context, _ string) answer {
			close(blocked)
			<-ctx.Done()
			return answer{result: resolveTimeout, err: ctx.Err()}
		}})
		<-blocked
		w.stop()
		w.wait()
		if st := w.snapshot(); st.result != resolveOK {
			t.Errorf("a lookup cut short by the stop was recorded: %+v", st)
		}
	})
}

// TestNameWatchChangeWithinRefresh checks under synctest that a change
// of a name's answer reaches the gateway (the watch's call of changed,
// which publishes the generation) at the lookup after it: within one
// refresh and its 10% jitter, wherever in the cycle the change falls, and
// once.
func TestNameWatchChangeWithinRefresh(t *testing.T) {
	const refresh = 10 * time.Second
	for _, into := range []time.Duration{0, time.Second, 5 * time.Second, 9 * time.Second, 10900 * time.Millisecond} {
		t.Run(into.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				current := okAnswer("10.0.0.1")
				lookup := func(context.Context, string) answer {
					mu.Lock()
					defer mu.Unlock()
					return current
				}
				w := newNameWatch("app.test", &dnsSettings{cfg: config.DNSConfig{Refresh: refresh}, lookup: lookup}, slog.New(slog.DiscardHandler))
				w.resolve(context.Background()) // as a config bringing the name in does
				var calls []time.Time
				w.start(context.Background(), func(_ context.Context, got *nameWatch) {
					if got != w {
						t.Errorf("changed called with another watch")
					}
					calls = append(calls, time.Now())
				})
				time.Sleep(3*refresh + into)
				mu.Lock()
				current = okAnswer("10.0.0.1", "10.0.0.2")
				mu.Unlock()
				changed := time.Now()
				time.Sleep(3 * refresh)
				w.stop()
				w.wait()

				if len(calls) != 1 {
					t.Fatalf("changed called %d times, want once: at the first lookup after the change", len(calls))
				}
				if d := calls[0].Sub(changed); d < 0 || d > refresh+refresh/10 {
					t.Errorf("the change was applied %v after it was made, want within the refresh %v +10%%", d, refresh)
				}
				if got := fmt.Sprint(w.addresses()); got != "[10.0.0.1 10.0.0.2]" {
					t.Errorf("addresses %s, want the new answer's", got)
				}
			})
		})
	}
}

// TestNameWatchRecord checks what each answer does to the addresses, and
// that each change of result is logged once, however many lookups repeat
// it.
func TestNameWatchRecord(t *testing.T) {
	logs := &logRecorder{}
	w := newNameWatch("app.test", &dnsSettings{}, slog.New(logs))
	servfail := answer{result: resolveError, err: errors.New("lookup app.test on 10.0.0.53:53: server misbehaving")}
	empty := answer{result: resolveEmpty, err: errors.New("lookup app.test on 10.0.0.53:53: no such host")}
	timeout := answer{result: resolveTimeout, err: errors.New("lookup app.test on 10.0.0.53:53: i/o timeout")}
	steps := []struct {
		a       answer
		changed bool
		addrs   string
	}{
		{okAnswer("10.0.0.1", "10.0.0.2"), true, "[10.0.0.1 10.0.0.2]"},
		{okAnswer("10.0.0.1", "10.0.0.2"), false, "[10.0.0.1 10.0.0.2]"},
		{servfail, false, "[10.0.0.1 10.0.0.2]"},
		{servfail, false, "[10.0.0.1 10.0.0.2]"},
		{timeout, false, "[10.0.0.1 10.0.0.2]"},
		{okAnswer("10.0.0.2"), true, "[10.0.0.2]"},
		{empty, true, "[]"},
		{empty, false, "[]"},
		{servfail, false, "[]"},
		{okAnswer("10.0.0.3"), true, "[10.0.0.3]"},
	}
	t0 := time.Now()
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * time.Second)
		if changed := w.record(s.a, at); changed != s.changed {
			t.Errorf("step %d (%s): changed %t, want %t", i, s.a.result, changed, s.changed)
		}
		st := w.snapshot()
		if got := fmt.Sprint(st.addrs); got != s.addrs {
			t.Errorf("step %d (%s): addresses %s, want %s", i, s.a.result, got, s.addrs)
		}
		if answered := s.a.result == resolveOK || s.a.result == resolveEmpty; answered != st.resolvedAt.Equal(at) {
			t.Errorf("step %d (%s): resolvedAt %v", i, s.a.result, st.resolvedAt.Sub(t0))
		}
		if (st.err == "") != (s.a.result == resolveOK) {
			t.Errorf("step %d (%s): error %q", i, s.a.result, st.err)
		}
	}
	for _, want := range []struct {
		level slog.Level
		msg   string
		n     int
	}{
		{slog.LevelInfo, "name resolved", 3},
		{slog.LevelWarn, "name lookup failed; its last addresses stay in service", 2},
		// The SERVFAIL after the empty answers has no set to keep.
		{slog.LevelWarn, "name lookup failed; its servers have no address and take no traffic", 1},
		{slog.LevelWarn, "name has no address; its servers take no traffic", 1},
	} {
		if n := logs.count(want.level, want.msg); n != want.n {
			t.Errorf("%d logs %q, want %d", n, want.msg, want.n)
		}
	}
	for i, want := range []uint64{4, 2, 1, 3} {
		if n := w.counts[i].Load(); n != want {
			t.Errorf("%d lookups counted %s, want %d", n, resolveResults[i], want)
		}
	}
}

// TestTargets checks the backend URLs a resolved server stands for: the
// address in place of the name, the port as the URL writes it, IPv6 in
// brackets.
func TestTargets(t *testing.T) {
	addrs := map[string][]netip.Addr{"app.example": {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")}}
	for _, tt := range []struct {
		url  string
		want []string
	}{
		{"http://app.example:8080", []string{"http://10.0.0.1:8080", "http://[fd00::1]:8080"}},
		{"https://APP.example.", []string{"https://10.0.0.1", "https://[fd00::1]"}},
		{"http://other.example", nil},
	} {
		cfg, err := config.Decode("t.yaml", []byte(`servers: [{url: "`+tt.url+`", resolve: true}]`))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tg := range targets(cfg.Pools[0].Servers[0], addrs) {
			got = append(got, tg.url.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s stands for %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestLeakDNSChanges(t *testing.T) {
	changes := 100
	if leakLong() {
		changes = 1000
	}
	port, bs := startAddrBackends(t, 3)
	dns := startDNSServer(t)
	dns.set(appName, ips(bs...)...)
	dns.set("other.gateway.test", bs[0].ip)
	withName := resolvedConfig(dns.addr, port, "5ms", "")
	other := fmt.Sprintf("      - {url: \"http://other.gateway.test:%s\", resolve: true}\n", port)
	g, base := startGateway(t, withName)

	// run changes the answer n times and, every tenth time, reloads a
	// config that adds or removes a second name, under load.
	run := func(n int) {
		t.Helper()
		underLoad(t, base+"/", n, func(i int) {
			if i%10 == 0 {
				cfg := withName
				if i%20 == 0 {
					cfg += other
				}
				reloadOK(t, g, cfg)
			}
			before := g.current().number
			dns.set(appName, ips(bs[:i%3+1]...)...)
			waitGeneration(t, g, before)
		})
	}
	run(20)
	dropIdle(g)
	baseline := measure(t)
	run(changes)
	settle(t, baseline, func() { dropIdle(g) })
}

// benchGateway serves a config with one resolved server of ten
// addresses, looked up on a loopback DNS server every hour, so that only
// the benchmark's lookups run. Nothing listens on the addresses: health
// checks are off and no request is sent.
func benchGateway(b *testing.B) (*Gateway, *dnsServer, *nameWatch, []string) {
	dns := startDNSServer(b)
	var addrs []string
	for i := range 10 {
		addrs = append(addrs, fmt.Sprintf("127.0.1.%d", i+1))
	}
	dns.set(appName, addrs...)
	g := New(Options{})
	if _, err := g.Load("bench.yaml", []byte(resolvedConfig(dns.addr, "8080", "1h", "")), TriggerStart); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Shutdown(context.Background()) })
	return g, dns, g.names.current()[appName], addrs
}

// BenchmarkDNSRefreshNoChange measures a refresh whose answer is the
// same set as before, in another order: one A and one AAAA query to a
// loopback DNS server and the comparison, and no generation.
func BenchmarkDNSRefreshNoChange(b *testing.B) {
	g, dns, w, addrs := benchGateway(b)
	slices.Reverse(addrs)
	dns.set(appName, addrs...)
	number := g.current().number
	a0, aaaa0 := dns.queried(appName)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if w.resolve(context.Background()) {
			b.Fatal("a reshuffled answer changed the addresses")
		}
	}
	if g.current().number != number {
		b.Fatal("a refresh without change made a generation")
	}
	a, aaaa := dns.queried(appName)
	b.ReportMetric(float64(a-a0)/float64(n), "A/op")
	b.ReportMetric(float64(aaaa-aaaa0)/float64(n), "AAAA/op")
}

// BenchmarkDNSChangeApplied measures what the gateway does once the
// refresh after a DNS change comes: the lookup and the new generation,
// built and published with one address more or less, and recorded.
func BenchmarkDNSChangeApplied(b *testing.B) {
	g, dns, w, addrs := benchGateway(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		dns.set(appName, addrs[:10-i%2]...) // 9, 10, 9, ... addresses
		if !w.resolve(ctx) {
			b.Fatal("the changed answer changed nothing")
		}
		g.applyDNS(ctx, w)
	}
	if n := g.current().number; n != uint64(1+i) {
		b.Fatalf("generation %d after %d changes", n, i)
	}
}
