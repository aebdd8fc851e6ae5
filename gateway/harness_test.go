package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testBackend is a named loopback backend that records the last request.
type testBackend struct {
	*httptest.Server
	name string
	last chan *http.Request
}

// startBackend starts a backend answering its name on every path, plus
// whatever handler adds.
func startBackend(t *testing.T, name string, handler http.HandlerFunc) *testBackend {
	t.Helper()
	b := &testBackend{name: name, last: make(chan *http.Request, 1000)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case b.last <- r.Clone(context.Background()):
		default:
		}
		w.Header().Set("X-Backend", name)
		if handler != nil {
			handler(w, r)
			return
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

// startGateway applies the YAML config and returns the gateway and its
// base URL. The config's listen address should be 127.0.0.1:0.
func startGateway(t *testing.T, config string) (*Gateway, string) {
	t.Helper()
	return startGatewayWith(t, Options{}, config)
}

// startGatewayWith is startGateway for a gateway made with opts.
func startGatewayWith(t *testing.T, opts Options, config string) (*Gateway, string) {
	t.Helper()
	g := New(opts)
	if _, err := g.Load("test.yaml", []byte(config), TriggerStart); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g, "http://" + g.Addr()
}

// current returns the generation being served, or nil before the first
// config was applied.
func (g *Gateway) current() *generation { return g.gen.Load() }

// poolConfig is a config with one pool of the given servers and health
// checks off unless extra says otherwise.
func poolConfig(algorithm string, extra string, servers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\npools:\n  p:\n    algorithm: %s\n    healthCheck: {enabled: false}\n%s    servers:\n", algorithm, extra)
	for _, s := range servers {
		fmt.Fprintf(&b, "      - %s\n", s)
	}
	return b.String()
}

// poolsABConfig is a config with pools a and b of one server each, health
// checks off, and routes, given as YAML list items.
func poolsABConfig(a, b, routes string) string {
	return "listen: 127.0.0.1:0\npools:\n" +
		"  a:\n    healthCheck: {enabled: false}\n    servers: [" + a + "]\n" +
		"  b:\n    healthCheck: {enabled: false}\n    servers: [" + b + "]\n" +
		"routes:\n" + routes
}

// get fetches url with a fresh keep-alive client and returns status and
// body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	// A socket bound but not listening holds the port for the test, so
	// that no listener the test starts next (the gateway's own, which
	// would make a proxy loop) can be given it, and connections to it
	// are refused.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// freeAddr returns a loopback address that was free a moment ago, for a
// listener the test has the gateway bind.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// upgradeHandler answers "Upgrade: echo" with 101 Switching Protocols and
// hands the hijacked stream to then, which io.Copy(c, brw) makes an echo.
func upgradeHandler(then func(c net.Conn, brw *bufio.ReadWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		then(c, brw)
	}
}

// echo is the upgradeHandler body that echoes every byte.
func echo(c net.Conn, brw *bufio.ReadWriter) { io.Copy(c, brw) }

// dialUpgrade asks the gateway at base for an "Upgrade: echo" connection
// and returns it after the 101, with a reader that holds any bytes read
// past the head.
func dialUpgrade(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v, %v; want 101", resp, err)
	}
	return c, br
}
