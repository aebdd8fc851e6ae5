package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway"
	"github.com/gatewayhq/gateway/gateway/adminclient"
	"github.com/gatewayhq/gateway/gateway/config"
)

// liveBackend starts a backend that answers its name, and handler's
// answer when handler is not nil.
func liveBackend(t *testing.T, name string, handler http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if handler != nil {
			handler(w, r)
			return
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// startLive starts a gateway on config, with an admin listener.
func startLive(t *testing.T, config string) *gateway.Gateway {
	t.Helper()
	g := gateway.New(gateway.Options{})
	if _, err := g.Load("gateway.yaml", []byte(config), gateway.TriggerStart); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g
}

// diffLive is `gateway diff --admin` of config against g: the running
// config and state fetched from g's admin listener, and the plan.
func diffLive(t *testing.T, g *gateway.Gateway, text string) gateway.DiffReport {
	t.Helper()
	cur, status, err := adminclient.Running(context.Background(), g.AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	next, err := config.Decode("gateway.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return gateway.Diff(cur, status, next)
}

// lastReload fetches /reloads from g's admin listener and returns the
// most recent record.
func lastReload(t *testing.T, g *gateway.Gateway) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + g.AdminAddr() + "/reloads")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var records []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&records); err != nil || len(records) == 0 {
		t.Fatalf("/reloads: %v, %d records", err, len(records))
	}
	return records[len(records)-1]
}

// TestDiffPredictsReloads checks the one rule of gateway diff: what diff
// --admin predicts for a config equals what /reloads records once the
// config is applied, the backends carried (updated ones among them),
// added and removed and the listener's action, for the kinds of change
// the carry-over tests make, one after the other on one gateway.
func TestDiffPredictsReloads(t *testing.T) {
	a, b, c, other := liveBackend(t, "a", nil), liveBackend(t, "b", nil), liveBackend(t, "c", nil), liveBackend(t, "other", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	moved := ln.Addr().String()
	ln.Close()
	const head = "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n"
	pool := func(pool string, servers ...string) string {
		return head + "pools:\n  p:\n" + pool + "    servers: [" + strings.Join(servers, ", ") + "]\n"
	}
	const passive = "    passive: {maxFails: 3, window: 1m, ejectFor: 1m}\n"
	const checks = "    healthCheck: {path: /healthz, interval: 1h, unhealthyThreshold: 1}\n"
	twoPools := func(probe string) string {
		return head + "pools:\n" +
			"  x:\n    healthCheck: {path: " + probe + ", interval: 1h}\n    servers: [" + a + "]\n" +
			"  y:\n    healthCheck: {path: /good, interval: 1h}\n    servers: [" + a + "]\n" +
			"routes:\n  - {pathPrefix: /x, pool: x}\n  - {pool: y}\n"
	}
	steps := []struct{ name, config string }{
		{"a backend added", pool(passive, a, b, c)},
		{"a comment only", "# only a comment\n" + pool(passive, a, b, c)},
		{"backends removed", pool(passive, b)},
		{"a backend replaced", pool(passive, a)},
		{"a pool added", pool(passive, a) + "  q:\n    servers: [" + other + "]\nroutes:\n  - {pathPrefix: /q, pool: q}\n  - {pool: p}\n"},
		{"a respelled URL", pool(passive, a+"/")},
		{"probes turned on", pool(checks, a, b)},
		{"another probe interval", pool(strings.Replace(checks, "1h", "2h", 1), a, b)},
		{"a probe host", pool(strings.Replace(checks, "}", ", host: api.example}", 1), a, b)},
		{"passive settings", pool("    passive: {maxFails: 5}\n", a, b)},
		{"connection settings", pool("    connectTimeout: 3s\n    idleTimeout: 40s\n", a, b)},
		{"a response timeout", pool("    responseHeaderTimeout: 100ms\n", a, b)},
		{"an algorithm and weights", pool("    algorithm: weighted_round_robin\n", a, "{url: "+b+", weight: 3}")},
		{"a server in two pools", twoPools("/bad")},
		{"one of two pools' checks", twoPools("/other")},
		{"the listen address moved", strings.Replace(twoPools("/other"), "127.0.0.1:0\nadmin", moved+"\nadmin", 1)},
		{"listener settings", strings.Replace(twoPools("/other"), "127.0.0.1:0\nadmin", moved+"\nclientHeaderTimeout: 3s\nadmin", 1)},
		{"the access log on", strings.Replace(twoPools("/other"), "127.0.0.1:0\nadmin", moved+"\nclientHeaderTimeout: 3s\naccessLog: "+t.TempDir()+"/a.log\nadmin", 1)},
	}
	g := startLive(t, pool(passive, a, b))
	for _, step := range steps {
		r := diffLive(t, g, step.config)
		if _, err := g.Load("gateway.yaml", []byte(step.config), gateway.TriggerWatch); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		rec := lastReload(t, g)
		if !r.Valid || !r.Live {
			t.Fatalf("%s: valid %v live %v", step.name, r.Valid, r.Live)
		}
		if !r.Changed {
			if rec["result"] != gateway.ResultUnchanged {
				t.Errorf("%s: diff predicted no change, /reloads recorded %v", step.name, rec)
			}
			continue
		}
		predicted := fmt.Sprintf("applied carried %d added %d removed %d listener %s",
			r.Backends.Carried, r.Backends.Added, r.Backends.Removed, r.Listener.Action)
		recorded := fmt.Sprintf("%v carried %v added %v removed %v listener %v",
			rec["result"], rec["carried"], rec["added"], rec["removed"], rec["listener"])
		if predicted != recorded {
			t.Errorf("%s: diff predicted %q, /reloads recorded %q", step.name, predicted, recorded)
		}
		// The backends the report lists add up to the same counts.
		var carried, added, removed int
		for _, p := range r.Pools {
			for _, bd := range p.Backends {
				switch bd.Change {
				case gateway.ChangeCarried, gateway.ChangeUpdated:
					carried++
				case gateway.ChangeAdded:
					added++
				case gateway.ChangeRemoved:
					removed++
				}
			}
		}
		if listed := (gateway.BackendCounts{Carried: carried, Added: added, Removed: removed}); listed != r.Backends {
			t.Errorf("%s: the pools list %+v, the counts say %+v", step.name, listed, r.Backends)
		}
		t.Logf("%s: %s", step.name, recorded)
	}
}

// TestDiffAdminShowsRequestsInFlight runs diff --admin against a gateway
// with a slow request in flight on a backend that the new config
// removes: the report names the backend removed, up, with one request in
// flight, which finishes after the config is applied.
func TestDiffAdminShowsRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := liveBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "slow")
	})
	fast := liveBackend(t, "fast", nil)
	config := func(servers string) string {
		return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\npools:\n  p:\n    healthCheck: {enabled: false}\n    servers: [" + servers + "]\n"
	}
	g := startLive(t, config(slow))
	done := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + g.Addr() + "/")
		if err != nil {
			done <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	<-started

	next := config(fast)
	r := diffLive(t, g, next)
	if len(r.Pools) != 1 || len(r.Pools[0].Backends) != 2 {
		t.Fatalf("pools %+v", r.Pools)
	}
	gone := r.Pools[0].Backends[1]
	if gone.URL != slow || gone.Change != gateway.ChangeRemoved || gone.Health == nil || *gone.Health != gateway.StateUp ||
		gone.InFlight == nil || *gone.InFlight != 1 {
		t.Fatalf("the slow backend: %+v, want removed, up, 1 in flight", gone)
	}
	if added := r.Pools[0].Backends[0]; added.URL != fast || added.Change != gateway.ChangeAdded || added.Health != nil {
		t.Fatalf("the fast backend: %+v, want added without health", added)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if want := "  removed  " + slow + ": 1 requests in flight will finish (up)\n"; !strings.Contains(text.String(), want) {
		t.Fatalf("text lacks %q:\n%s", want, text.String())
	}

	if _, err := g.Load("gateway.yaml", []byte(next), gateway.TriggerWatch); err != nil {
		t.Fatal(err)
	}
	close(release)
	if got := <-done; got != "200 slow" {
		t.Fatalf("the request in flight on the removed backend: %s, want 200 slow", got)
	}
}

// TestAdminConfig checks /config: the generation and hash of /status,
// and a config that decodes to the running one, defaults filled in, with
// header rule values redacted and certificate paths only.
func TestAdminConfig(t *testing.T) {
	a := liveBackend(t, "a", nil)
	text := "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nservers: [" + a + "]\nroutes:\n" +
		"  - {pathPrefix: /api/, requestHeaders: {set: {Authorization: Bearer s3cret}}, pool: default}\n"
	g := startLive(t, text)
	resp, err := http.Get("http://" + g.AdminAddr() + "/config")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cr gateway.ConfigReport
	if err := json.Unmarshal(body, &cr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v:\n%s", resp.StatusCode, err, body)
	}
	if cr.Generation != 1 || cr.Hash != config.Hash([]byte(text)) {
		t.Fatalf("generation %d hash %s", cr.Generation, cr.Hash)
	}
	if strings.Contains(string(body), "s3cret") || !strings.Contains(string(body), `"Authorization": "sha256:`) {
		t.Fatalf("/config shows a header rule value:\n%s", body)
	}
	running, err := config.Decode("gateway.yaml", cr.Config)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := config.Decode("gateway.yaml", []byte(text))
	if !running.Equal(want.Redacted()) {
		t.Fatalf("/config decodes to another config:\n%s", cr.Config)
	}
	if !strings.Contains(string(cr.Config), `"shutdownTimeout": "30s"`) {
		t.Fatalf("/config lacks the defaults:\n%s", cr.Config)
	}
}
