package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

func TestProxyRoundRobinOrder(t *testing.T) {
	a, b, c := startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)
	_, base := startGateway(t, poolConfig("round_robin", "", a.URL, b.URL, c.URL))
	client := &http.Client{}
	var got []string
	for range 6 {
		status, body := get(t, client, base+"/")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		got = append(got, body)
	}
	if strings.Join(got, "") != "abcabc" {
		t.Fatalf("order %v, want a b c a b c", got)
	}
}

func TestProxyRoundRobinConcurrentExact(t *testing.T) {
	backends := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)}
	_, base := startGateway(t, poolConfig("round_robin", "", backends[0].URL, backends[1].URL, backends[2].URL))
	counts := concurrentBodies(t, base+"/", 8, 30, nil)
	for _, n := range []string{"a", "b", "c"} {
		if counts[n] != 80 {
			t.Fatalf("counts %v, want 80 each", counts)
		}
	}
}

func TestProxyHeaders(t *testing.T) {
	b := startBackend(t, "a", nil)
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	raw := "GET /a/../b//c/%2e%2e/d%2Fe?q=%2F+x&y=1 HTTP/1.1\r\n" +
		"Host: Example.COM:8080\r\n" +
		"X-Forwarded-For: 203.0.113.7\r\n" +
		"Connection: keep-alive, X-Secret\r\n" +
		"X-Secret: hop\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"TE: trailers\r\n" +
		"Proxy-Authorization: Basic eA==\r\n" +
		"Upgrade: h2c\r\n" +
		"X-Kept: yes\r\n" +
		"\r\n"
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r := <-b.last
	if r.Host != "Example.COM:8080" {
		t.Errorf("Host = %q, want the client's byte-exact", r.Host)
	}
	if r.RequestURI != "/a/../b//c/%2e%2e/d%2Fe?q=%2F+x&y=1" {
		t.Errorf("request URI = %q, want byte-exact", r.RequestURI)
	}
	if got := r.Header.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := r.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := r.Header.Get("X-Forwarded-Host"); got != "Example.COM:8080" {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if te := r.Header.Values("Te"); len(te) != 1 || te[0] != "trailers" {
		t.Errorf("TE = %q, want the client's acceptance of trailers alone", te)
	}
	for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Upgrade", "User-Agent", "Content-Type", "X-Forwarded-Server"} {
		if v, ok := r.Header[h]; ok {
			t.Errorf("header %s = %q reached the backend", h, v)
		}
	}
	if r.Header.Get("X-Kept") != "yes" {
		t.Error("end-to-end header X-Kept was lost")
	}
	if c := r.Header.Get("Connection"); c != "" && !strings.EqualFold(c, "keep-alive") {
		t.Errorf("Connection = %q reached the backend", c)
	}
}

func TestProxyResponseHopByHop(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Private")
		w.Header().Set("X-Private", "secret")
		w.Header().Set("Keep-Alive", "timeout=1")
		w.Header().Set("X-Public", "ok")
		io.WriteString(w, "body")
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Private") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop response headers forwarded: %v", resp.Header)
	}
	if resp.Header.Get("X-Public") != "ok" || resp.Header.Get("X-Backend") != "a" {
		t.Errorf("end-to-end response headers lost: %v", resp.Header)
	}
	if resp.Header.Get("Server") != "" {
		t.Errorf("Server header injected: %q", resp.Header.Get("Server"))
	}
}

func TestProxyFailoverOnRefused(t *testing.T) {
	a := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "a:%s", body)
	})
	dead := "http://" + closedAddr(t)
	_, base := startGateway(t, poolConfig("round_robin", "", dead, a.URL))
	client := &http.Client{}
	for i := range 6 {
		status, body := get(t, client, base+"/")
		if status != 200 || body != "a:" {
			t.Fatalf("GET %d: %d %q, want 200 from a", i, status, body)
		}
		resp, err := client.Post(base+"/", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != "a:payload" {
			t.Fatalf("POST %d: %d %q, want the body delivered to a", i, resp.StatusCode, got)
		}
	}
}

