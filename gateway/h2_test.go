package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// h2Client returns a client that speaks HTTP/2 only, over TLS trusting
// roots, to serverName.
func h2Client(roots *x509.CertPool, serverName string) *http.Client {
	var p http.Protocols
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
		Protocols:       &p,
	}, Timeout: 20 * time.Second}
}

// h2Gateway starts a gateway with an HTTPS listener in front of server
// (a URL, or several quoted and separated by commas), with tls keys
// tlsExtra and the keys extra that go on from the config's pool p (more
// pools, then top-level keys), and returns it with an HTTP/2 client and
// an HTTP/1.1 client for it.
func h2Gateway(t *testing.T, server, tlsExtra, extra string) (g *Gateway, h2, h1 *http.Client) {
	t.Helper()
	g, h2, h1, _ = h2GatewayConfig(t, server, tlsExtra, extra)
	return g, h2, h1
}

// h2GatewayConfig is h2Gateway, and also returns the function that makes
// the gateway's configs, for reloads.
func h2GatewayConfig(t *testing.T, server, tlsExtra, extra string) (g *Gateway, h2, h1 *http.Client, config func(server, tlsExtra, extra string) string) {
	t.Helper()
	ca := testcert.NewCA(t, "h2")
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example", "127.0.0.1").Write(t, t.TempDir(), "gw")
	config = func(server, tlsExtra, extra string) string {
		return tlsGatewayConfig(server, tlsExtra, extra, certFile, keyFile)
	}
	g, _ = startGateway(t, config(server, tlsExtra, extra))
	return g, h2Client(ca.Roots, "gw.example"), httpsClient(ca.Roots, "gw.example"), config
}

// TestH2Proxies checks that a client offering h2 gets HTTP/2 and that
// its requests reach the backend in HTTP/1.1 as those of HTTP/1.1 do:
// Host from :authority, X-Forwarded-For, -Proto and -Host set; and that
// tls.http2: false offers http/1.1 alone.
func TestH2Proxies(t *testing.T) {
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s %s|%s|%s|%s|%q%q", r.Proto, r.Method, r.Host, r.RequestURI,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"),
			r.Header.Values("Content-Length"), r.TransferEncoding)
	})
	g, h2, _ := h2Gateway(t, b.URL, "", "")
	url := "https://" + g.TLSAddr() + "/a/b?c=d"
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = "api.example:8443"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the client got %s, want HTTP/2", resp.Proto)
	}
	// A GET without a body goes out as over HTTP/1.1: with no framing.
	want := `HTTP/1.1 GET api.example:8443 /a/b?c=d|203.0.113.7, 127.0.0.1|https|api.example:8443|[][]`
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("GET over h2: %d %q, want 200 %q", resp.StatusCode, body, want)
	}
	if got := resp.Header.Get("X-Backend"); got != "b" {
		t.Errorf("X-Backend %q, want b", got)
	}
	if ct := resp.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q, want the backend's alone", ct)
	}
	noBackendFailed(t, g)
	if p := alpnChoice(t, g.TLSAddr()); p != "h2" {
		t.Errorf("with tls.http2 by default ALPN chose %q, want h2", p)
	}
}

