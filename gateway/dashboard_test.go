package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboardPageWeight serves the dashboard page and holds it to its
// budget: one self-contained page under 100 KiB that fetches nothing
// from elsewhere, served read-only and on the admin listener only.
func TestDashboardPageWeight(t *testing.T) {
	a := startBackend(t, "a", nil)
	g, base := startGateway(t, withAdmin(poolConfig("round_robin", "", a.URL)))
	for _, path := range []string{"/", "/events"} {
		if code, body := get(t, http.DefaultClient, base+path); code != http.StatusOK || body != "a" {
			t.Fatalf("public listener GET %s: %d %q, want the backend's answer: the dashboard is on the admin listener only", path, code, body)
		}
	}
	resp, err := http.Get("http://" + g.AdminAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	const budget = 100 << 10
	if len(body) != len(dashboardPage) || len(body) >= budget {
		t.Fatalf("page is %d bytes (embedded %d), want the embedded page under %d", len(body), len(dashboardPage), budget)
	}
	t.Logf("dashboard page: %d bytes of %d", len(body), budget)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Fatalf("Content-Security-Policy %q lets the page reach elsewhere", csp)
	}
	// Nothing loads from elsewhere: no element with a source or a link,
	// no style import or url, and the script connects only to /events.
	external := regexp.MustCompile(`(?i)<(script|link|img|iframe|object|embed|source|audio|video)[^>]*\s(src|href)=|@import|url\(|fetch\(|XMLHttpRequest|WebSocket|https?://[^"]*["']\s*\)`)
	if m := external.FindString(body); m != "" {
		t.Fatalf("page refers to something outside it: %q", m)
	}
	if n := strings.Count(body, "new EventSource("); n != 1 || !strings.Contains(body, `new EventSource("events")`) {
		t.Fatalf("page opens %d event sources, want one, of events", n)
	}
	for _, path := range []string{"/", "/events"} {
		resp, err := http.Post("http://"+g.AdminAddr()+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405: the dashboard is read-only", path, resp.StatusCode)
		}
	}
	if code, _ := adminGet(t, g, "/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404: the page is only at /", code)
	}
}

// eventStream reads the server-sent events of /events.
type eventStream struct {
	resp *http.Response
	sc   *bufio.Scanner
}

func openEvents(t *testing.T, g *Gateway) *eventStream {
	t.Helper()
	resp, err := http.Get("http://" + g.AdminAddr() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	return &eventStream{resp: resp, sc: sc}
}

// next reads the next event, which must be a state.
func (s *eventStream) next(t *testing.T) DashboardState {
	t.Helper()
	var event, data string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			if event != "state" {
				t.Fatalf("event %q, want state", event)
			}
			var st DashboardState
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				t.Fatalf("event data: %v\n%s", err, data)
			}
			return st
		}
	}
	t.Fatalf("event stream ended: %v", s.sc.Err())
	return DashboardState{}
}

// until reads events until cond holds for one, at most [waitBound].
func (s *eventStream) until(t *testing.T, what string, cond func(DashboardState) bool) DashboardState {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		st := s.next(t)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event with %s within %v", what, waitBound)
		}
	}
}

// TestDashboardEvents follows /events across traffic, a reload and a
// rejected one: each event carries the status, the reloads and the
// pools' rates, and the rates count the requests and the 5xx answers.
func TestDashboardEvents(t *testing.T) {
	a := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	cfg := withAdmin(poolConfig("round_robin", "", a.URL))
	g, base := startGateway(t, cfg)
	events := openEvents(t, g)
	first := events.next(t)
	if first.Status.Generation.Number != 1 || len(first.Status.Pools) != 1 || len(first.Reloads) != 1 || first.Reloads[0].Result != ResultApplied {
		t.Fatalf("first event: generation %d, %d pools, reloads %+v", first.Status.Generation.Number, len(first.Status.Pools), first.Reloads)
	}
	client := &http.Client{}
	for range 3 {
		get(t, client, base+"/")
	}
	get(t, client, base+"/fail")
	events.until(t, "the requests and the error in the rates", func(st DashboardState) bool {
		var reqs, errs float64
		for _, r := range st.Rates {
			for _, p := range r.Points {
				if r.Pool == "p" {
					reqs += p.Requests
					errs += p.Errors
				}
			}
		}
		// A point is a rate over the time between two samples, about
		// a second; TestHistorySample checks the figures.
		return reqs > 0 && errs > 0
	})

	if first.RatesSince != 0 {
		t.Errorf("first event: ratesSince %d, want 0: the whole history", first.RatesSince)
	}
	// Later events bring only the points after the last one sent, not
	// the five minutes again.
	for range 2 {
		st := events.next(t)
		if st.RatesSince == 0 || len(st.Rates) != 1 || len(st.Rates[0].Points) > 2 {
			t.Fatalf("a later event: ratesSince %d, rates %+v; want the points since the last event of the one pool", st.RatesSince, st.Rates)
		}
		for _, p := range st.Rates[0].Points {
			if p.Time <= st.RatesSince {
				t.Fatalf("a later event resends the point of %d, at or before ratesSince %d", p.Time, st.RatesSince)
			}
		}
	}

	reloadOK(t, g, strings.Replace(cfg, "round_robin", "least_connections", 1))
	events.until(t, "generation 2", func(st DashboardState) bool {
		return st.Status.Generation.Number == 2 && st.Status.Pools[0].Algorithm == "least_connections"
	})
	if _, err := g.Load("test.yaml", []byte(cfg+"bogus: 1\n"), TriggerWatch); err == nil {
		t.Fatal("a config with an unknown key was applied")
	}
	st := events.until(t, "the rejected reload", func(st DashboardState) bool {
		return len(st.Reloads) == 3 && st.Reloads[2].Result == ResultRejected
	})
	if !strings.HasPrefix(st.Reloads[2].Error, "test.yaml:") || st.Status.Generation.Number != 2 {
		t.Fatalf("rejection %q with generation %d serving, want the file's position and generation 2", st.Reloads[2].Error, st.Status.Generation.Number)
	}
}

