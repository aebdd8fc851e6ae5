package gateway

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a gateway's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns the log records whose msg is msg.
func (l *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// startLoggedGateway is startGateway with a logger whose lines the test
// reads.
func startLoggedGateway(t *testing.T, config string) (*Gateway, string, *logBuffer) {
	t.Helper()
	logs := new(logBuffer)
	g := New(Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if _, err := g.Load("test.yaml", []byte(config), TriggerStart); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { stopGateway(t, g) })
	return g, "http://" + g.Addr(), logs
}

// rawBackend serves each connection to a loopback listener with serve,
// which speaks HTTP (or not) byte by byte, and returns its URL.
func rawBackend(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequestHead reads one request head off br, or returns false.
func readRequestHead(br *bufio.Reader) (*http.Request, bool) {
	r, err := http.ReadRequest(br)
	return r, err == nil
}

// onlyBackend returns the one backend of g's one pool.
func onlyBackend(g *Gateway) *backend { return g.current().pools[0].backends[0] }

// noBackendFailed fails the test when any backend of g counted a failure
// or is not healthy.
func noBackendFailed(t *testing.T, g *Gateway) {
	t.Helper()
	for _, p := range g.current().pools {
		for _, b := range p.backends {
			if n := b.failures.Load(); n != 0 {
				t.Errorf("backend %s counted %d failures", b.name(), n)
			}
			if snap := b.health.Snapshot(); !snap.Healthy || snap.Ejected {
				t.Errorf("backend %s is not healthy: %+v", b.name(), snap)
			}
		}
	}
}

// listenIPv6 listens on [::1], or skips the test where there is no IPv6
// loopback.
func listenIPv6(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	return ln
}

// ipv6Backend starts a backend on [::1] answering its name and the Host
// it was sent, and counting probes of /health.
func ipv6Backend(t *testing.T) (*httptest.Server, *syncCounter) {
	t.Helper()
	probes := new(syncCounter)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			probes.add(r.Host)
			return
		}
		io.WriteString(w, "v6 "+r.Host)
	}))
	srv.Listener.Close()
	srv.Listener = listenIPv6(t)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, probes
}

// syncCounter counts events and keeps the last value seen.
type syncCounter struct {
	mu   sync.Mutex
	n    int
	last string
}

func (s *syncCounter) add(v string) {
	s.mu.Lock()
	s.n++
	s.last = v
	s.mu.Unlock()
}

func (s *syncCounter) get() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.last
}

// probedConfig is a config of one pool of server, probed on /health every
// 50ms, with extra health check keys.
func probedConfig(server, extra string) string {
	return "listen: 127.0.0.1:0\npools:\n  p:\n    healthCheck: {path: /health, interval: 50ms" + extra + "}\n    servers: [\"" + server + "\"]\n"
}

