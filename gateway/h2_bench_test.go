package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// BenchmarkH2Proxy measures proxied GETs from an HTTP/2 client, 16
// streams at a time on one connection, over loopback TLS, client and
// backend included: the HTTP/2 front's cost beside the data path's.
func BenchmarkH2Proxy(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "b0\n")
	}))
	defer backend.Close()
	ca := testcert.NewCA(b, "bench")
	certFile, keyFile := ca.Issue(b, testcert.ECDSA, time.Time{}, "gw.example").Write(b, b.TempDir(), "gw")
	g := New(Options{})
	if _, err := g.Load("bench.yaml", []byte(tlsGatewayConfig(backend.URL, "", "", certFile, keyFile)), TriggerStart); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	}()
	client := h2Client(ca.Roots, "gw.example")
	url := "https://" + g.TLSAddr() + "/"
	get := func() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != 3 || resp.ProtoMajor != 2 {
			b.Fatalf("%s %d, %d bytes", resp.Proto, resp.StatusCode, n)
		}
	}
	get()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			get()
		}
	})
}