// alpnChoice returns the protocol the HTTPS listener at addr chooses for a
// client that offers h2 and http/1.1.
func alpnChoice(t *testing.T, addr string) string {
	t.Helper()
	c, err := handshake(addr, "", nil, func(c *tls.Config) {
		c.InsecureSkipVerify, c.VerifyConnection = true, nil
		c.NextProtos = []string{"h2", "http/1.1"}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().NegotiatedProtocol
}

// TestH2Disabled checks that tls.http2: false offers http/1.1 alone, and
// that a client that offers h2 too is served in HTTP/1.1.
func TestH2Disabled(t *testing.T) {
	b := startBackend(t, "b", nil)
	g, _, h1 := h2Gateway(t, b.URL, "  http2: false\n", "")
	if p := alpnChoice(t, g.TLSAddr()); p != "http/1.1" {
		t.Errorf("with tls.http2: false ALPN chose %q, want http/1.1", p)
	}
	h1.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	resp, err := h1.Get("https://" + g.TLSAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != 200 {
		t.Errorf("a client offering h2 got %s %d, want HTTP/1.1 200", resp.Proto, resp.StatusCode)
	}
}

// TestH2ServerSentEvents checks that each event a backend sends reaches
// an HTTP/2 client before the backend sends the next.
func TestH2ServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for i := range 3 {
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	})
	g, h2, _ := h2Gateway(t, b.URL, "", "")
	resp, err := h2.Get("https://" + g.TLSAddr() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s %v", resp.Proto, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		next <- struct{}{}
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if want := fmt.Sprintf("data: %d\n", i); line != want {
			t.Fatalf("event %d: %q, want %q", i, line, want)
		}
		br.ReadString('\n')
	}
}

// TestH2StreamsBothWays sends a request body piece by piece to a backend
// that echoes each piece as it reads it: every piece comes back before
// the next is sent, so neither direction waits for the whole body.
func TestH2StreamsBothWays(t *testing.T) {
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		buf := make([]byte, 64)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	})
	g, h2, _ := h2Gateway(t, b.URL, "", "")
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", "https://"+g.TLSAddr()+"/echo", pr)
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := h2.Do(req)
		done <- result{resp, err}
	}()
	if _, err := pw.Write([]byte("ping 0;")); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.resp.Body.Close()
	buf := make([]byte, 64)
	for i := range 5 {
		if i > 0 {
			if _, err := fmt.Fprintf(pw, "ping %d;", i); err != nil {
				t.Fatal(err)
			}
		}
		want := fmt.Sprintf("ping %d;", i)
		if _, err := io.ReadFull(res.resp.Body, buf[:len(want)]); err != nil || string(buf[:len(want)]) != want {
			t.Fatalf("piece %d: %q %v, want %q", i, buf[:len(want)], err, want)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(res.resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("after the last piece: %q %v", rest, err)
	}
}

// TestH2SameAsHTTP1 runs the same requests over HTTP/1.1 and HTTP/2, both
// in TLS, and checks that each gets the same answer: route rewrites,
// header rules, redirects, 404, rate limits, maxBodySize for a sized and
// a chunked body, and the gateway's own 502, 503 and 504.
func TestH2SameAsHTTP1(t *testing.T) {
	echo := echoHeadBackend(t, "echo")
	hold := make(chan struct{})
	defer close(hold)
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	})
	dead := closedAddr(t)
	extra := `  dead:
    healthCheck: {enabled: false}
    servers: ["http://` + dead + `"]
  down:
    healthCheck: {enabled: false}
    servers: [` + echo.URL + `]
  slow:
    healthCheck: {enabled: false}
    responseHeaderTimeout: 200ms
    servers: [` + slow.URL + `]
maxBodySize: 1KiB
trustedProxies: [127.0.0.1]
routes:
  - pathPrefix: /rw/
    rewritePrefix: /new/
    requestHeaders: {set: {X-Env: prod}}
    responseHeaders: {set: {X-Served-By: gateway}, remove: [Server]}
    pool: p
  - {host: r.example, pathPrefix: /old/, redirect: {prefix: /new/}}
  - {name: limited, pathPrefix: /limited, rateLimit: {requestsPerSecond: 0.001, burst: 1}, pool: p}
  - {pathPrefix: /dead, pool: dead}
  - {pathPrefix: /down, pool: down}
  - {pathPrefix: /slow, pool: slow}
`
	// The extra keys go on from the config's pool p.
	g, h2, h1 := h2Gateway(t, echo.URL, "", extra)
	for _, c := range []*http.Client{h1, h2} {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	for _, p := range g.current().pools {
		if p.name == "down" {
			p.backends[0].health.Eject(time.Hour, "test")
		}
	}
	type answer struct {
		status int
		header map[string]string
		body   string // the whole body, or its first line with firstLine
	}
	bigBody := strings.Repeat("x", 2048)
	tests := []struct {
		name, method, host, target string
		body                       func() io.Reader
		firstLine                  bool
		want                       answer
	}{
		{"rewrite and header rules", "GET", "", "/rw/a?b=c", nil, true,
			answer{200, map[string]string{"X-Served-By": "gateway", "Server": "", "X-Backend": "echo"}, "GET /new/a?b=c"}},
		{"redirect", "GET", "r.example", "/old/x?y", nil, false,
			answer{308, map[string]string{"Location": "https://r.example/new/x?y"}, ""}},
		{"no route", "GET", "", "/nothing", nil, false,
			answer{404, map[string]string{"Content-Type": "text/plain; charset=utf-8", "Server": ""}, "no route for this host and path\n"}},
		{"within the rate limit", "GET", "", "/limited", nil, true,
			answer{200, nil, "GET /limited"}},
		{"past the rate limit", "GET", "", "/limited", nil, false,
			answer{429, map[string]string{"Retry-After": "1000"}, "too many requests\n"}},
		{"sized body over maxBodySize", "POST", "", "/rw/up", func() io.Reader { return strings.NewReader(bigBody) }, false,
			answer{413, nil, "request body too large\n"}},
		{"chunked body over maxBodySize", "POST", "", "/rw/up", func() io.Reader { return io.MultiReader(strings.NewReader(bigBody)) }, false,
			answer{413, nil, "request body too large\n"}},
		{"body within maxBodySize", "POST", "", "/rw/up", func() io.Reader { return io.MultiReader(strings.NewReader("small")) }, true,
			answer{200, nil, "POST /new/up"}},
		{"502", "GET", "", "/dead", nil, false,
			answer{502, nil, "no backend could be reached\n"}},
		{"503", "GET", "", "/down", nil, false,
			answer{503, map[string]string{"Retry-After": "1"}, "no healthy backend for this route\n"}},
		{"504", "GET", "", "/slow", nil, false,
			answer{504, nil, "the backend did not answer in time\n"}},
	}
	for i, proto := range []struct {
		name   string
		client *http.Client
		major  int
	}{{"HTTP/1.1", h1, 1}, {"HTTP/2", h2, 2}} {
		for _, tt := range tests {
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, _ := http.NewRequest(tt.method, "https://"+g.TLSAddr()+tt.target, body)
			if tt.host != "" {
				req.Host = tt.host
			}
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			resp, err := proto.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", proto.name, tt.name, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != proto.major {
				t.Fatalf("%s %s: answered in %s", proto.name, tt.name, resp.Proto)
			}
			gotBody := string(got)
			if tt.firstLine {
				gotBody, _, _ = strings.Cut(gotBody, "\n")
			}
			if resp.StatusCode != tt.want.status || gotBody != tt.want.body {
				t.Errorf("%s %s: %d %q, want %d %q", proto.name, tt.name, resp.StatusCode, gotBody, tt.want.status, tt.want.body)
			}
			for k, v := range tt.want.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s %s: %s %q, want %q", proto.name, tt.name, k, got, v)
				}
			}
		}
	}
}