func TestDataPathIPv6Backend(t *testing.T) {
	srv, probes := ipv6Backend(t)
	g, base := startGateway(t, probedConfig(srv.URL, ", host: api.example"))
	waitUntil(t, "two probes of the IPv6 backend", func() bool { n, _ := probes.get(); return n >= 2 })
	if _, host := probes.get(); host != "api.example" {
		t.Errorf("probes sent Host %q, want healthCheck.host api.example", host)
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "v6 "+strings.TrimPrefix(base, "http://") {
		t.Fatalf("GET through the gateway: %d %q, want 200 from the IPv6 backend with the client's Host", status, body)
	}
	if s := g.Status().Pools[0].Backends[0]; !s.Healthy || s.LastResult != "ok" {
		t.Fatalf("the IPv6 backend's state: %+v, want up with its last probe ok", s)
	}
	noBackendFailed(t, g)
}

func TestDataPathLocalhostListeningOnIPv6Only(t *testing.T) {
	srv, probes := ipv6Backend(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	g, base := startGateway(t, probedConfig("http://localhost:"+port, ""))
	waitUntil(t, "two probes of localhost on ::1", func() bool { n, _ := probes.get(); return n >= 2 })
	if _, host := probes.get(); host != "localhost:"+port {
		t.Errorf("probes sent Host %q, want the backend's address localhost:%s", host, port)
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || !strings.HasPrefix(body, "v6 ") {
		t.Fatalf("GET through the gateway: %d %q, want 200 from localhost on ::1", status, body)
	}
	if s := g.Status().Pools[0].Backends[0]; !s.Healthy || s.LastResult != "ok" {
		t.Fatalf("localhost on ::1: %+v, want up with its last probe ok", s)
	}
	noBackendFailed(t, g)
}

// trustBackendTLS makes the https backends of g's pools trust srv's
// certificate, as a caFile would.
func trustBackendTLS(g *Gateway, srv *httptest.Server) {
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	for _, p := range g.current().pools {
		for _, b := range p.backends {
			b.upstream.Load().tls.RootCAs = roots
		}
	}
}

func TestDataPathHTTPSBackend(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %t %s %s %s", r.TLS != nil, r.Host, r.RequestURI, r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(srv.Close)
	g, base := startGateway(t, poolConfig("round_robin", "", srv.URL))
	trustBackendTLS(g, srv)
	for range 3 { // the second and third over the kept connection
		status, body := get(t, &http.Client{}, base+"/a?b=c")
		if want := "tls true " + strings.TrimPrefix(base, "http://") + " /a?b=c http"; status != 200 || body != want {
			t.Fatalf("GET of an https backend: %d %q, want 200 %q", status, body, want)
		}
	}
	noBackendFailed(t, g)
}

func TestDataPathBackendTLSFailures(t *testing.T) {
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(untrusted.Close)
	plain := startBackend(t, "plain", nil)
	for _, tt := range []struct{ name, server string }{
		{"untrusted certificate", untrusted.URL},
		{"https to a plain HTTP server", strings.Replace(plain.URL, "http://", "https://", 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, base, logs := startLoggedGateway(t, poolConfig("round_robin", "", tt.server))
			status, body := get(t, &http.Client{}, base+"/")
			if status != 502 || body != "the TLS handshake with the backend failed\n" {
				t.Fatalf("got %d %q, want 502 naming the TLS handshake", status, body)
			}
			if n := onlyBackend(g).failures.Load(); n != 1 {
				t.Errorf("%d failures counted, want 1", n)
			}
			recs := logs.records(t, "backend failed")
			if len(recs) != 1 || recs[0]["cause"] != "TLS handshake failed" || recs[0]["status"] != 502.0 {
				t.Errorf("warnings %v, want one with cause \"TLS handshake failed\" and status 502", recs)
			}
		})
	}
}

func TestDataPathAbsoluteFormTargetsDecideNothing(t *testing.T) {
	var backends []*recorder
	var urls []string
	for _, n := range []string{"a", "b", "c"} {
		r := startRecorder(t, n)
		backends = append(backends, r)
		urls = append(urls, r.URL)
	}
	g, base := startGateway(t, poolConfig("round_robin", "    passive: {maxFails: 1, window: 1m, ejectFor: 1m}\n", urls...))
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	served := map[string]int{}
	for i := range 100 {
		target := "https://x.example/secure?i=1"
		if i%2 == 1 {
			target = "http://y.example:81/plain"
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: ignored.example\r\n\r\n", target)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d (%s): %v", i, target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d (%s): status %d %q, want 200", i, target, resp.StatusCode, body)
		}
		served[string(body)]++
	}
	if served["a"] != 34 || served["b"] != 33 || served["c"] != 33 {
		t.Errorf("served %v, want the rotation over all three untouched", served)
	}
	for _, r := range backends {
		for _, seen := range r.requests() {
			if seen != "GET /secure?i=1 0" && seen != "GET /plain 0" {
				t.Errorf("backend %s received %q, want origin-form targets only", r.name, seen)
			}
		}
	}
	noBackendFailed(t, g)
}

// uploadTo sends a request head and then size bytes of body to the
// gateway at addr, reading the answer at the same time, as a client that
// goes on sending while the answer arrives. With expect, the head asks
// for 100-continue and the body goes out only after a 100. It returns the
// final response, its body, what came before it, and how long the final
// response took to arrive.
func uploadTo(t *testing.T, addr, path string, size int, expect bool) (*http.Response, string, string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: upload.example\r\nContent-Length: %d\r\n", path, size)
	if expect {
		head += "Expect: 100-continue\r\n"
	}
	start := time.Now()
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	send := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		select {
		case <-send:
		case <-t.Context().Done():
			sent <- nil
			return
		}
		chunk := bytes.Repeat([]byte("u"), 64<<10)
		for left := size; left > 0; left -= len(chunk) {
			if _, err := c.Write(chunk[:min(len(chunk), left)]); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	if !expect {
		close(send)
	}
	br := bufio.NewReader(c)
	var interim strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the answer after %v (interim %q): %v", time.Since(start), interim.String(), err)
		}
		if strings.HasPrefix(line, "HTTP/1.1 1") {
			interim.WriteString(line)
			for line != "\r\n" {
				if line, err = br.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
			if expect && strings.HasPrefix(interim.String(), "HTTP/1.1 100") {
				select {
				case <-send:
				default:
					close(send)
				}
			}
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), nil)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the body of %d: %v", resp.StatusCode, err)
		}
		return resp, string(body), interim.String(), took
	}
}

func TestDataPathEarlyAnswerToUpload(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth":
			http.Error(w, "log in first", http.StatusUnauthorized)
		case "/small":
			http.Error(w, "too large for me", http.StatusRequestEntityTooLarge)
		default:
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprint(w, n)
		}
	})
	g, base := startGateway(t, poolConfig("round_robin", "    passive: {maxFails: 1, window: 1m, ejectFor: 1m}\n", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	const size = 20 << 20
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/auth", 401, "log in first\n"},
		{"/small", 413, "too large for me\n"},
	} {
		for _, expect := range []bool{false, true} {
			resp, body, interim, took := uploadTo(t, addr, tt.path, size, expect)
			t.Logf("%s, expect %t: %d after %v", tt.path, expect, resp.StatusCode, took)
			if resp.StatusCode != tt.status || body != tt.body {
				t.Fatalf("%s, expect %t: %d %q, want the backend's %d %q", tt.path, expect, resp.StatusCode, body, tt.status, tt.body)
			}
			if interim != "" {
				t.Errorf("%s, expect %t: interim answers %q before the final one, want none", tt.path, expect, interim)
			}
			if took > 10*time.Second {
				t.Errorf("%s, expect %t: the answer took %v, want it at once (well within a second)", tt.path, expect, took)
			}
		}
	}
	// The backend still takes whole uploads, with and without Expect.
	for _, expect := range []bool{false, true} {
		resp, body, interim, _ := uploadTo(t, addr, "/count", size, expect)
		if resp.StatusCode != 200 || body != fmt.Sprint(size) {
			t.Fatalf("a whole upload (expect %t): %d %q, want 200 %d", expect, resp.StatusCode, body, size)
		}
		if expect && interim != "HTTP/1.1 100 Continue\r\n" {
			t.Errorf("a whole upload with Expect got interim answers %q, want one 100 Continue", interim)
		}
	}
	noBackendFailed(t, g)
}