// TestDashboardStreamEndsAtShutdown checks that shutdown ends an open
// event stream cleanly, instead of waiting for it and then cutting it.
func TestDashboardStreamEndsAtShutdown(t *testing.T) {
	a := startBackend(t, "a", nil)
	g, _ := startGateway(t, withAdmin(poolConfig("round_robin", "", a.URL)))
	events := openEvents(t, g)
	events.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, events.resp.Body)
	if err != nil {
		t.Fatalf("event stream ended with %v, want a clean end", err)
	}
}

// TestHistorySample samples a gateway's counters and health at times the
// test gives: the rates are the requests and 5xx answers between two
// samples over the seconds between them, a backend's transition is an
// event, and the ring keeps the last five minutes.
func TestHistorySample(t *testing.T) {
	a := startFlappingBackend(t, "a")
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	g, base := startGateway(t, healthConfig("20ms", ", unhealthyThreshold: 1", a.URL, b.URL))
	h := newHistory()
	t0 := time.Unix(1_700_000_000, 0)
	h.sample(g.current(), t0)
	if rates, events := h.snapshot(); len(rates) != 1 || len(rates[0].Points) != 0 || len(events) != 0 {
		t.Fatalf("after the first sample: rates %+v, events %+v; want pool p without points", rates, events)
	}
	client := &http.Client{}
	for range 6 {
		get(t, client, base+"/")
	}
	for range 4 {
		get(t, client, base+"/fail") // b answers 502 when it gets it, a 200
	}
	a.health.Store(1)
	waitUntil(t, "a to be marked down", func() bool { return !backendAt(t, g, "p", strings.ToLower(a.URL)).health.Healthy() })
	h.sample(g.current(), t0.Add(2*time.Second))
	rates, events := h.snapshot()
	want := RatePoint{Time: t0.Unix() + 2, Requests: 5, Errors: 1}
	if len(rates) != 1 || len(rates[0].Points) != 1 || rates[0].Points[0] != want {
		t.Fatalf("rates %+v, want pool p with %+v", rates, want)
	}
	wantEvent := HealthEvent{Time: t0.Add(2 * time.Second), Pool: "p", Backend: strings.ToLower(a.URL), State: StateDown, Reason: "status 503"}
	if len(events) != 1 || events[0] != wantEvent {
		t.Fatalf("events %+v, want %+v", events, wantEvent)
	}
	for i := range rateSlots + 5 {
		h.sample(g.current(), t0.Add(time.Duration(3+i)*time.Second))
	}
	rates, _ = h.snapshot()
	pts := rates[0].Points
	if len(pts) != rateSlots || pts[0].Time != t0.Unix()+8 || pts[rateSlots-1].Time != t0.Unix()+int64(rateSlots)+7 {
		t.Fatalf("after %d more samples: %d points from %d to %d, want the last %d", rateSlots+5, len(pts), pts[0].Time, pts[len(pts)-1].Time, rateSlots)
	}
	for _, p := range pts {
		if p.Requests != 0 || p.Errors != 0 {
			t.Fatalf("point %+v without traffic", p)
		}
	}

	// A backend a reload brings in down is an event too.
	dead := "http://" + closedAddr(t)
	reloadOK(t, g, healthConfig("20ms", ", unhealthyThreshold: 1", a.URL, b.URL, dead))
	waitUntil(t, "the new backend to be marked down", func() bool { return !backendAt(t, g, "p", dead).health.Healthy() })
	h.sample(g.current(), t0.Add(399*time.Second))
	if _, events = h.snapshot(); len(events) != 2 || events[1].Backend != dead || events[1].State != StateDown {
		t.Fatalf("events %+v, want a second one: %s down", events, dead)
	}

	reloadOK(t, g, poolsABConfig(b.URL, a.URL, "  - pool: a\n"))
	h.sample(g.current(), t0.Add(400*time.Second))
	rates, _ = h.snapshot()
	if len(rates) != 2 || rates[0].Pool != "a" || rates[1].Pool != "b" || len(rates[0].Points) != 1 || len(rates[1].Points) != 1 {
		t.Fatalf("after pool p left for a and b: %+v", rates)
	}
}
