package health

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// seenRequest is what a test backend saw of one request.
type seenRequest struct {
	method, target, userAgent, host string
}

// recordingBackend is a loopback backend that answers every request with
// status and remembers what it saw.
type recordingBackend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRecordingBackend(t *testing.T, status int) *recordingBackend {
	t.Helper()
	b := &recordingBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, seenRequest{r.Method, r.RequestURI, r.UserAgent(), r.Host})
		b.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *recordingBackend) requests() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seenRequest(nil), b.seen...)
}

// probeOnce runs one probe of url with a generous context deadline.
func probeOnce(t *testing.T, url string, cfg CheckConfig) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return NewHTTPProber(url, cfg).Probe(ctx)
}

func TestHTTPProberStatus(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		expect     []StatusRange
		wantOK     bool
		wantReason string
	}{
		{"200 passes by default", 200, nil, true, "ok"},
		{"204 passes by default", 204, nil, true, "ok"},
		{"302 passes by default and is not followed", 302, nil, true, "ok"},
		{"399 passes by default", 399, nil, true, "ok"},
		{"404 fails by default", 404, nil, false, "status 404"},
		{"503 fails by default", 503, nil, false, "status 503"},
		{"301 fails a 2xx range", 301, []StatusRange{{200, 299}}, false, "status 301"},
		{"404 passes a listed code", 404, []StatusRange{{200, 299}, {404, 404}}, true, "ok"},
		{"200 fails when only 204 is expected", 200, []StatusRange{{204, 204}}, false, "status 200"},
		{"range bounds are inclusive", 299, []StatusRange{{200, 299}}, true, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRecordingBackend(t, tt.status)
			before := time.Now()
			r := probeOnce(t, b.URL, CheckConfig{Expect: tt.expect})
			if r.OK != tt.wantOK || r.Reason != tt.wantReason {
				t.Fatalf("Probe = %v %q, want %v %q", r.OK, r.Reason, tt.wantOK, tt.wantReason)
			}
			if r.At.Before(before) || r.At.After(time.Now()) {
				t.Fatalf("At = %v, want the probe's start", r.At)
			}
			if n := len(b.requests()); n != 1 {
				t.Fatalf("backend saw %d requests, want 1", n)
			}
		})
	}
}

func TestHTTPProberMethodAndPath(t *testing.T) {
	tests := []struct {
		name       string
		cfg        CheckConfig
		trailSlash bool
		want       seenRequest
	}{
		{"defaults", CheckConfig{}, false, seenRequest{"HEAD", "/", probeUserAgent, ""}},
		{"GET with query", CheckConfig{Method: "GET", Path: "/healthz?deep=1"}, false,
			seenRequest{"GET", "/healthz?deep=1", probeUserAgent, ""}},
		{"OPTIONS", CheckConfig{Method: "OPTIONS", Path: "/ready"}, false,
			seenRequest{"OPTIONS", "/ready", probeUserAgent, ""}},
		{"path without slash", CheckConfig{Path: "live"}, false, seenRequest{"HEAD", "/live", probeUserAgent, ""}},
		{"base URL with trailing slash", CheckConfig{Path: "/live"}, true,
			seenRequest{"HEAD", "/live", probeUserAgent, ""}},
		{"Host", CheckConfig{Host: "api.example.com"}, false, seenRequest{"HEAD", "/", probeUserAgent, "api.example.com"}},
		{"Host and port", CheckConfig{Host: "API.example.com:8443"}, false, seenRequest{"HEAD", "/", probeUserAgent, "API.example.com:8443"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRecordingBackend(t, http.StatusOK)
			url := b.URL
			if tt.trailSlash {
				url += "/"
			}
			if r := probeOnce(t, url, tt.cfg); !r.OK {
				t.Fatalf("Probe failed: %q", r.Reason)
			}
			got := b.requests()
			if tt.want.host == "" {
				tt.want.host = strings.TrimPrefix(b.URL, "http://")
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("backend saw %+v, want one %+v", got, tt.want)
			}
		})
	}
}

func TestHTTPProberIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	b := &recordingBackend{}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, seenRequest{r.Method, r.RequestURI, r.UserAgent(), r.Host})
		b.mu.Unlock()
	}))
	b.Listener.Close()
	b.Listener = ln
	b.Start()
	t.Cleanup(b.Close)
	if r := probeOnce(t, b.URL, CheckConfig{}); !r.OK {
		t.Fatalf("probe of %s failed: %q", b.URL, r.Reason)
	}
	if got := b.requests(); len(got) != 1 || got[0].host != strings.TrimPrefix(b.URL, "http://") {
		t.Fatalf("backend saw %+v, want one probe with Host %s", got, strings.TrimPrefix(b.URL, "http://"))
	}
}

func TestHTTPProberDial(t *testing.T) {
	b := newRecordingBackend(t, http.StatusOK)
	var dialled []string
	cfg := CheckConfig{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		var d net.Dialer
		return d.DialContext(ctx, network, strings.TrimPrefix(b.URL, "http://"))
	}}
	if r := probeOnce(t, "http://backend.invalid:8080", cfg); !r.OK {
		t.Fatalf("probe through Dial failed: %q", r.Reason)
	}
	if len(dialled) != 1 || dialled[0] != "backend.invalid:8080" || len(b.requests()) != 1 {
		t.Fatalf("Dial was asked for %q and the backend saw %d probes, want backend.invalid:8080 once", dialled, len(b.requests()))
	}
}

func TestHTTPProberConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := probeOnce(t, "http://"+addr, CheckConfig{})
	if r.OK || r.Reason != "connection refused" {
		t.Fatalf("Probe = %v %q, want a failure for connection refused", r.OK, r.Reason)
	}
}

// serveRaw accepts connections on a loopback listener and hands each to
// handle in its own goroutine, until the test ends.
func serveRaw(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(conn) })
		}
	})
	return "http://" + ln.Addr().String()
}

func TestHTTPProberTimeout(t *testing.T) {
	done := make(chan struct{})
	url := serveRaw(t, func(c net.Conn) {
		defer c.Close()
		<-done // accept and never answer
	})
	defer close(done)
	const timeout = 200 * time.Millisecond
	start := time.Now()
	// The context has no deadline: the prober's own Timeout must bound it.
	r := NewHTTPProber(url, CheckConfig{Timeout: timeout}).Probe(t.Context())
	elapsed := time.Since(start)
	if r.OK || r.Reason != "timeout" {
		t.Fatalf("Probe = %v %q, want a failure for timeout", r.OK, r.Reason)
	}
	if elapsed < timeout || elapsed > timeout+2*time.Second {
		t.Fatalf("Probe took %v, want about %v", elapsed, timeout)
	}
}

func TestHTTPProberConnectionReset(t *testing.T) {
	tests := []struct {
		name   string
		handle func(net.Conn)
	}{
		{"closed after the request", func(c net.Conn) {
			_, _ = c.Read(make([]byte, 1024))
			c.Close()
		}},
		{"reset after the request", func(c net.Conn) {
			_, _ = c.Read(make([]byte, 1024))
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := probeOnce(t, serveRaw(t, tt.handle), CheckConfig{})
			if r.OK || r.Reason != "connection reset" {
				t.Fatalf("Probe = %v %q, want a failure for connection reset", r.OK, r.Reason)
			}
		})
	}
}

func TestHTTPProberDoesNotReadUnboundedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				return // the prober hung up
			}
		}
	}))
	defer srv.Close()
	r := probeOnce(t, srv.URL, CheckConfig{Method: "GET", Timeout: 5 * time.Second})
	if !r.OK {
		t.Fatalf("Probe of an endless body = %q, want ok", r.Reason)
	}
}

func TestHTTPProberUntrustedTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	srv.StartTLS()
	defer srv.Close()
	// A generous timeout: the handshake must fail on the certificate, not
	// on time, however loaded the machine.
	r := probeOnce(t, srv.URL, CheckConfig{Timeout: 10 * time.Second})
	if r.OK || !strings.HasPrefix(r.Reason, "tls: ") || len(r.Reason) > maxReasonLen {
		t.Fatalf("Probe = %v %q, want a short tls failure", r.OK, r.Reason)
	}
}

func TestHTTPProberBadURL(t *testing.T) {
	tests := []struct{ url, wantPrefix string }{
		{"ftp://127.0.0.1:21", `backend URL "ftp://127.0.0.1:21": want http`},
		{"127.0.0.1:8080", `backend URL "127.0.0.1:8080"`},
		{"http://", `backend URL "http://": want http`},
	}
	for _, tt := range tests {
		r := probeOnce(t, tt.url, CheckConfig{})
		if r.OK || !strings.HasPrefix(r.Reason, tt.wantPrefix) {
			t.Errorf("Probe(%q) = %v %q, want a failure starting %q", tt.url, r.OK, r.Reason, tt.wantPrefix)
		}
	}
}

// TestCheckerWithHTTPProberStops runs a Checker against a real backend and
// shows that Stop leaves neither its goroutine nor a connection behind.
func TestCheckerWithHTTPProberStops(t *testing.T) {
	b := newRecordingBackend(t, http.StatusServiceUnavailable)
	s := NewStatus("b1", nil)
	c := NewChecker(s, NewHTTPProber(b.URL, CheckConfig{}), CheckConfig{
		Interval: 10 * time.Millisecond, UnhealthyThreshold: 2,
	})
	c.Start()
	deadline := time.Now().Add(10 * time.Second)
	for s.Healthy() {
		if time.Now().After(deadline) {
			t.Fatal("backend answering 503 still up after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Stop()
	// Stop returns as the goroutine returns; give it a moment to be gone.
	for checkerRunning(t) {
		if time.Now().After(deadline) {
			t.Fatal("a Checker goroutine is left after Stop")
		}
		time.Sleep(time.Millisecond)
	}
	if got := s.Snapshot().Reason; got != "status 503" {
		t.Fatalf("Reason = %q, want %q", got, "status 503")
	}
	n := len(b.requests())
	time.Sleep(50 * time.Millisecond)
	if m := len(b.requests()); m != n {
		t.Fatalf("backend saw %d more probes after Stop", m-n)
	}
}