func TestDataPathExpectContinueWithoutBackendAnswer(t *testing.T) {
	// A backend that knows nothing of Expect waits for the body: the
	// gateway sends it after a second without an answer.
	url := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, ok := readRequestHead(br)
			if !ok {
				return
			}
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(fmt.Sprint(n)), n)
		}
	})
	g, base := startGateway(t, poolConfig("round_robin", "", url))
	resp, body, interim, took := uploadTo(t, strings.TrimPrefix(base, "http://"), "/", 1<<20, true)
	t.Logf("answered after %v", took)
	if resp.StatusCode != 200 || body != fmt.Sprint(1<<20) || interim != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q then %d %q, want one 100 Continue then 200 %d", interim, resp.StatusCode, body, 1<<20)
	}
	if took < expectWait*9/10 || took > 10*expectWait {
		t.Errorf("the exchange took %v, want the body sent after about %v", took, expectWait)
	}
	noBackendFailed(t, g)
}

func TestDataPathFullDuplexEcho(t *testing.T) {
	b := startBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})
	g, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	start := time.Now()
	resp, err := http.Post(base+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("64 MiB echoed in %v", time.Since(start))
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, payload) {
		t.Fatalf("echo: %d, %d bytes (intact %t), %v; want 200 and all %d bytes back", resp.StatusCode, len(got), bytes.Equal(got, payload), err, len(payload))
	}
	noBackendFailed(t, g)
}

