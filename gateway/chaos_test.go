package gateway

// The chaos test runs 8 keep-alive clients against a gateway for a while,
// 3s by default, while a seeded controller randomly kills and restarts its
// three backends, makes them refuse connections, hang or answer 500, and
// reloads the config. For the long run, give a duration:
//
//	go test -race -run TestChaos ./gateway/ -chaos.duration=20s
//	GATEWAY_CHAOS_DURATION=20s go test -race -run TestChaos ./gateway/
//
// GATEWAY_CHAOS_SEED picks the seed (the run logs the one it used).
//
// Every answer must be legal by these rules, judged from what the test
// recorded while the request was in flight, from sending it to reading the
// end of its answer (its span):
//
//   - 200 from a backend: always.
//   - 500 carrying the backend's X-Chaos mark: a backend's own answer,
//     which a proxy passes on; counted apart.
//   - 503: only if, at one moment of the span, every backend was down in
//     the gateway's own view, as its health transitions (read from its log)
//     tell.
//   - 504: only if a backend received the request while it was hanging, or
//     the answer took at least responseHeaderTimeout (a backend slowed by
//     a loaded machine), so that the timeout cut the exchange.
//   - 502: only if a backend failed mid-request, that is one was killed
//     during the span, or if every backend was unusable at some moment of
//     the span: down in the gateway's view or not accepting connections.
//   - a connection broken before the answer ended: only if a backend was
//     killed during the span.
//
// Anything else fails the test. A health transition is logged just after
// it takes effect, so the gateway-view rules allow it chaosSlack of lag.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var chaosDuration = flag.Duration("chaos.duration", 0, "how long TestChaos runs (default 3s, or $GATEWAY_CHAOS_DURATION)")

// chaosResponseTimeout is the pools' responseHeaderTimeout.
const chaosResponseTimeout = 200 * time.Millisecond

// chaosSlack is how late a health transition may be logged.
const chaosSlack = 200 * time.Millisecond

// The modes of a [chaosBackend]'s handler.
const (
	modeServe int32 = iota
	modeHang
	mode500
)

// chaosEvent is one thing that happened to a backend.
type chaosEvent struct {
	at      time.Time
	backend int
	kind    string // "up", "down" (gateway's view), "open", "closed" (listener), "kill"
}

// chaosTimeline records events in the order they happened.
type chaosTimeline struct {
	mu     sync.Mutex
	events []chaosEvent
	names  map[string]int // backend URL -> index, for the log
}

func (tl *chaosTimeline) add(backend int, kind string, at time.Time) {
	tl.mu.Lock()
	tl.events = append(tl.events, chaosEvent{at: at, backend: backend, kind: kind})
	tl.mu.Unlock()
}

// snapshot returns the events in time order. They are recorded from many
// goroutines, so the order they were added in may differ slightly.
func (tl *chaosTimeline) snapshot() []chaosEvent {
	tl.mu.Lock()
	events := slices.Clone(tl.events)
	tl.mu.Unlock()
	slices.SortStableFunc(events, func(a, b chaosEvent) int { return a.at.Compare(b.at) })
	return events
}

// Enabled, Handle, WithAttrs and WithGroup make the timeline the
// gateway's log handler, to record the gateway's view of each backend.
func (tl *chaosTimeline) Enabled(context.Context, slog.Level) bool { return true }
func (tl *chaosTimeline) WithAttrs([]slog.Attr) slog.Handler       { return tl }
func (tl *chaosTimeline) WithGroup(string) slog.Handler            { return tl }

func (tl *chaosTimeline) Handle(_ context.Context, r slog.Record) error {
	kind := map[string]string{"backend up": "up", "backend down": "down"}[r.Message]
	if kind == "" {
		return nil
	}
	var name string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "backend" {
			name = a.Value.String()
			return false
		}
		return true
	})
	if i, ok := tl.names[name]; ok {
		tl.add(i, kind, r.Time)
	}
	return nil
}

// judge tells whether an answer is legal by the rules at the top of the
// file, from events (a snapshot taken after the request ended).
type judge struct {
	events []chaosEvent
	n      int // backends
}

