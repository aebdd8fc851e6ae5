package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// recorder is a backend that records every request it receives as
// "METHOD URI BYTES", with " incomplete" appended when the body did not
// arrive whole, and answers its name.
type recorder struct {
	*testBackend
	mu   sync.Mutex
	seen []string
}

func startRecorder(t *testing.T, name string) *recorder {
	t.Helper()
	r := &recorder{}
	r.testBackend = startBackend(t, name, func(w http.ResponseWriter, req *http.Request) {
		n, err := io.Copy(io.Discard, req.Body)
		line := fmt.Sprintf("%s %s %d", req.Method, req.RequestURI, n)
		if err != nil {
			line += " incomplete"
		}
		r.mu.Lock()
		r.seen = append(r.seen, line)
		r.mu.Unlock()
		io.WriteString(w, name)
	})
	return r
}

// requests returns what r has recorded so far.
func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// sendRaw writes raw to addr, reading at the same time, half-closes the
// connection and returns everything that comes back until the gateway
// closes it. It fails the test when the gateway neither answers nor closes
// within five seconds.
func sendRaw(t *testing.T, addr, raw string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		// The gateway may refuse and close before reading everything.
		io.WriteString(c, raw)
		c.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("no answer and no close within 5s; got %q", out)
	}
	// Close with a reset: fuzzing opens connections by the hundred
	// thousand, and lingering ones would use up the local ports.
	c.(*net.TCPConn).SetLinger(0)
	return out
}

// statuses parses out as a series of HTTP responses to GET requests and
// returns their status codes; it fails the test on bytes that are not a
// valid response.
func statuses(t *testing.T, out []byte) []int {
	t.Helper()
	var codes []int
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return codes
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d is not a valid response: %v\n%q", len(codes)+1, err, out)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("answer %d has a broken body: %v\n%q", len(codes)+1, err, out)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
}

// hostileConfig is the config the hostile-request table runs against: one
// backend, a 1 KiB body limit and a 4 KiB header limit.
func hostileConfig(backend string) string {
	return strings.Replace(poolConfig("round_robin", "", backend), "listen: 127.0.0.1:0\n",
		"listen: 127.0.0.1:0\nmaxBodySize: 1024\nmaxHeaderBytes: 4096\n", 1)
}

