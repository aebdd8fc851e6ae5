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
	g := New(Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		deadline, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("no deadline")
		}
		mu.Lock()
		dials = append(dials, dial{network, addr, time.Until(deadline)})
		mu.Unlock()
		return ln.Dial()
	}})
	config := poolConfig("round_robin", "    connectTimeout: 7s\n", "http://backend.invalid:8080")
	if _, err := g.Load("test.yaml", []byte(config), TriggerStart); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	base := "http://" + g.Addr()

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