// state returns, for backend i at time at, whether the gateway saw it up
// and whether its listener was open. Both start true.
func (j *judge) state(i int, at time.Time) (up, open bool) {
	up, open = true, true
	for _, e := range j.events {
		if e.at.After(at) {
			break
		}
		if e.backend != i {
			continue
		}
		switch e.kind {
		case "up", "down":
			up = e.kind == "up"
		case "open", "closed", "kill":
			open = e.kind == "open"
		}
	}
	return up, open
}

// moments returns from and the time of every event in (from, to]: the
// moments at which the state can be new.
func (j *judge) moments(from, to time.Time) []time.Time {
	out := []time.Time{from}
	for _, e := range j.events {
		if e.at.After(from) && !e.at.After(to) {
			out = append(out, e.at)
		}
	}
	return out
}

// allDown reports whether at one moment in [from, to] the gateway saw
// every backend down.
func (j *judge) allDown(from, to time.Time) bool {
	for _, at := range j.moments(from, to) {
		all := true
		for i := range j.n {
			if up, _ := j.state(i, at); up {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// allUnusable reports whether every backend was, at some moment in
// [from, to], down in the gateway's view or not accepting connections.
func (j *judge) allUnusable(from, to time.Time) bool {
	moments := j.moments(from, to)
	for i := range j.n {
		unusable := false
		for _, at := range moments {
			if up, open := j.state(i, at); !up || !open {
				unusable = true
				break
			}
		}
		if !unusable {
			return false
		}
	}
	return true
}

// killed reports whether a backend was killed in [from, to].
func (j *judge) killed(from, to time.Time) bool {
	for _, e := range j.events {
		if e.kind == "kill" && !e.at.Before(from) && !e.at.After(to) {
			return true
		}
	}
	return false
}

// chaosBackend is a loopback backend on a fixed port that can be killed,
// made to refuse connections, hang or fail, and restarted.
type chaosBackend struct {
	index int
	name  string
	addr  string
	srv   *http.Server
	tl    *chaosTimeline
	hung  *sync.Map // request IDs received while hanging

	mode   atomic.Int32
	mu     sync.Mutex
	ln     net.Listener // nil while not accepting
	conns  map[net.Conn]struct{}
	unhang chan struct{} // closed when the current hang ends
	served sync.WaitGroup
}

func startChaosBackend(t *testing.T, index int, tl *chaosTimeline, hung *sync.Map) *chaosBackend {
	t.Helper()
	b := &chaosBackend{index: index, name: string(rune('a' + index)), tl: tl, hung: hung, conns: map[net.Conn]struct{}{}, unhang: make(chan struct{})}
	b.srv = &http.Server{Handler: b, ConnState: b.track}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(func() {
		b.setMode(modeServe)
		b.srv.Close()
		b.mu.Lock()
		if b.ln != nil {
			b.ln.Close()
		}
		b.mu.Unlock()
		b.served.Wait()
	})
	return b
}

func (b *chaosBackend) serve(ln net.Listener) {
	b.ln = ln
	b.served.Add(1)
	go func() {
		defer b.served.Done()
		b.srv.Serve(ln)
	}()
}

func (b *chaosBackend) track(c net.Conn, s http.ConnState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch s {
	case http.StateNew:
		b.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(b.conns, c)
	}
}

func (b *chaosBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch b.mode.Load() {
	case modeHang:
		if id := r.Header.Get("X-Chaos-Id"); id != "" {
			b.hung.Store(id, b.name)
		}
		b.mu.Lock()
		unhang := b.unhang
		b.mu.Unlock()
		select {
		case <-unhang:
		case <-r.Context().Done():
			return
		}
	case mode500:
		w.Header().Set("X-Chaos", "500 from "+b.name)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ok "+b.name)
}

// setMode switches the handler's mode, ending a hang.
func (b *chaosBackend) setMode(m int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mode.Swap(m) == modeHang && m != modeHang {
		close(b.unhang)
		b.unhang = make(chan struct{})
	}
}

// kill closes the listener and every connection, like a crash.
func (b *chaosBackend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tl.add(b.index, "kill", time.Now())
	if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}
	for c := range b.conns {
		c.Close()
	}
}

// refuse closes the listener only: new connections are refused, open
// ones are still served.
func (b *chaosBackend) refuse() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}
	b.tl.add(b.index, "closed", time.Now())
}

// restart listens on the backend's port again.
func (b *chaosBackend) restart(t *testing.T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		return
	}
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond) // the port is briefly in use
	}
	if err != nil {
		t.Errorf("backend %s: listen again on %s: %v", b.name, b.addr, err)
		return
	}
	b.serve(ln)
	b.tl.add(b.index, "open", time.Now())
}