// accessLogConfig is config with the access log written to a file in a
// temporary directory, whose path it returns.
func accessLogConfig(t *testing.T, config string) (string, string) {
	path := t.TempDir() + "/access.log"
	return strings.Replace(config, "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\naccessLog: "+path+"\n", 1), path
}

// accessLines reads the access log at path, once the gateway has stopped.
func accessLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func TestDataPathResponseCutShort(t *testing.T) {
	for _, tt := range []struct {
		name  string
		send  string // the backend's answer, after which it closes or stalls
		stall bool
		cause string
		bytes float64
	}{
		{"before Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 70), false, "backend closed before the end of the body", 70},
		{"before the last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false, "backend closed before the end of the body", 5},
		{"stalled mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 70), true, "backend timeout mid-body", 70},
	} {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			url := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
				if _, ok := readRequestHead(br); ok {
					io.WriteString(c, tt.send)
					if tt.stall {
						<-release
					}
				}
			})
			cfg, logPath := accessLogConfig(t, poolConfig("round_robin", "    responseHeaderTimeout: 300ms\n    passive: {maxFails: 1, window: 1m, ejectFor: 1m}\n", url, startBackend(t, "other", nil).URL))
			cfg = strings.Replace(cfg, "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n", 1)
			g, base, logs := startLoggedGateway(t, cfg)
			b := g.current().pools[0].backends[0]
			// The client sees the truncation: the connection ends before
			// the response does, after what of it had left the gateway.
			if resp, err := http.Get(base + "/"); err == nil {
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					t.Fatalf("got %d with %d bytes, complete; want the response cut short", resp.StatusCode, len(body))
				}
			}
			waitUntil(t, "the exchange to end", func() bool { return b.inFlight.Load() == 0 })
			fams := scrape(t, g)
			wantMetric(t, fams, 1, "gateway_backend_failures_total", "pool", "p", "backend", b.name())
			wantMetric(t, fams, 1, "gateway_requests_total", "pool", "p", "backend", b.name(), "code", "200")
			if snap := b.health.Snapshot(); !snap.Ejected || !strings.Contains(snap.Reason, tt.cause) {
				t.Errorf("with maxFails 1 the backend is %+v, want it ejected for %q", snap, tt.cause)
			}
			recs := logs.records(t, "response cut short")
			if len(recs) != 1 || recs[0]["cause"] != tt.cause || recs[0]["backend"] != b.name() || recs[0]["level"] != "WARN" {
				t.Errorf("warnings %v, want one at WARN for %s with cause %q", recs, b.name(), tt.cause)
			}
			stopGateway(t, g)
			lines := accessLines(t, logPath)
			if len(lines) != 1 || lines[0]["status"] != 200.0 || lines[0]["bytes"] != tt.bytes || lines[0]["error"] != tt.cause {
				t.Errorf("access log %v, want one line: status 200, bytes %v, error %q", lines, tt.bytes, tt.cause)
			}
		})
	}
}

