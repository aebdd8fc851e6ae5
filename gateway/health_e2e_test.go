package gateway

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flappingBackend is a loopback backend whose /healthz can be made to fail
// or hang, and which counts the requests it serves elsewhere.
type flappingBackend struct {
	*testBackend
	health atomic.Int32 // 0 ok, 1 answers 503, 2 hangs
	served atomic.Int64
}

func startFlappingBackend(t *testing.T, name string) *flappingBackend {
	f := &flappingBackend{}
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	f.testBackend = startBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			switch f.health.Load() {
			case 1:
				w.WriteHeader(http.StatusServiceUnavailable)
			case 2:
				select {
				case <-hang:
				case <-r.Context().Done():
				}
			}
			return
		}
		f.served.Add(1)
		w.Write([]byte(name))
	})
	return f
}

// bodies sends n GETs and returns the concatenated bodies.
func bodies(t *testing.T, base string, n int) string {
	t.Helper()
	client := &http.Client{}
	var out strings.Builder
	for range n {
		status, body := get(t, client, base+"/")
		if status != 200 {
			t.Fatalf("status %d (%q)", status, body)
		}
		out.WriteString(body)
	}
	return out.String()
}

func TestHealthActiveDownAndBackUp(t *testing.T) {
	for _, mode := range []struct {
		name   string
		health int32
		reason string
	}{{"status 503", 1, "status 503"}, {"hang", 2, "timeout"}} {
		t.Run(mode.name, func(t *testing.T) {
			a, b := startFlappingBackend(t, "a"), startFlappingBackend(t, "b")
			g, base := startGateway(t, healthConfig("30ms", ", timeout: 100ms, unhealthyThreshold: 2, healthyThreshold: 2", a.URL, b.URL))
			if got := bodies(t, base, 4); got != "abab" {
				t.Fatalf("healthy rotation %q, want abab", got)
			}
			b.health.Store(mode.health)
			bb := backendAt(t, g, "p", strings.ToLower(b.URL))
			waitUntil(t, "b to be marked down", func() bool { return !bb.health.Healthy() })
			if snap := bb.health.Snapshot(); snap.Reason != mode.reason || snap.ConsecutiveFails < 2 {
				t.Fatalf("down with reason %q after %d failures, want %q after 2", snap.Reason, snap.ConsecutiveFails, mode.reason)
			}
			served := b.served.Load()
			if got := bodies(t, base, 6); got != "aaaaaa" {
				t.Fatalf("with b down: %q, want only a", got)
			}
			if b.served.Load() != served {
				t.Fatal("a backend marked down was sent a request")
			}
			b.health.Store(0)
			waitUntil(t, "b to come back", func() bool { return bb.health.Healthy() })
			if got := bodies(t, base, 4); strings.Count(got, "b") != 2 {
				t.Fatalf("after recovery: %q, want b back in the rotation", got)
			}
		})
	}
}

func TestHealthAllDownThen503ThenRecovers(t *testing.T) {
	a := startFlappingBackend(t, "a")
	g, base := startGateway(t, healthConfig("30ms", ", unhealthyThreshold: 1, healthyThreshold: 1", a.URL))
	a.health.Store(1)
	ab := backendAt(t, g, "p", strings.ToLower(a.URL))
	waitUntil(t, "a to be marked down", func() bool { return !ab.health.Healthy() })
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("all down: %d Retry-After=%q, want 503 with Retry-After: 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	a.health.Store(0)
	waitUntil(t, "a to come back", func() bool { return ab.health.Healthy() })
	if got := bodies(t, base, 2); got != "aa" {
		t.Fatalf("after recovery %q, want aa", got)
	}
}

func TestHealthPassiveEjectsRefusingBackend(t *testing.T) {
	a := startFlappingBackend(t, "a")
	dead := "http://" + closedAddr(t)
	cfg := poolConfig("round_robin", "    passive: {maxFails: 2, window: 10s, ejectFor: 1h}\n", dead, a.URL)
	g, base := startGateway(t, cfg)
	// Every request succeeds: the refused ones fail over to a.
	if got := bodies(t, base, 6); got != "aaaaaa" {
		t.Fatalf("%q, want every request answered by a", got)
	}
	d := backendAt(t, g, "p", dead)
	snap := d.health.Snapshot()
	if d.health.Healthy() || !snap.Ejected || !strings.HasPrefix(snap.Reason, "passive:") {
		t.Fatalf("refusing backend: healthy=%v ejected=%v reason=%q, want ejected by passive health", d.health.Healthy(), snap.Ejected, snap.Reason)
	}
}

func TestHealthPassiveNeverEjectsLastHealthy(t *testing.T) {
	dead := "http://" + closedAddr(t)
	g, base := startGateway(t, poolConfig("round_robin", "    passive: {maxFails: 1, window: 10s, ejectFor: 1h}\n", dead))
	for range 3 {
		if status, _ := get(t, &http.Client{}, base+"/"); status != 502 {
			t.Fatalf("status %d, want 502", status)
		}
	}
	if d := backendAt(t, g, "p", dead); !d.health.Healthy() {
		t.Fatal("the pool's only backend was ejected on passive evidence alone")
	}
}

func TestHealthPassiveHangingBackendTimesOut(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	a := startFlappingBackend(t, "a")
	cfg := poolConfig("round_robin", "    responseHeaderTimeout: 100ms\n    passive: {maxFails: 1, window: 10s, ejectFor: 1h}\n", slow.URL, a.URL)
	g, base := startGateway(t, cfg)
	start := time.Now()
	status, _ := get(t, &http.Client{}, base+"/")
	if status != 504 {
		t.Fatalf("status %d from a hanging backend, want 504", status)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Fatalf("504 after %v, want about 100ms", d)
	}
	if s := backendAt(t, g, "p", strings.ToLower(slow.URL)); s.health.Healthy() {
		t.Fatal("the hanging backend was not ejected")
	}
	if got := bodies(t, base, 3); got != "aaa" {
		t.Fatalf("after ejection %q, want aaa", got)
	}
}
