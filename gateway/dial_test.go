package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"
)

func TestOptionsDialContextReachesBackends(t *testing.T) {
	ln := fasthttputil.NewInmemoryListener()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			upgradeHandler(echo)(w, r)
			return
		}
		io.WriteString(w, "in memory")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	type dial struct {
		network, addr string
		timeout       time.Duration
	}
	var mu sync.Mutex
	var dials []dial
	opts := Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		deadline, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("no deadline")
		}
		mu.Lock()
		dials = append(dials, dial{network, addr, time.Until(deadline)})
		mu.Unlock()
		return ln.Dial()
	}}
	_, base := startGatewayWith(t, opts, poolConfig("round_robin", "    connectTimeout: 7s\n", "http://backend.invalid:8080"))

	getN(t, &http.Client{}, base+"/", 1, "in memory")
	c, br := dialUpgrade(t, base)
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the tunnel: %q, %v", buf, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(dials) != 2 {
		t.Fatalf("%d dials, want one for the request and one for the tunnel: %+v", len(dials), dials)
	}
	for _, d := range dials {
		if d.network != "tcp" || d.addr != "backend.invalid:8080" || d.timeout <= 6*time.Second || d.timeout > 7*time.Second {
			t.Errorf("dial %+v, want tcp to backend.invalid:8080 within the 7s connect timeout", d)
		}
	}
}

func TestOptionsDialContextCarriesProbes(t *testing.T) {
	ln := fasthttputil.NewInmemoryListener()
	probes := make(chan string, 100)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case probes <- r.Method + " " + r.Host + r.URL.Path:
		default:
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dialled := make(chan string, 100)
	opts := Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled <- network + " " + addr
		return ln.Dial()
	}}
	g, _ := startGatewayWith(t, opts, "listen: 127.0.0.1:0\npools:\n  p:\n    healthCheck: {path: /healthz, interval: 1h}\n    servers: [http://backend.invalid:8080]\n")
	if got := <-probes; got != "HEAD backend.invalid:8080/healthz" {
		t.Fatalf("the backend saw the probe %q, want HEAD backend.invalid:8080/healthz", got)
	}
	if got := <-dialled; got != "tcp backend.invalid:8080" {
		t.Fatalf("the probe dialled %q, want tcp backend.invalid:8080 through DialContext", got)
	}
	b := g.current().pools[0].backends[0]
	waitUntil(t, "the probe's result", func() bool { return b.health.Snapshot().LastResult != "" })
	if snap := b.health.Snapshot(); snap.LastResult != "ok" {
		t.Fatalf("the probe through DialContext: %+v, want ok", snap)
	}
}