func TestDataPathNoInventedContentType(t *testing.T) {
	url := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, ok := readRequestHead(br)
			if !ok {
				return
			}
			if r.Method == "HEAD" {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		}
	})
	_, base := startGateway(t, poolConfig("round_robin", "", url))
	for _, method := range []string{"GET", "HEAD"} {
		req, _ := http.NewRequest(method, base+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if ct, ok := resp.Header["Content-Type"]; ok {
			t.Errorf("%s: Content-Type %q was added to a response that had none", method, ct)
		}
		if resp.ContentLength != 5 {
			t.Errorf("%s: Content-Length %d, want the backend's 5", method, resp.ContentLength)
		}
	}
}

func TestDataPathHTTP10Client(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				w.(http.Flusher).Flush()
			}
			return
		}
		io.WriteString(w, "sized")
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	for _, tt := range []struct{ path, body, length string }{
		{"/chunked", "part 0\npart 1\npart 2\n", ""},
		{"/sized", "sized", "5"},
	} {
		out := string(sendRaw(t, addr, "GET "+tt.path+" HTTP/1.0\r\n\r\n"))
		head, body, _ := strings.Cut(out, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 200 ") || body != tt.body {
			t.Fatalf("%s: %q, want 200 with body %q", tt.path, out, tt.body)
		}
		lower := strings.ToLower(head)
		if strings.Contains(lower, "transfer-encoding") {
			t.Errorf("%s: an HTTP/1.0 client got a chunked response: %q", tt.path, head)
		}
		if tt.length == "" && (!strings.Contains(lower, "connection: close") || strings.Contains(lower, "content-length")) {
			t.Errorf("%s: head %q, want a body delimited by the connection's close", tt.path, head)
		}
		if tt.length != "" && !strings.Contains(lower, "content-length: "+tt.length) {
			t.Errorf("%s: head %q, want Content-Length %s", tt.path, head, tt.length)
		}
	}
}

func TestDataPathInterimResponses(t *testing.T) {
	url := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, ok := readRequestHead(br)
			if !ok {
				return
			}
			if r.URL.Path == "/hints" {
				io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n")
				io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	g, base := startGateway(t, poolConfig("round_robin", "", url))
	addr := strings.TrimPrefix(base, "http://")

	// HTTP/1.1: the 103 comes first, without its hop-by-hop fields; the
	// backend's 100 to a request that did not ask for one does not.
	out := string(sendRaw(t, addr, "GET /hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	want := "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
	if !strings.HasPrefix(out, want) || strings.Count(out, "HTTP/1.1 1") != 1 {
		t.Fatalf("answer %q, want it to start %q and hold one interim answer", out, want)
	}
	// Pipelined: the first answer goes out before the second's 103.
	out = string(sendRaw(t, addr, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\nGET /hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	first := strings.Index(out, "HTTP/1.1 200 OK")
	hints := strings.Index(out, "HTTP/1.1 103 Early Hints")
	if first < 0 || hints < first || !strings.HasSuffix(out, "ok") {
		t.Fatalf("pipelined answers %q, want 200, then 103, then 200", out)
	}
	// HTTP/1.0 knows no interim answers.
	out = string(sendRaw(t, addr, "GET /hints HTTP/1.0\r\nHost: x\r\n\r\n"))
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("an HTTP/1.0 client got %q, want the final answer alone", out)
	}
	noBackendFailed(t, g)
}

func TestDataPathTrailers(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("X-Seen-TE", r.Header.Get("TE"))
		fmt.Fprintf(w, "%s|%s", body, r.Trailer.Get("X-Request-Sum"))
		w.Header().Set("X-Checksum", "abc123")
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))

	req, _ := http.NewRequest("POST", base+"/", io.MultiReader(strings.NewReader("chunked body")))
	req.Trailer = http.Header{"X-Request-Sum": nil}
	req.Header.Set("TE", "trailers")
	req.Trailer.Set("X-Request-Sum", "r42") // sent after the body
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "chunked body|r42" {
		t.Fatalf("body %q, %v; want the request's trailer to have reached the backend", body, err)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
		t.Errorf("response trailer X-Checksum = %q, want abc123 (trailers %v)", got, resp.Trailer)
	}
	if got := resp.Header.Get("X-Seen-TE"); got != "trailers" {
		t.Errorf("the backend saw TE %q, want trailers", got)
	}
}

func TestDataPathBareLFResponseHeads(t *testing.T) {
	url := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, ok := readRequestHead(br); !ok {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\nContent-Length: 2\nX-Lines: bare\r\nX-Mixed: yes\n\nok")
		}
	})
	g, base := startGateway(t, poolConfig("round_robin", "    responseHeaderTimeout: 30s\n", url))
	client := &http.Client{}
	for range 3 {
		start := time.Now()
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" || resp.Header.Get("X-Lines") != "bare" || resp.Header.Get("X-Mixed") != "yes" {
			t.Fatalf("got %d %q %v, want 200 ok with both header fields", resp.StatusCode, body, resp.Header)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("answered after %v: the bare LFs made it wait", d)
		}
	}
	noBackendFailed(t, g)
}