// countingDialer returns a DialContext that counts the connections it
// opens in n.
func countingDialer(n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

// TestH2Settings reads the SETTINGS the gateway sends an HTTP/2 client
// first: at most 250 concurrent streams, and a header list bounded by
// maxHeaderBytes (with the 32 bytes per field HPACK counts, for ten).
func TestH2Settings(t *testing.T) {
	b := startBackend(t, "b", nil)
	g, _, _ := h2Gateway(t, b.URL, "", "maxHeaderBytes: 8192\n")
	c, err := handshake(g.TLSAddr(), "", nil, func(c *tls.Config) {
		c.InsecureSkipVerify, c.VerifyConnection = true, nil
		c.NextProtos = []string{"h2"}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// The client preface and an empty SETTINGS frame.
	if _, err := c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 9)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatal(err)
	}
	if head[3] != 0x4 || head[4] != 0 {
		t.Fatalf("the first frame is of type %d, flags %d, want SETTINGS", head[3], head[4])
	}
	payload := make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2]))
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatal(err)
	}
	got := map[uint16]uint32{}
	for p := payload; len(p) >= 6; p = p[6:] {
		got[uint16(p[0])<<8|uint16(p[1])] = uint32(p[2])<<24 | uint32(p[3])<<16 | uint32(p[4])<<8 | uint32(p[5])
	}
	const maxConcurrentStreams, maxHeaderListSize = 0x3, 0x6
	if got[maxConcurrentStreams] != h2MaxStreams {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want %d (all: %v)", got[maxConcurrentStreams], h2MaxStreams, got)
	}
	if want := uint32(8<<10 + 10*32); got[maxHeaderListSize] != want {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE %d, want %d (all: %v)", got[maxHeaderListSize], want, got)
	}
}