func TestProxyAllRefuse502(t *testing.T) {
	d1, d2 := closedAddr(t), closedAddr(t)
	_, base := startGateway(t, poolConfig("round_robin", "", "http://"+d1, "http://"+d2))
	status, body := get(t, &http.Client{}, base+"/")
	if status != 502 {
		t.Fatalf("status %d, want 502", status)
	}
	if strings.Contains(body, "127.0.0.1") || strings.Contains(body, d1) {
		t.Fatalf("502 body reveals a backend address: %q", body)
	}
}

func TestProxyNoHealthy503(t *testing.T) {
	a := startBackend(t, "a", nil)
	g, base := startGateway(t, poolConfig("round_robin", "", a.URL))
	g.current().pools[0].backends[0].health.Eject(time.Hour, "test")
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || len(body) == 0 {
		t.Fatalf("got %d Retry-After=%q body=%q, want 503 with Retry-After: 1 and a reason", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	select {
	case <-a.last:
		t.Fatal("the unhealthy backend was tried")
	default:
	}
}

func TestProxyNoRoute404(t *testing.T) {
	a := startBackend(t, "a", nil)
	_, base := startGateway(t, "listen: 127.0.0.1:0\npools:\n  p:\n    healthCheck: {enabled: false}\n    servers: ["+a.URL+"]\nroutes:\n  - pathPrefix: /api/\n    pool: p\n")
	if status, _ := get(t, &http.Client{}, base+"/other"); status != 404 {
		t.Fatalf("status %d, want 404", status)
	}
	if status, body := get(t, &http.Client{}, base+"/api/x"); status != 200 || body != "a" {
		t.Fatalf("got %d %q, want 200 a", status, body)
	}
}

func TestProxyStreamsServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		// Each event must arrive while the backend still holds the next one.
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d = %q", i, line)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

func TestProxyUploadAndDownloadIntact(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
			return
		}
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for range 256 { // 16 MiB, chunked
			w.Write(chunk)
		}
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))

	const size = 16 << 20
	payload := bytes.Repeat([]byte("x"), size)
	want := fmt.Sprintf("%d %x", size, sha256.Sum256(payload))
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(payload)
		if chunked {
			body = io.MultiReader(body) // hides the length: chunked upload
		}
		resp, err := http.Post(base+"/upload", "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != want {
			t.Fatalf("upload (chunked=%v): backend saw %q, want %q", chunked, got, want)
		}
	}

	resp, err := http.Get(base + "/download")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != 16<<20 {
		t.Fatalf("download: %d bytes, %v; want %d", n, err, 16<<20)
	}
}