func TestDataPathFailureAnswersSayWhatHappened(t *testing.T) {
	for _, tt := range []struct {
		name, answer, body, cause string
	}{
		{"invalid response", "HTTP/1.1 2x0 Nope\r\n\r\n", "the backend's response was invalid\n", "invalid response"},
		{"status out of range", "HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n", "the backend's response was invalid\n", "invalid response"},
		{"not HTTP/1", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", "the backend's response was invalid\n", "invalid response"},
		{"closed without an answer", "", "the backend closed the connection without a response\n", "connection reset"},
		{"101 to a plain request", "HTTP/1.1 101 Switching Protocols\r\n\r\n", "the backend's response was invalid\n", "invalid response"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
				if _, ok := readRequestHead(br); ok {
					io.WriteString(c, tt.answer)
				}
			})
			g, base, logs := startLoggedGateway(t, poolConfig("round_robin", "", url))
			resp, err := http.Post(base+"/x", "text/plain", strings.NewReader("a body: no failing over"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 502 || string(body) != tt.body {
				t.Fatalf("got %d %q, want 502 %q", resp.StatusCode, body, tt.body)
			}
			if n := onlyBackend(g).failures.Load(); n != 1 {
				t.Errorf("%d failures counted, want 1", n)
			}
			if recs := logs.records(t, "backend failed"); len(recs) != 1 || recs[0]["cause"] != tt.cause {
				t.Errorf("warnings %v, want one with cause %q", recs, tt.cause)
			}
		})
	}
}

func TestDataPathFailureWarningsAreSampled(t *testing.T) {
	_, base, logs := startLoggedGateway(t, poolConfig("round_robin", "    passive: {maxFails: 0}\n", "http://"+closedAddr(t)))
	client := &http.Client{}
	start := time.Now()
	for range 20 {
		if status, _ := get(t, client, base+"/"); status != 502 {
			t.Fatalf("status %d, want 502", status)
		}
	}
	// At most one line in each second the flood touched.
	seconds := int(time.Since(start)/time.Second) + 2
	recs := logs.records(t, "backend failed")
	if len(recs) == 0 || len(recs) > seconds {
		t.Fatalf("%d warnings for 20 failures within %d seconds, want 1 to %d", len(recs), seconds-1, seconds)
	}
	if recs[0]["cause"] != "connection refused" || recs[0]["status"] != 502.0 {
		t.Errorf("warning %v, want cause connection refused and status 502", recs[0])
	}
}

func TestLogGateOneLineASecond(t *testing.T) {
	var gate logGate
	at := time.Unix(1000, 0)
	if ok, n := gate.allow(at); !ok || n != 0 {
		t.Fatalf("first line: %t, %d suppressed; want it through", ok, n)
	}
	for i := range 5 {
		if ok, _ := gate.allow(at.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("line %d in the same second went through", i+2)
		}
	}
	if ok, n := gate.allow(at.Add(time.Second)); !ok || n != 5 {
		t.Fatalf("the next second: %t with %d suppressed, want it through with 5", ok, n)
	}
}