// stopGateway shuts g down and waits for it.
func stopGateway(t *testing.T, g *Gateway) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestHardeningHostileRequests(t *testing.T) {
	const h = "Host: x\r\n"
	line := func(uri string) string { return "GET " + uri + " HTTP/1.1\r\n" + h + "\r\n" }
	chunked := "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n"
	big := strings.Repeat("a", 1024)
	tests := []struct {
		name string
		raw  string
		// status lists the answers in order; none means the connection
		// closes unanswered.
		status []int
		// orClosed also accepts a connection closed without an answer.
		orClosed bool
		// seen is what the backend must receive, besides the good request
		// sent afterwards.
		seen []string
		// partial lets the backend also see requests whose body never
		// completes: the gateway streams bodies, sending the head before
		// the body arrives, so a body that breaks is cut off mid-way,
		// never completed.
		partial bool
	}{
		// Request lines.
		{name: "garbage", raw: "\x00\x01garbage\r\n\r\n", status: []int{400}},
		{name: "no version", raw: "GET /\r\n" + h + "\r\n", status: []int{400}},
		{name: "extra token", raw: "GET / HTTP/1.1 x\r\n" + h + "\r\n", status: []int{400}},
		{name: "double spaces", raw: "GET  /  HTTP/1.1\r\n" + h + "\r\n", status: []int{400}},
		{name: "lower-case version", raw: "GET / http/1.1\r\n" + h + "\r\n", status: []int{400}},
		{name: "unknown protocol", raw: "GET / FOO/1.1\r\n" + h + "\r\n", status: []int{400}},
		{name: "two-digit minor version", raw: "GET / HTTP/1.10\r\n" + h + "\r\n", status: []int{400}},
		{name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\n" + h + "\r\n", status: []int{505}},
		{name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\n" + h + "\r\n", status: []int{505}},
		{name: "bad method byte", raw: "G@T / HTTP/1.1\r\n" + h + "\r\n", status: []int{400}},
		{name: "space in target", raw: "GET /a b HTTP/1.1\r\n" + h + "\r\n", status: []int{400}},
		{name: "NUL in target", raw: "GET /a\x00b HTTP/1.1\r\n" + h + "\r\n", status: []int{400}},
		{name: "relative target", raw: "GET a/b HTTP/1.1\r\n" + h + "\r\n", status: []int{400}},
		{name: "CONNECT", raw: "CONNECT internal:22 HTTP/1.1\r\nHost: internal:22\r\n\r\n", status: []int{405}},
		{name: "oversized URI", raw: line("/" + strings.Repeat("u", 8000)), status: []int{431}},

		// Header fields.
		{name: "oversized header", raw: "GET / HTTP/1.1\r\n" + h + "X-Big: " + strings.Repeat("a", 8000) + "\r\n\r\n", status: []int{431}},
		{name: "too many headers", raw: "GET / HTTP/1.1\r\n" + h + strings.Repeat("X-Many: aaaaaaaaaaaaaaaaaaaa\r\n", 200) + "\r\n", status: []int{431}},
		{name: "header without colon", raw: "GET / HTTP/1.1\r\n" + h + "NoColonHere\r\n\r\n", status: []int{400}},
		{name: "space before colon", raw: "GET / HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\n\r\n", status: []int{400}},
		{name: "space in name", raw: "GET / HTTP/1.1\r\n" + h + "Transfer Encoding: chunked\r\n\r\n", status: []int{400}},
		{name: "tab in name", raw: "GET / HTTP/1.1\r\n" + h + "X\tA: a\r\n\r\n", status: []int{400}},
		{name: "empty name", raw: "GET / HTTP/1.1\r\n" + h + ": a\r\n\r\n", status: []int{400}},
		{name: "leading white space", raw: "GET / HTTP/1.1\r\n\tX-A: a\r\n" + h + "\r\n", status: []int{400}},
		{name: "NUL in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\x00b\r\n\r\n", status: []int{400}},
		{name: "bare CR in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\rX-Injected: b\r\n\r\n", status: []int{400}},
		{name: "control byte in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\x01b\r\n\r\n", status: []int{400}},
		{name: "DEL in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\x7fb\r\n\r\n", status: []int{400}},
		// A bare LF ends a header line (RFC 9112, section 2.2); the gateway
		// forwards the two fields it read with CRLF, so nothing can differ.
		{name: "bare LF in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\nX-Injected: b\r\n\r\n", status: []int{200}, seen: []string{"GET / 0"}},
		// Line folding is replaced with a space (RFC 9112, section 5.2).
		{name: "obsolete line folding", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\r\n b\r\n\r\n", status: []int{200}, seen: []string{"GET / 0"}},
		{name: "HTTP/1.1 without Host", raw: "GET / HTTP/1.1\r\n\r\n", status: []int{400}},
		{name: "empty Host", raw: "GET / HTTP/1.1\r\nHost: \r\n\r\n", status: []int{400}},
		{name: "two Hosts", raw: "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", status: []int{400}},
		{name: "space in Host", raw: "GET / HTTP/1.1\r\nHost: x y\r\n\r\n", status: []int{400}},
		{name: "non-ASCII Host", raw: "GET / HTTP/1.1\r\nHost: \u017fecret.example\r\n\r\n", status: []int{400}},
		{name: "slash in Host", raw: "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", status: []int{400}},
		{name: "IPv6 literal Host", raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", status: []int{200}, seen: []string{"GET / 0"}},
		// An absolute-form target's scheme and port decide nothing: the
		// request goes to the backend over its own scheme, in origin form.
		{name: "absolute-form https target", raw: line("https://x.example/a?b=1"), status: []int{200}, seen: []string{"GET /a?b=1 0"}},
		{name: "absolute-form http target with a port", raw: line("http://x.example:8443"), status: []int{200}, seen: []string{"GET / 0"}},
		{name: "absolute-form target with a fragment", raw: line("http://x.example/p#frag"), status: []int{200}, seen: []string{"GET /p 0"}},
		{name: "HTTP/1.0 without Host", raw: "GET /old HTTP/1.0\r\n\r\n", status: []int{200}, seen: []string{"GET /old 0"}},

		// Message framing.
		{name: "two equal Content-Lengths", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", status: []int{400}},
		{name: "conflicting Content-Lengths", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: []int{400}},
		{name: "Content-Length list", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 3, 4\r\n\r\nabcd", status: []int{400}},
		{name: "signed Content-Length", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: +3\r\n\r\nabc", status: []int{400}},
		{name: "negative Content-Length", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", status: []int{400}},
		{name: "hex Content-Length", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 0x3\r\n\r\nabc", status: []int{400}},
		{name: "Content-Length overflow", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999999\r\n\r\nabc", status: []int{400}},
		{
			name:   "Content-Length then Transfer-Encoding smuggling a request",
			raw:    "POST / HTTP/1.1\r\n" + h + "Content-Length: 38\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + h + "\r\n",
			status: []int{400},
		},
		{
			name:   "Transfer-Encoding then Content-Length smuggling a request",
			raw:    "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n26\r\nGET /smuggled HTTP/1.1\r\n" + h + "\r\n\r\n0\r\n\r\n",
			status: []int{400},
		},
		{name: "chunked not last", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", status: []int{400}},
		{name: "unknown coding", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", status: []int{400}},
		{name: "two Transfer-Encodings", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: []int{400}},
		{name: "chunked on HTTP/1.0", raw: "POST / HTTP/1.0\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: []int{400}},
		{name: "non-hex chunk size", raw: chunked + "zz\r\nabc\r\n0\r\n\r\n", status: []int{400}, partial: true},
		{name: "negative chunk size", raw: chunked + "-1\r\nabc\r\n0\r\n\r\n", status: []int{400}, partial: true},
		{name: "chunk size overflow", raw: chunked + "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n", status: []int{400}, partial: true},
		{name: "bare LF chunk framing", raw: chunked + "3\nabc\n0\n\n", status: []int{400}, partial: true},
		{name: "chunk shorter than its size", raw: chunked + "5\r\nabc\r\n0\r\n\r\n", status: []int{400}, partial: true},
		{name: "bad second chunk", raw: chunked + "3\r\nabc\r\nzz\r\n\r\n", status: []int{400}, partial: true},
		{name: "body shorter than Content-Length", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 10\r\n\r\nabc", status: []int{400}, partial: true},
		{name: "chunk extension", raw: chunked + "3;x=1\r\nabc\r\n0\r\n\r\n", status: []int{200}, seen: []string{"POST / 3"}},
		{name: "trailer", raw: chunked + "3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n", status: []int{200}, seen: []string{"POST / 3"}},

		// Body size (maxBodySize 1024).
		{name: "Content-Length at the limit", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 1024\r\n\r\n" + big, status: []int{200}, seen: []string{"POST / 1024"}},
		{name: "Content-Length over the limit", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 1025\r\n\r\n" + big + "a", status: []int{413}},
		{name: "over the limit with Expect", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 4096\r\nExpect: 100-continue\r\n\r\n" + strings.Repeat(big, 4), status: []int{413}},
		{name: "chunked at the limit", raw: chunked + "400\r\n" + big + "\r\n0\r\n\r\n", status: []int{200}, seen: []string{"POST / 1024"}},
		{name: "chunked over the limit", raw: chunked + "400\r\n" + big + "\r\n400\r\n" + big + "\r\n0\r\n\r\n", status: []int{413}, orClosed: true, partial: true},

		// Pipelining.
		{name: "pipelined", raw: line("/1") + "POST /2 HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nabc" + line("/3"), status: []int{200, 200, 200}, seen: []string{"GET /1 0", "POST /2 3", "GET /3 0"}},
		{name: "pipelined after a bad one", raw: line("/1") + "GET /2 HTTP/1.1\r\n" + h + "X A: b\r\n\r\n" + line("/3"), status: []int{200, 400}, seen: []string{"GET /1 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := startRecorder(t, "a")
			g, base := startGateway(t, hostileConfig(rec.URL))
			out := sendRaw(t, strings.TrimPrefix(base, "http://"), tt.raw)
			got := statuses(t, informational(out))
			if !slices.Equal(got, tt.status) && !(tt.orClosed && len(got) == 0) {
				t.Errorf("answers %v, want %v\n%q", got, tt.status, out)
			}
			if status, body := get(t, &http.Client{}, base+"/after"); status != 200 || body != "a" {
				t.Errorf("the next good request: %d %q", status, body)
			}
			// Nothing a client sends is held against the backend.
			noBackendFailed(t, g)
			// Once the gateway and the backend have stopped, every request
			// the backend ever received has been recorded.
			stopGateway(t, g)
			rec.Close()
			var seen []string
			for _, r := range rec.requests() {
				if tt.partial && strings.HasSuffix(r, " incomplete") {
					continue
				}
				seen = append(seen, r)
			}
			want := append(slices.Clone(tt.seen), "GET /after 0")
			if !slices.Equal(seen, want) {
				t.Errorf("the backend received %q, want %q", rec.requests(), want)
			}
		})
	}
}

// informational returns out with a leading "100 Continue" answer rewritten
// so that [statuses] can parse it (net/http reads 1xx heads only inside a
// client round trip).
func informational(out []byte) []byte {
	const cont = "HTTP/1.1 100 Continue\r\n\r\n"
	if rest, ok := bytes.CutPrefix(out, []byte(cont)); ok {
		return append([]byte("HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n"), rest...)
	}
	return out
}

func TestHardeningPipelinedRequestsAreRoutedInOrder(t *testing.T) {
	a, b, c := startRecorder(t, "a"), startRecorder(t, "b"), startRecorder(t, "c")
	_, base := startGateway(t, poolConfig("round_robin", "", a.URL, b.URL, c.URL))
	var raw strings.Builder
	for i := range 6 {
		fmt.Fprintf(&raw, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	out := sendRaw(t, strings.TrimPrefix(base, "http://"), raw.String())
	br := bufio.NewReader(bytes.NewReader(out))
	var order string
	for i := range 6 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v\n%q", i, err, out)
		}
		body, _ := io.ReadAll(resp.Body)
		order += string(body)
	}
	if order != "abcabc" {
		t.Fatalf("answered by %q, want abcabc", order)
	}
	for i, r := range []*recorder{a, b, c} {
		want := []string{fmt.Sprintf("GET /%d 0", i), fmt.Sprintf("GET /%d 0", i+3)}
		if got := r.requests(); !slices.Equal(got, want) {
			t.Errorf("backend %s received %q, want %q", r.name, got, want)
		}
	}
}

func TestHardeningAbsoluteFormRoutesOnItsAuthority(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	_, base := startGateway(t, poolsABConfig(a.URL, b.URL, "  - host: a.example\n    pool: a\n  - host: b.example\n    pool: b\n"))
	out := sendRaw(t, strings.TrimPrefix(base, "http://"), "GET http://b.example/x?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if err != nil {
		t.Fatalf("%v\n%q", err, out)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "b" {
		t.Fatalf("answered %d by %q, want 200 by b", resp.StatusCode, resp.Header.Get("X-Backend"))
	}
	r := <-b.last
	if r.Host != "b.example" || r.RequestURI != "/x?q=1" {
		t.Fatalf("backend saw Host %q and target %q, want b.example and /x?q=1", r.Host, r.RequestURI)
	}
}

func TestHardeningSlowHeaderIsCutOff(t *testing.T) {
	rec := startRecorder(t, "a")
	cfg := strings.Replace(poolConfig("round_robin", "", rec.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nclientHeaderTimeout: 300ms\n", 1)
	_, base := startGateway(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetDeadline(start.Add(5 * time.Second))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 100) + "\r\n\r\n") {
			select {
			case <-tick.C:
			case <-stop:
				return
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	out, err := io.ReadAll(c)
	elapsed := time.Since(start)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after %v: %v", elapsed, err)
	}
	if got := statuses(t, out); len(got) > 0 && !slices.Equal(got, []int{408}) {
		t.Fatalf("answers %v, want 408 or a closed connection", got)
	}
	if elapsed < 250*time.Millisecond || elapsed > 2*time.Second {
		t.Fatalf("cut off after %v, want about 300ms", elapsed)
	}
	if status, _ := get(t, &http.Client{}, base+"/"); status != 200 {
		t.Fatalf("the next good request: %d", status)
	}
	if got := rec.requests(); !slices.Equal(got, []string{"GET / 0"}) {
		t.Fatalf("the backend received %q", got)
	}
}

// streamingBackend answers /big with size bytes, streamed, and reports on
// done how many bytes it wrote once the handler returns; other paths get
// its name.
func streamingBackend(t *testing.T, size int, done chan<- int) *testBackend {
	return startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/big" {
			io.WriteString(w, "a")
			return
		}
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		written := 0
		for written < size {
			n, err := w.Write(chunk)
			written += n
			if err != nil {
				break
			}
		}
		done <- written
	})
}

func TestHardeningClientStopsReading(t *testing.T) {
	const size = 256 << 20
	for _, closes := range []bool{false, true} {
		t.Run(map[bool]string{false: "stalls", true: "closes"}[closes], func(t *testing.T) {
			done := make(chan int, 1)
			b := streamingBackend(t, size, done)
			cfg := strings.Replace(poolConfig("round_robin", "", b.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nclientIdleTimeout: 500ms\n", 1)
			g, base := startGateway(t, cfg)
			c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("response: %v", err)
			}
			if closes {
				c.Close()
			}
			// The client reads nothing more: the gateway must give up on it
			// and free the backend, whose handler then fails to write.
			select {
			case written := <-done:
				if written >= size {
					t.Fatalf("the backend wrote all %d bytes to a client that stopped reading", written)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the backend is still writing 10s after the client stopped reading")
			}
			back := g.current().pools[0].backends[0]
			waitUntil(t, "the backend's request to end", func() bool { return back.inFlight.Load() == 0 })
			if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "a" {
				t.Fatalf("the next good request: %d %q", status, body)
			}
		})
	}
}

func TestHardeningSpoofedForwardedFor(t *testing.T) {
	var names []string
	var urls []string
	for _, n := range []string{"a", "b", "c", "d"} {
		names = append(names, n)
		urls = append(urls, startBackend(t, n, nil).URL)
	}
	untrusted := poolConfig("ip_hash", "", urls...)
	trusted := strings.Replace(untrusted, "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\ntrustedProxies: [127.0.0.1/32]\n", 1)

	servedBy := func(base, xff string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/", nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}

	// With the peer trusted, clients follow X-Forwarded-For: find two
	// addresses that land on different backends.
	_, tbase := startGateway(t, trusted)
	byAddr := map[string]string{}
	var x, y string
	for i := 1; i < 50 && y == ""; i++ {
		addr := fmt.Sprintf("203.0.113.%d", i)
		byAddr[addr] = servedBy(tbase, addr)
		if x == "" {
			x = addr
		} else if byAddr[addr] != byAddr[x] {
			y = addr
		}
	}
	if y == "" {
		t.Fatalf("every forwarded address went to %s", byAddr[x])
	}
	for range 3 {
		if got := servedBy(tbase, "198.51.100.1, "+x); got != byAddr[x] {
			t.Fatalf("trusted: %s went to %s, then to %s", x, byAddr[x], got)
		}
		if got := servedBy(tbase, y); got != byAddr[y] {
			t.Fatalf("trusted: %s went to %s, then to %s", y, byAddr[y], got)
		}
	}

	// Without trust the header is the client's word and is ignored: every
	// request from 127.0.0.1 goes where 127.0.0.1 hashes to.
	_, ubase := startGateway(t, untrusted)
	peer := servedBy(ubase, "")
	for _, spoof := range []string{x, y, x + ", " + y} {
		if got := servedBy(ubase, spoof); got != peer {
			t.Fatalf("untrusted: X-Forwarded-For %q moved the client from %s to %s", spoof, peer, got)
		}
	}
}

func TestHardeningClientBodyFailuresSpareBackends(t *testing.T) {
	a, b := startRecorder(t, "a"), startRecorder(t, "b")
	extra := "    passive: {maxFails: 1, window: 1m, ejectFor: 1h}\n"
	cfg := strings.Replace(poolConfig("round_robin", extra, a.URL, b.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nmaxBodySize: 1024\n", 1)
	g, base := startGateway(t, cfg)
	addr := strings.TrimPrefix(base, "http://")
	chunked := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tt := range []struct {
		raw    string
		status int
	}{
		{chunked + "3\r\nabc\r\nzz\r\n\r\n", 400},
		{chunked + "3\r\nabc\r\n3\r\nabc", 400},
		{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", 400},
		{chunked + "400\r\n" + strings.Repeat("a", 1024) + "\r\n1\r\na\r\n0\r\n\r\n", 413},
	} {
		for range 2 { // once on each backend
			if got := statuses(t, sendRaw(t, addr, tt.raw)); !slices.Equal(got, []int{tt.status}) {
				t.Errorf("%q: answers %v, want %d", tt.raw, got, tt.status)
			}
		}
	}
	for _, back := range g.current().pools[0].backends {
		if !back.health.Healthy() {
			t.Errorf("backend %s was ejected for the client's fault: %+v", back.name(), back.health.Snapshot())
		}
		if n := back.failures.Load(); n != 0 {
			t.Errorf("backend %s counted %d failures", back.name(), n)
		}
	}
	for _, r := range append(a.requests(), b.requests()...) {
		if !strings.HasSuffix(r, " incomplete") {
			t.Errorf("a backend received a complete request: %s", r)
		}
	}
}

// resetBackend accepts connections, reads a request head from each and
// closes it without an answer, counting the heads.
func resetBackend(t *testing.T) (url string, heads *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	heads = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					heads.Add(1)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), heads
}

func TestHardeningResetIsRetriedOnlyWithoutBody(t *testing.T) {
	u1, h1 := resetBackend(t)
	u2, h2 := resetBackend(t)
	_, base := startGateway(t, poolConfig("round_robin", "    passive: {maxFails: 0}\n", u1, u2))
	total := func() int32 { return h1.Load() + h2.Load() }

	addr := strings.TrimPrefix(base, "http://")

	// A request with a body is not sent again once its body has gone out.
	got := statuses(t, sendRaw(t, addr, "POST /charge HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\namount=1"))
	if !slices.Equal(got, []int{502}) || total() != 1 {
		t.Fatalf("POST with a body: %v after %d deliveries, want 502 after exactly 1", got, total())
	}

	// A reset before any response byte, with no body, goes to the next
	// backend, whatever the method.
	for _, method := range []string{"POST", "DELETE"} {
		before1, before2 := h1.Load(), h2.Load()
		got = statuses(t, sendRaw(t, addr, method+" /item HTTP/1.1\r\nHost: x\r\n\r\n"))
		if !slices.Equal(got, []int{502}) || h1.Load() == before1 || h2.Load() == before2 {
			t.Fatalf("bodyless %s: %v after deliveries %d and %d, want 502 after both backends were tried",
				method, got, h1.Load()-before1, h2.Load()-before2)
		}
	}
}

func TestTimeoutResponseHeader(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	_, base := startGateway(t, poolConfig("round_robin", "    responseHeaderTimeout: 200ms\n", b.URL))
	answeredAfterTimeout(t, base, 504, 200*time.Millisecond)
}

// answeredAfterTimeout fetches base and checks that the answer is status
// and came once timeout had passed, but not much later.
func answeredAfterTimeout(t *testing.T, base string, status int, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	got, _ := get(t, &http.Client{}, base+"/")
	elapsed := time.Since(start)
	if got != status {
		t.Fatalf("status %d, want %d", got, status)
	}
	if elapsed < timeout*9/10 || elapsed > timeout+2*time.Second {
		t.Fatalf("answered after %v, want about %v", elapsed, timeout)
	}
}

// fullBacklog returns the address of a socket that listens with a
// backlog of one and never accepts, with its queue already full, so that
// a further connect waits for a SYN-ACK that does not come.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skipf("bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skipf("listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Skipf("getsockname: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel kept accepting connections into a full backlog; connect timeouts cannot be provoked on loopback here")
	return ""
}

func TestTimeoutConnect(t *testing.T) {
	addr := fullBacklog(t)
	_, base := startGateway(t, poolConfig("round_robin", "    connectTimeout: 200ms\n", "http://"+addr))
	answeredAfterTimeout(t, base, 502, 200*time.Millisecond)
}

func TestTimeoutIdleBackendConnection(t *testing.T) {
	closed := make(chan time.Time, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") }))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- time.Now()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	_, base := startGateway(t, poolConfig("round_robin", "    idleTimeout: 300ms\n", srv.URL))
	if status, _ := get(t, &http.Client{}, base+"/"); status != 200 {
		t.Fatalf("status %d", status)
	}
	idle := time.Now()
	select {
	case at := <-closed:
		if d := at.Sub(idle); d < 250*time.Millisecond {
			t.Fatalf("the idle backend connection was closed after %v, before the 300ms idle timeout", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the idle backend connection was still open 3s later")
	}
}

func TestMaxConnections(t *testing.T) {
	b := startBackend(t, "a", nil)
	cfg := strings.Replace(poolConfig("round_robin", "", b.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nmaxConnections: 2\n", 1)
	_, base := startGateway(t, cfg)
	addr := strings.TrimPrefix(base, "http://")
	// roundTrip sends one request on c and returns the status, or 0 when
	// the connection closed without one.
	roundTrip := func(c net.Conn) int {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return 0
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	var open []net.Conn
	for i := range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if status := roundTrip(c); status != 200 {
			t.Fatalf("connection %d: status %d", i+1, status)
		}
		open = append(open, c)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if status := roundTrip(c); status != 503 {
		t.Fatalf("third connection: status %d, want 503", status)
	}
	open[0].Close()
	waitUntil(t, "a connection slot to free up", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		return roundTrip(c) == 200
	})
	if status := roundTrip(open[1]); status != 200 {
		t.Fatalf("the second connection after the third was refused: status %d", status)
	}
}

// TestH2CUpgradeIsNotForwarded sends the cleartext HTTP/2 upgrade of a
// smuggling attack: a backend that would switch to h2c must never see the
// Upgrade, or it would answer 101 and every later request on the
// connection would reach it through a tunnel, past the gateway's routes,
// limits, header rules and logs. The gateway treats the request as a
// plain one and strips the upgrade's headers, as nginx does, and the next
// request on the connection goes through the gateway too.
func TestH2CUpgradeIsNotForwarded(t *testing.T) {
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "h2c")
			w.WriteHeader(http.StatusSwitchingProtocols)
			return
		}
		fmt.Fprintf(w, "%s upgrade=%q settings=%q xff=%t", r.URL.Path, r.Header.Get("Upgrade"),
			r.Header.Get("HTTP2-Settings"), r.Header.Get("X-Forwarded-For") != "")
	})
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	for _, upgrade := range []string{"h2c", "H2C", "websocket, h2c"} {
		raw := "GET /first HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: " + upgrade +
			"\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n" +
			"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		out := string(sendRaw(t, strings.TrimPrefix(base, "http://"), raw))
		if strings.Contains(out, " 101 ") {
			t.Fatalf("Upgrade: %s: the gateway relayed a switch of protocols:\n%s", upgrade, out)
		}
		for _, want := range []string{`/first upgrade="" settings="" xff=true`, `/second upgrade="" settings="" xff=true`} {
			if !strings.Contains(out, want) {
				t.Errorf("Upgrade: %s: the answers do not hold %q, each request going through the gateway without the upgrade:\n%s", upgrade, want, out)
			}
		}
	}
}
