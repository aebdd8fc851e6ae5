package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
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
// (a URL, or several quoted and separated by commas), with extra
// top-level keys, and returns it with an HTTP/2 client and an HTTP/1.1
// client for it.
func h2Gateway(t *testing.T, server, tlsExtra, extra string) (g *Gateway, h2, h1 *http.Client) {
	t.Helper()
	ca := testcert.NewCA(t, "h2")
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example", "127.0.0.1").Write(t, t.TempDir(), "gw")
	g, _ = startGateway(t, tlsGatewayConfig(server, tlsExtra, extra, certFile, keyFile))
	return g, h2Client(ca.Roots, "gw.example"), httpsClient(ca.Roots, "gw.example")
}

// TestH2Proxies checks that a client offering h2 gets HTTP/2 and that
// its requests reach the backend in HTTP/1.1 as those of HTTP/1.1 do:
// Host from :authority, X-Forwarded-For, -Proto and -Host set; and that
// tls.http2: false offers http/1.1 alone.
func TestH2Proxies(t *testing.T) {
	b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s %s|%s|%s|%s", r.Proto, r.Method, r.Host, r.RequestURI,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
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
	want := "HTTP/1.1 GET api.example:8443 /a/b?c=d|203.0.113.7, 127.0.0.1|https|api.example:8443"
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
	c, err := handshake(g.TLSAddr(), "", nil, func(c *tls.Config) {
		c.InsecureSkipVerify, c.VerifyConnection = true, nil
		c.NextProtos = []string{"h2", "http/1.1"}
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Errorf("with tls.http2 by default ALPN chose %q, want h2", p)
	}
	c.Close()
}

// TestH2Disabled checks that tls.http2: false offers http/1.1 alone, and
// that a client that offers h2 too is served in HTTP/1.1.
func TestH2Disabled(t *testing.T) {
	b := startBackend(t, "b", nil)
	g, _, h1 := h2Gateway(t, b.URL, "  http2: false\n", "")
	c, err := handshake(g.TLSAddr(), "", nil, func(c *tls.Config) {
		c.InsecureSkipVerify, c.VerifyConnection = true, nil
		c.NextProtos = []string{"h2", "http/1.1"}
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("with tls.http2: false ALPN chose %q, want http/1.1", p)
	}
	c.Close()
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