// TestH2StreamCap sends more requests than the stream cap at once to a
// backend that holds them all: a client needs a second connection for
// those past the cap of the first, and every request is answered.
func TestH2StreamCap(t *testing.T) {
	const n = h2MaxStreams + 10
	var inside atomic.Int64
	gate := make(chan struct{})
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			inside.Add(1)
			<-gate
		}
		io.WriteString(w, "ok")
	})
	g, h2, _ := h2Gateway(t, b.URL, "", "")
	var dials atomic.Int64
	h2.Transport.(*http.Transport).DialContext = countingDialer(&dials)
	// One request first, so that the client knows the cap.
	if status, body := get(t, h2, "https://"+g.TLSAddr()+"/warm"); status != 200 {
		t.Fatalf("%d %q", status, body)
	}
	errs := make(chan error, n)
	for range n {
		go func() {
			resp, err := h2.Get("https://" + g.TLSAddr() + "/held")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			errs <- err
		}()
	}
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release()
	waitUntil(t, "the backend to hold every request", func() bool { return inside.Load() == n })
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := dials.Load(); d < 2 {
		t.Errorf("%d requests at once took %d connection, want a second past the cap", n, d)
	}
	t.Logf("%d requests at once took %d connections", n, dials.Load())
}

// holdingBackend starts a backend that answers name and the path, and
// holds a request for /held, once it has said so on entered, until
// release is called.
func holdingBackend(t *testing.T, name string) (b *testBackend, entered <-chan struct{}, release func()) {
	gate, in := make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	b = startBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			in <- struct{}{}
			<-gate
		}
		io.WriteString(w, name+" "+r.URL.Path)
	})
	t.Cleanup(release) // before the backend's own cleanup, which waits for it
	return b, in, release
}

// fetched is what a GET that [fetchAsync] sent came to.
type fetched struct {
	status int
	body   string
	err    error
}