// chaosConfig is the gateway's config: reactive health checking, a short
// response timeout, and the backends in the order given.
func chaosConfig(algorithm string, backends []*chaosBackend, order []int) string {
	var s strings.Builder
	fmt.Fprintf(&s, `listen: 127.0.0.1:0
pools:
  p:
    algorithm: %s
    connectTimeout: 200ms
    responseHeaderTimeout: 200ms
    idleTimeout: 2s
    healthCheck: {interval: 50ms, timeout: 100ms, healthyThreshold: 1, unhealthyThreshold: 1}
    passive: {maxFails: 1, window: 1s, ejectFor: 200ms, on5xx: true}
    servers:
`, algorithm)
	for _, i := range order {
		fmt.Fprintf(&s, "      - http://%s\n", backends[i].addr)
	}
	return s.String()
}

// chaosRunTime returns how long the chaos run lasts.
func chaosRunTime(t *testing.T) time.Duration {
	if *chaosDuration > 0 {
		return *chaosDuration
	}
	if v := os.Getenv("GATEWAY_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("GATEWAY_CHAOS_DURATION: %v", err)
		}
		return d
	}
	return 3 * time.Second
}

func TestChaos(t *testing.T) {
	duration := chaosRunTime(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("GATEWAY_CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("GATEWAY_CHAOS_SEED: %v", err)
		}
	}
	t.Logf("seed %d (GATEWAY_CHAOS_SEED), duration %v", seed, duration)
	rng := rand.New(rand.NewPCG(seed, 0))

	tl := &chaosTimeline{names: map[string]int{}}
	var hung sync.Map
	var backends []*chaosBackend
	for i := range 3 {
		b := startChaosBackend(t, i, tl, &hung)
		backends = append(backends, b)
		tl.names["http://"+b.addr] = i
	}
	g := New(Options{Logger: slog.New(tl)})
	if _, err := g.Load("chaos.yaml", []byte(chaosConfig("least_connections", backends, []int{0, 1, 2})), TriggerStart); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	base := "http://" + g.Addr()

	var (
		mu       sync.Mutex
		counts   = map[string]int{}
		illegal  []string
		nextID   atomic.Uint64
		stop     = make(chan struct{})
		clientWG sync.WaitGroup
	)
	record := func(outcome string, legal bool, detail string) {
		mu.Lock()
		defer mu.Unlock()
		counts[outcome]++
		if !legal {
			counts[outcome+" (illegal)"]++
			if len(illegal) < 20 {
				illegal = append(illegal, outcome+": "+detail)
			}
		}
	}
	// Outcomes are judged once the run is over, when the timeline holds
	// everything that happened during each span.
	type answer struct {
		id             string
		status         int
		chaos          bool
		err            error
		sent, received time.Time
	}
	var answers []answer

	for range 8 {
		clientWG.Add(1)
		go func() {
			defer clientWG.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			var mine []answer
			defer func() {
				mu.Lock()
				answers = append(answers, mine...)
				mu.Unlock()
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := strconv.FormatUint(nextID.Add(1), 10)
				req, _ := http.NewRequest("GET", base+"/", nil)
				req.Header.Set("X-Chaos-Id", id)
				a := answer{id: id, sent: time.Now()}
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					a.status, a.chaos = resp.StatusCode, resp.Header.Get("X-Chaos") != ""
				}
				a.err, a.received = err, time.Now()
				mine = append(mine, a)
			}
		}()
	}

	// The controller: every 30-90ms it ends faults that are due, and may
	// start one lasting 50-300ms on a backend that serves normally, or
	// reload.
	type fault struct {
		until time.Time
		end   func()
	}
	faults := make([]*fault, len(backends))
	actions := map[string]int{}
	end := time.Now().Add(duration)
	algorithms := []string{"round_robin", "least_connections", "weighted_round_robin"}
	for time.Now().Before(end) {
		time.Sleep(time.Duration(30+rng.IntN(60)) * time.Millisecond)
		now := time.Now()
		for i, f := range faults {
			if f != nil && now.After(f.until) {
				f.end()
				faults[i] = nil
			}
		}
		i := rng.IntN(len(backends))
		b := backends[i]
		lasting := now.Add(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		switch action := rng.IntN(10); {
		case action < 2:
			if faults[i] == nil {
				b.kill()
				faults[i] = &fault{lasting, func() { b.restart(t) }}
				actions["kill"]++
			}
		case action < 4:
			if faults[i] == nil {
				b.refuse()
				faults[i] = &fault{lasting, func() { b.restart(t) }}
				actions["refuse"]++
			}
		case action < 6:
			if faults[i] == nil {
				b.setMode(modeHang)
				faults[i] = &fault{lasting, func() { b.setMode(modeServe) }}
				actions["hang"]++
			}
		case action < 8:
			if faults[i] == nil {
				b.setMode(mode500)
				faults[i] = &fault{lasting, func() { b.setMode(modeServe) }}
				actions["500"]++
			}
		default:
			order := rng.Perm(len(backends))
			cfg := chaosConfig(algorithms[rng.IntN(len(algorithms))], backends, order)
			if _, err := g.Load("chaos.yaml", []byte(cfg), TriggerWatch); err != nil {
				t.Errorf("reload: %v", err)
			}
			actions["reload"]++
		}
	}
	close(stop)
	clientWG.Wait()
	for i, f := range faults {
		if f != nil {
			f.end()
			faults[i] = nil
		}
	}

	j := &judge{events: tl.snapshot(), n: len(backends)}
	for _, a := range answers {
		span := fmt.Sprintf("request %s sent %s, answered after %v", a.id, a.sent.Format("15:04:05.000"), a.received.Sub(a.sent))
		if os.Getenv("CHAOS_DEBUG") != "" {
			for _, e := range j.events {
				if e.at.After(a.sent.Add(-300*time.Millisecond)) && e.at.Before(a.received.Add(300*time.Millisecond)) {
					span += fmt.Sprintf("\n   %s %d %s", e.at.Format("05.000000"), e.backend, e.kind)
				}
			}
			span += fmt.Sprintf("\n   sent %s recv %s", a.sent.Format("05.000000"), a.received.Format("05.000000"))
		}
		switch {
		case a.err != nil:
			record("broken", j.killed(a.sent, a.received), span+": "+a.err.Error())
		case a.status == 200:
			record("200", true, "")
		case a.status == 500 && a.chaos:
			record("500 relayed", true, "")
		case a.status == 503:
			record("503 none healthy", j.allDown(a.sent, a.received.Add(chaosSlack)), span)
		case a.status == 504:
			// A backend may also be slow without hanging: a loaded machine
			// (two cores under -race) can keep an answer past the timeout.
			_, wasHung := hung.Load(a.id)
			slow := a.received.Sub(a.sent) >= chaosResponseTimeout
			record("504 hung", wasHung || slow, span)
		case a.status == 502 && j.killed(a.sent, a.received):
			record("502 killed mid-request", true, "")
		case a.status == 502:
			record("502 none usable", j.allUnusable(a.sent, a.received.Add(chaosSlack)), span)
		default:
			record(strconv.Itoa(a.status), false, span)
		}
	}
	t.Logf("chaos actions: %v", actions)
	t.Logf("outcomes of %d requests: %v", len(answers), counts)
	for _, s := range illegal {
		t.Errorf("illegal outcome: %s", s)
	}
	if counts["200"] == 0 {
		t.Errorf("no request succeeded")
	}

	// Once the chaos ends, the gateway recovers: every backend comes back,
	// requests succeed and none is left in flight.
	waitUntil(t, "every backend to be healthy again", func() bool {
		for _, b := range g.current().pools[0].backends {
			if !b.health.Healthy() {
				return false
			}
		}
		return true
	})
	client := &http.Client{}
	for range 6 {
		if status, body := get(t, client, base+"/"); status != 200 || !strings.HasPrefix(body, "ok ") {
			t.Fatalf("after the chaos: %d %q", status, body)
		}
	}
	waitUntil(t, "no request in flight", func() bool {
		for _, b := range g.current().pools[0].backends {
			if b.inFlight.Load() != 0 {
				return false
			}
		}
		return true
	})
}