func TestProxyBodyLimit(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	cfg := strings.Replace(poolConfig("round_robin", "", b.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nmaxBodySize: 1024\n", 1)
	_, base := startGateway(t, cfg)
	resp, err := http.Post(base+"/", "text/plain", bytes.NewReader(make([]byte, 2048)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	select {
	case <-b.last:
		t.Fatal("an oversized body reached the backend")
	default:
	}
	resp, err = http.Post(base+"/", "text/plain", bytes.NewReader(make([]byte, 1024)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "1024" {
		t.Fatalf("body at the limit: %d %q", resp.StatusCode, got)
	}
}

func TestProxyRefusesBadRequests(t *testing.T) {
	b := startBackend(t, "a", nil)
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	tests := []struct {
		name, raw, status string
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"conflicting CLs", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400"},
		{"garbage", "\x00\x01garbage\r\n\r\n", "400"},
		{"bad version", "GET / HTTP/9.9x\r\nHost: x\r\n\r\n", "400"},
		{"header without colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", "400"},
		{"oversized header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 20000) + "\r\n\r\n", "431"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(sendRaw(t, addr, tt.raw))
			if !strings.HasPrefix(out, "HTTP/1.1 "+tt.status) {
				t.Fatalf("answer %q, want %s", firstLine(out), tt.status)
			}
		})
	}
	select {
	case r := <-b.last:
		t.Fatalf("a refused request reached the backend: %s %s", r.Method, r.URL)
	default:
	}
	if status, _ := get(t, &http.Client{}, base+"/"); status != 200 {
		t.Fatalf("good request after bad ones: %d", status)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func TestProxyUpgradeTunnels(t *testing.T) {
	b := startBackend(t, "a", upgradeHandler(echo))
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	c, br := dialUpgrade(t, base)
	for _, msg := range []string{"hello", "world"} {
		io.WriteString(c, msg)
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q: got %q, %v", msg, buf, err)
		}
	}
	r := <-b.last
	if r.Header.Get("X-Forwarded-For") == "" {
		t.Error("upgrade request lacks X-Forwarded-For")
	}
}

func TestProxyUpgradeRefusedIsRelayed(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no upgrade here", http.StatusForbidden)
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "no upgrade here") {
		t.Fatalf("answer %d %q, want the backend's 403", resp.StatusCode, body)
	}
}

func TestProxyExpectContinueOverLimit(t *testing.T) {
	b := startBackend(t, "a", nil)
	cfg := strings.Replace(poolConfig("round_robin", "", b.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nmaxBodySize: 1024\n", 1)
	_, base := startGateway(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413 before any body is invited", resp.StatusCode)
	}
	select {
	case <-b.last:
		t.Fatal("the refused upload reached the backend")
	default:
	}
}

func TestRouteHostMatchIsASCIIOnly(t *testing.T) {
	tests := []struct {
		route, host string
		want        bool
	}{
		{"secret.example", "SECRET.Example", true},
		{"secret.example", "secret.example:8443", true},
		{"secret.example", "\u017fecret.example", false}, // long s folds to s in Unicode
		{"secret.example", "secret.exampl", false},
		{"[::1]", "[::1]:80", true},
		// A fully qualified name's trailing dot names the same host.
		{"secret.example", "secret.example.", true},
		{"secret.example", "SECRET.example.:8443", true},
		{"secret.example", "secret.example..", false},
	}
	for _, tt := range tests {
		table := compileRoutes([]config.RouteConfig{{Hosts: []string{tt.route}, PathPrefix: "/"}}, func(string) *pool { return nil }, nil)
		r := table.match(&routeRequest{host: []byte(tt.host), path: []byte("/"), method: []byte("GET"), header: mapHeader{}})
		if got := r != nil; got != tt.want {
			t.Errorf("route %q, host %q: matched %v, want %v", tt.route, tt.host, got, tt.want)
		}
	}
}

func TestProxyTunnelClosesWhenBackendIsSilent(t *testing.T) {
	b := startBackend(t, "a", upgradeHandler(func(c net.Conn, brw *bufio.ReadWriter) {
		io.Copy(io.Discard, brw) // reads, never answers
	}))
	_, base := startGateway(t, poolConfig("round_robin", "    responseHeaderTimeout: 200ms\n", b.URL))
	_, br := dialUpgrade(t, base)
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read from a tunnel whose backend is silent: %v, want EOF", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Fatalf("silent tunnel closed after %v, want about 200ms", d)
	}
}

func TestProxyChunkedBodyOverLimit(t *testing.T) {
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	cfg := strings.Replace(poolConfig("round_robin", "", b.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nmaxBodySize: 1024\n", 1)
	_, base := startGateway(t, cfg)
	for _, size := range []int{1025, 2000, 5000, 100000} {
		for _, chunks := range []int{1, 3} {
			body := io.MultiReader(bytes.NewReader(make([]byte, size/chunks)), bytes.NewReader(make([]byte, size-size/chunks)))
			resp, err := http.Post(base+"/", "text/plain", io.NopCloser(body)) // no length: chunked
			if err != nil {
				// The gateway may close the connection while the client still sends.
				if status, _ := get(t, &http.Client{}, base+"/"); status != 200 {
					t.Fatalf("%d bytes in %d chunks: %v, and the gateway no longer serves (%d)", size, chunks, err, status)
				}
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes in %d chunks: status %d, want 413", size, chunks, resp.StatusCode)
			}
		}
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "0" {
		t.Fatalf("after oversized uploads: %d %q", status, body)
	}
}

func TestProxyTrailingDotHostMatchesItsRoute(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	_, base := startGateway(t, poolsABConfig(a.URL, b.URL, "  - host: example.com\n    pool: b\n  - pool: a\n"))
	for _, host := range []string{"example.com.", "Example.COM.:8080"} {
		req, _ := http.NewRequest("GET", base+"/x", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "b" {
			t.Fatalf("Host %q: %d %q, want 200 from b", host, resp.StatusCode, body)
		}
		if r := <-b.last; r.Host != host {
			t.Fatalf("Host %q reached the backend as %q, want it unchanged", host, r.Host)
		}
	}
}