func TestTunnelConnectFailureIsCounted(t *testing.T) {
	live := startBackend(t, "a", upgradeHandler(echo))
	dead := "http://" + closedAddr(t)
	g, base := startGateway(t, poolConfig("round_robin", "", dead, live.URL))
	c, br := dialUpgrade(t, base)
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the live backend: %q, %v", buf, err)
	}
	deadBackend := g.current().pools[0].backends[0]
	if n := deadBackend.failures.Load(); n != 1 {
		t.Fatalf("the refused backend counted %d failures, want 1", n)
	}
	if s := g.Status().Pools[0].Backends[0]; s.Failures != 1 {
		t.Fatalf("/status shows %d failures for the refused backend, want 1", s.Failures)
	}
}

func TestDataPathLingeringCloseAfterEarlyAnswer(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "log in first", http.StatusUnauthorized)
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	const size = 20 << 20
	upload := func(c net.Conn, n int) (int, error) {
		chunk := bytes.Repeat([]byte("u"), 64<<10)
		sent := 0
		for sent < n {
			m, err := c.Write(chunk[:min(len(chunk), n-sent)])
			sent += m
			if err != nil {
				return sent, err
			}
		}
		return sent, nil
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(3 * lingerTime))
		return c
	}

	// A client that reads nothing before it has sent its whole body: the
	// gateway, which answered at once, reads and drops the body rather
	// than reset the connection, and the client then reads the answer.
	c := dial()
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	if sent, err := upload(c, size); err != nil {
		t.Fatalf("the client could send %d of its %d bytes, then: %v; want the gateway to read them after answering", sent, size, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer after the upload: %v", err)
	}
	body, err := io.ReadAll(resp.Body) // until the gateway's end of the stream
	if err != nil || resp.StatusCode != 401 || string(body) != "log in first\n" {
		t.Fatalf("got %d %q, %v; want the backend's 401 in full, then the end of the stream", resp.StatusCode, body, err)
	}

	// A client that never stops sending is cut off after lingerBytes.
	c = dial()
	start := time.Now()
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<40)
	sent, err := upload(c, 4*lingerBytes)
	t.Logf("a client that never stops was cut off after %d bytes and %v: %v", sent, time.Since(start), err)
	if err == nil {
		t.Fatalf("the gateway read %d bytes of a body nobody wanted; want it to give up after about %d", sent, lingerBytes)
	}
}