// fetchAsync sends a GET for url with c, and hands its outcome over on
// the channel it returns.
func fetchAsync(c *http.Client, url string) <-chan fetched {
	out := make(chan fetched, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			out <- fetched{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- fetched{resp.StatusCode, string(body), err}
	}()
	return out
}

// TestH2ShutdownSendsGoAway shuts the gateway down while a stream is in
// flight: the client is told by GOAWAY not to send more on the
// connection, and the stream in flight finishes with its whole answer.
func TestH2ShutdownSendsGoAway(t *testing.T) {
	b, entered, release := holdingBackend(t, "b")
	g, h2, _ := h2Gateway(t, b.URL, "", "shutdownTimeout: 30s\n")
	var dials atomic.Int64
	h2.Transport.(*http.Transport).DialContext = countingDialer(&dials)
	url := "https://" + g.TLSAddr()
	held := fetchAsync(h2, url+"/held")
	<-entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- g.Shutdown(ctx)
	}()
	// Once the GOAWAY is in, a new request needs a new connection, which
	// the closed socket refuses.
	waitUntil(t, "a request after GOAWAY to need a new connection", func() bool {
		resp, err := h2.Get(url + "/after")
		if err == nil {
			resp.Body.Close()
			return false
		}
		return dials.Load() > 1
	})
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned %v with a stream in flight", err)
	default:
	}
	release()
	r := <-held
	if r.err != nil || r.status != 200 || r.body != "b /held" {
		t.Fatalf("the stream in flight got %d %q %v, want 200 \"b /held\"", r.status, r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestH2ReloadMidStream reloads, to another backend and other listener
// settings, while a stream is in flight: the stream finishes on the
// generation and backend it started with, its connection gets GOAWAY as
// a retired listener's HTTP/1.1 connections get Connection: close, and
// the next request goes to the new backend on a new connection.
func TestH2ReloadMidStream(t *testing.T) {
	a, entered, release := holdingBackend(t, "a")
	b := startBackend(t, "b", nil)
	g, h2, _, config := h2GatewayConfig(t, a.URL, "", "")
	var dials atomic.Int64
	h2.Transport.(*http.Transport).DialContext = countingDialer(&dials)
	url := "https://" + g.TLSAddr()
	held := fetchAsync(h2, url+"/held")
	<-entered
	reloadOK(t, g, config(b.URL, "", "clientIdleTimeout: 61s\n"))
	// A request sent before the client has read the GOAWAY still goes
	// over the first connection (to b: a new stream starts on the new
	// generation); once it has, the client dials anew.
	waitUntil(t, "the next request to reach b over a new connection", func() bool {
		_, body := get(t, h2, url+"/next")
		return body == "b" && dials.Load() >= 2
	})
	if d := dials.Load(); d != 2 {
		t.Errorf("the client opened %d connections, want 2: the first one was told GOAWAY", d)
	}
	release()
	if r := <-held; r.err != nil || r.body != "a /held" {
		t.Fatalf("the stream in flight got %q %v, want a's answer", r.body, r.err)
	}
}

// TestH2Unsupported checks what HTTP/2 the gateway does not serve gets: a
// CONNECT over h2 gets 405 as over HTTP/1.1, and the plain listener
// answers the h2c preface with 400, as any request it cannot read.
func TestH2Unsupported(t *testing.T) {
	b := startBackend(t, "b", nil)
	g, h2, _ := h2Gateway(t, b.URL, "", "")
	req, _ := http.NewRequest("CONNECT", "https://"+g.TLSAddr(), nil)
	req.URL.Host, req.Host = "backend.example:443", "backend.example:443"
	tr := h2.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, g.TLSAddr())
	}
	tr.TLSClientConfig.ServerName = "gw.example"
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT over h2: %s %d, want HTTP/2 405", resp.Proto, resp.StatusCode)
	}
	for ct, want := range map[string]int{"application/grpc": 415, "application/grpc+proto": 415, "application/grpc-web": 200} {
		req, _ := http.NewRequest("POST", "https://"+g.TLSAddr()+"/pkg.Service/Method", strings.NewReader("\x00\x00\x00\x00\x00"))
		req.Header.Set("Content-Type", ct)
		resp, err := h2.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s over h2: %d, want %d", ct, resp.StatusCode, want)
		}
	}
	noBackendFailed(t, g)
	out := sendRaw(t, g.Addr(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	if !strings.HasPrefix(string(out), "HTTP/1.1 400 ") {
		t.Errorf("the h2c preface got %q, want 400", out)
	}
}

// TestH2ObservedAsHTTP1 sends the same request over HTTP/1.1 and HTTP/2:
// both are counted on the same backend and logged alike, but for their
// times.
func TestH2ObservedAsHTTP1(t *testing.T) {
	b := startBackend(t, "b", nil)
	path := t.TempDir() + "/access.log"
	g, h2, h1 := h2Gateway(t, b.URL, "", "accessLog: "+path+"\n")
	for _, c := range []*http.Client{h1, h2} {
		if status, body := get(t, c, "https://"+g.TLSAddr()+"/same?q=1"); status != 200 || body != "b" {
			t.Fatalf("%d %q", status, body)
		}
	}
	be := g.current().pools[0].backends[0]
	if served, inFlight := be.served.Load(), be.upstream.Load().inFlight.Load(); served != 2 || inFlight != 0 {
		t.Errorf("the backend served %d requests with %d in flight, want 2 and 0", served, inFlight)
	}
	lines := accessLogLines(t, g, path)
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2: %q", len(lines), lines)
	}
	// The time and duration are replaced already.
	if lines[0] != lines[1] {
		t.Errorf("HTTP/1.1 logged %s\nHTTP/2 logged %s", lines[0], lines[1])
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"time":T`, `"time":0`, `"duration_ms":D`, `"duration_ms":0`).Replace(lines[1])), &entry); err != nil {
		t.Fatalf("%s: %v", lines[1], err)
	}
	if entry["status"] != 200.0 || entry["path"] != "/same?q=1" || entry["pool"] != "p" {
		t.Errorf("HTTP/2 logged %v", entry)
	}
}

// TestH2BoundedMemory sends a 64 MiB request body through the gateway
// over HTTP/2 and gets a 64 MiB response body back from another request,
// while the heap in use is sampled: neither body is ever held whole.
func TestH2BoundedMemory(t *testing.T) {
	const size = 64 << 20
	chunk := make([]byte, 32<<10)
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprint(w, n)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	g, h2, _ := h2Gateway(t, b.URL, "", "maxBodySize: 0\n")
	url := "https://" + g.TLSAddr()

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()

	resp, err := h2.Post(url+"/up", "application/octet-stream", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != fmt.Sprint(size) {
		t.Fatalf("upload: %d %q, want 200 %d", resp.StatusCode, got, size)
	}
	resp, err = h2.Get(url + "/down")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || resp.ProtoMajor != 2 {
		t.Fatalf("download: %d bytes over %s, %v; want %d over HTTP/2", n, resp.Proto, err, size)
	}
	close(stop)
	<-sampled
	grew := int64(peak.Load()) - int64(base)
	t.Logf("the heap in use grew by %d KiB at most while 2 x %d MiB went through", grew>>10, size>>20)
	if grew > 24<<20 {
		t.Errorf("the heap in use grew by %d MiB, want well under the %d MiB of a body", grew>>20, size>>20)
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestH2EarlyHints checks that a backend's 103 Early Hints reaches an
// HTTP/2 client with its fields before the final answer, which does not
// carry them.
func TestH2EarlyHints(t *testing.T) {
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	})
	g, h2, _ := h2Gateway(t, b.URL, "", "")
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "https://"+g.TLSAddr()+"/", nil)
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "final" || resp.Header.Get("Link") != "" {
		t.Errorf("final answer %s %d %q, Link %q", resp.Proto, resp.StatusCode, body, resp.Header.Get("Link"))
	}
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
		t.Errorf("interim answers %q, want one 103 with its Link", hints)
	}
}

// TestLeakH2ListenerChanges reloads with new listener settings while an
// HTTP/2 client keeps a connection: each reload's retired server sends
// it GOAWAY, the client's next request opens a new one, and the servers,
// connections and goroutines each change retires are all gone once it
// has retired.
func TestLeakH2ListenerChanges(t *testing.T) {
	reloads := 50
	if leakLong() {
		reloads = 500
	}
	a := startBackend(t, "a", nil)
	g, h2, _, config := h2GatewayConfig(t, a.URL, "", "")
	run := func(n int) {
		t.Helper()
		for i := range n {
			reloadOK(t, g, config(a.URL, "", fmt.Sprintf("clientIdleTimeout: %ds\n", 30+i%5)))
			if status, body := get(t, h2, "https://"+g.TLSAddr()+"/"); status != 200 || body != "a" {
				t.Fatalf("reload %d: %d %q", i, status, body)
			}
		}
		h2.CloseIdleConnections()
		waitRetired(t, g.public)
	}
	run(5)
	baseline := measure(t)
	run(reloads)
	settle(t, baseline, h2.CloseIdleConnections)
}

// TestH2Trailers checks that the trailer fields after a backend's chunked
// body reach an HTTP/2 client as trailers.
func TestH2Trailers(t *testing.T) {
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc")
	})
	g, h2, _ := h2Gateway(t, b.URL, "", "")
	req, _ := http.NewRequest("GET", "https://"+g.TLSAddr()+"/", nil)
	req.Header.Set("TE", "trailers")
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("%s %q, trailer %v; want HTTP/2 \"body\" with X-Checksum: abc", resp.Proto, body, resp.Trailer)
	}
}
