package gateway

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/health"
)

// scaleConfig is a config of pools pools, each of the given servers and
// routed from /r<n>/, health-checked every 2s; idle is its
// clientIdleTimeout, which a reload may change without touching a
// backend.
func scaleConfig(pools int, idle string, servers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\nclientIdleTimeout: %s\nhealthCheck: {interval: 2s, timeout: 1s}\npools:\n", idle)
	list := "[" + strings.Join(servers, ", ") + "]"
	for p := range pools {
		fmt.Fprintf(&b, "  p%d: {servers: %s}\n", p, list)
	}
	b.WriteString("routes:\n")
	for p := range pools {
		fmt.Fprintf(&b, "  - {pathPrefix: /r%d/, pool: p%d}\n", p, p)
	}
	return b.String()
}

// TestTenThousandBackends serves 2,000 pools of 5 servers, every backend
// probed every 2s: the goroutines stay under a bound that does not grow
// with the backends while every backend is probed, and a reload that keeps
// the backends carries all 10,000 of them, health included.
func TestTenThousandBackends(t *testing.T) {
	const pools, perPool = 2000, 5
	// The gateway's own goroutines, and for each probe in flight its
	// prober goroutine and the test server's connection: far below one
	// per backend.
	const bound = 2*health.DefaultProbers + 100
	var servers []string
	for i := range perPool {
		servers = append(servers, startBackend(t, fmt.Sprint("b", i), nil).URL)
	}
	base := runtime.NumGoroutine()
	start := time.Now()
	g, url := startGateway(t, scaleConfig(pools, "60s", servers))
	t.Logf("applied %d backends in %v", pools*perPool, time.Since(start))

	// Every backend probed once (each has a LastProbe), goroutines
	// sampled meanwhile.
	most := 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		most = max(most, runtime.NumGoroutine()-base)
		probed := 0
		for _, b := range g.live {
			if !b.health.Snapshot().LastProbe.IsZero() {
				probed++
			}
		}
		if probed == pools*perPool {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d backends probed after 60s", probed, pools*perPool)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("every backend probed %v after the apply; at most %d goroutines beside the test's", time.Since(start), most)
	if most > bound {
		t.Fatalf("%d goroutines with %d backends, want at most %d", most, pools*perPool, bound)
	}
	for _, b := range g.live {
		if !b.health.Healthy() {
			t.Fatalf("%s is down: %+v", b.key, b.health.Snapshot())
		}
	}

	before := make(map[string]*backend, len(g.live))
	for k, b := range g.live {
		before[k] = b
	}
	rec, err := g.Load("test.yaml", []byte(scaleConfig(pools, "61s", servers)), TriggerWatch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kept-backend reload took %v", rec.Duration)
	if rec.Carried != pools*perPool || rec.Added != 0 || rec.Removed != 0 {
		t.Fatalf("reload carried %d, added %d, removed %d; want %d, 0, 0", rec.Carried, rec.Added, rec.Removed, pools*perPool)
	}
	for k, b := range g.live {
		if before[k] != b {
			t.Fatalf("backend %s was replaced by the reload", k)
		}
	}
	if n := runtime.NumGoroutine() - base; n > bound {
		t.Fatalf("%d goroutines after the reload, want at most %d", n, bound)
	}
	status, body := get(t, http.DefaultClient, url+"/r1999/")
	if status != http.StatusOK || !strings.HasPrefix(body, "b") {
		t.Fatalf("GET /r1999/ = %d %q, want 200 from a backend", status, body)
	}
}