func TestDataPathLingeringCloseAfterServerError(t *testing.T) {
	b := startBackend(t, "a", nil)
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	// A header far over maxHeaderBytes, and the client goes on sending
	// before it reads: it must read the 431, not a reset.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * lingerTime))
	big := "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 4<<20) + "\r\n\r\n"
	if _, err := io.WriteString(c, big); err != nil {
		t.Fatalf("the client could not send its oversized header: %v; want the gateway to read it after answering", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("after an oversized header: %v, %v; want 431", resp, err)
	}
}

// TestDataPathHandedOverConnectionsLeaveTheCapOnce checks that a client
// connection the handler takes over (an HTTP/1.0 answer delimited by the
// close, a tunnel) or closes lingeringly after an early answer leaves the
// maxConnections count exactly once, when it closes: never early, never
// twice.
func TestDataPathHandedOverConnectionsLeaveTheCapOnce(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Upgrade") != "":
			upgradeHandler(echo)(w, r)
		case r.URL.Path == "/upload":
			http.Error(w, "log in first", http.StatusUnauthorized)
		default:
			io.WriteString(w, "streamed")
			w.(http.Flusher).Flush()
		}
	})
	cfg := strings.Replace(poolConfig("round_robin", "", b.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nmaxConnections: 1\n", 1)
	g, base := startGateway(t, cfg)
	addr := strings.TrimPrefix(base, "http://")
	open := func() int64 { return g.public.limit.open.Load() }
	// served checks that the cap is free again: a new connection is served,
	// and leaves the count where it found it.
	served := func(after string) {
		t.Helper()
		waitUntil(t, "the connection of "+after+" to leave the count", func() bool { return open() == 0 })
		if status, body := get(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, base+"/"); status != 200 || body != "streamed" {
			t.Fatalf("after %s: %d %q, want 200 from the backend under the cap", after, status, body)
		}
		waitUntil(t, "the next connection to leave the count", func() bool { return open() <= 0 })
		if n := open(); n != 0 {
			t.Fatalf("after %s the count is %d, want 0: a connection left it twice", after, n)
		}
	}

	// An HTTP/1.0 client: the handler takes the connection over and sends
	// the body until it closes it.
	out := string(sendRaw(t, addr, "GET /stream HTTP/1.0\r\n\r\n"))
	if !strings.HasPrefix(out, "HTTP/1.1 200 ") || !strings.HasSuffix(out, "\r\n\r\nstreamed") {
		t.Fatalf("HTTP/1.0 client: %q, want 200 streamed until the close", out)
	}
	served("an HTTP/1.0 answer")

	// A tunnel counts while it is open, and not after.
	c, br := dialUpgrade(t, base)
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the tunnel: %q, %v", buf, err)
	}
	if n := open(); n != 1 {
		t.Fatalf("an open tunnel counts %d connections, want 1", n)
	}
	c.Close()
	served("a tunnel")

	// An early answer to an upload whose client pauses: the connection
	// closes lingeringly, and counts until then. (The server reads up to
	// 8 KiB of a body before the handler runs, so the client sends more.)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", 1<<20, bytes.Repeat([]byte("u"), 64<<10))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("early answer: %v, %v; want 401", resp, err)
	}
	if n := open(); n != 1 {
		t.Fatalf("a connection closing lingeringly counts %d, want 1", n)
	}
	c.Close()
	served("a lingering close")
}

func TestDataPathIdleConnectionClosedByBackend(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("an idle connection is checked before use on Linux only")
	}
	// A backend that closes each keep-alive connection after one answer,
	// without saying so, as one whose idle timeout is shorter than the
	// gateway's does.
	url := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		r, ok := readRequestHead(br)
		if !ok {
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(fmt.Sprint(n)), n)
	})
	g, base := startGateway(t, poolConfig("round_robin", "    passive: {maxFails: 1, window: 1m, ejectFor: 1m}\n", url))
	client := &http.Client{}
	for i := range 6 {
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = client.Get(base + "/")
		} else {
			resp, err = client.Post(base+"/", "text/plain", strings.NewReader("payload"))
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := map[bool]string{true: "0", false: "7"}[i%2 == 0]; resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("request %d: %d %q, want 200 %q over a new connection", i, resp.StatusCode, body, want)
		}
		// Let the backend's close reach the gateway before the next request.
		waitUntil(t, "the backend's close to arrive", func() bool {
			b := onlyBackend(g).upstream.Load()
			b.mu.Lock()
			defer b.mu.Unlock()
			return len(b.idle) == 0 || peerClosed(b.idle[0].dc.raw)
		})
	}
	noBackendFailed(t, g)
}

func TestDataPathSlowUploadIsNotTheBackendsSilence(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	g, base := startGateway(t, poolConfig("round_robin", "    responseHeaderTimeout: 200ms\n", b.URL))
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("first half, "))
		// The client pauses longer than the backend may be silent.
		<-time.After(600 * time.Millisecond)
		pw.Write([]byte("second half"))
		pw.Close()
	}()
	resp, err := http.Post(base+"/", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "23" {
		t.Fatalf("got %d %q, want 200 with all 23 bytes read by the backend", resp.StatusCode, body)
	}
	noBackendFailed(t, g)
}
