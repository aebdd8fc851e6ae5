package examples_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// TestCLIHTTPSBackend proxies to an https backend whose certificate a
// private CA signed, trusted through SSL_CERT_FILE, which Go reads once
// per process: hence the built binary. Requests and probes both reach it.
func TestCLIHTTPSBackend(t *testing.T) {
	ca := testcert.NewCA(t, "gateway test")
	caFile := ca.WriteRoot(t, t.TempDir(), "ca.pem")
	cert := ca.Issue(t, testcert.ECDSA, time.Time{}, "localhost", "127.0.0.1").TLS(t)
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		fmt.Fprintf(w, "tls=%t host=%s", r.TLS != nil, r.Host)
	}))
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	backend.StartTLS()
	defer backend.Close()

	listen, admin := freePort(t), freePort(t)
	runConfig(t, "gateway.yaml", fmt.Sprintf(`listen: %q
admin: %q
healthCheck: {path: /health, interval: 50ms}
servers: [%q]
`, listen, admin, backend.URL), "SSL_CERT_FILE="+caFile)

	// The probes pass: the backend is up after three of them in a row.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status := fetchStatus(t, admin)
		if b := status.Pools[0].Backends[0]; b.ConsecutivePasses >= 3 && b.Healthy && b.LastResult == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the https backend's probes did not pass: %+v", status.Pools[0].Backends[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 3 {
		resp, err := http.Get("http://" + listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "tls=true host=" + listen; resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
	if b := fetchStatus(t, admin).Pools[0].Backends[0]; b.Failures != 0 || b.Requests != 3 {
		t.Fatalf("backend state %+v, want 3 requests and no failure", b)
	}
}

// backendState is what the test reads of a backend on /status.
type backendState struct {
	Healthy           bool   `json:"healthy"`
	LastResult        string `json:"lastResult"`
	ConsecutivePasses int    `json:"consecutivePasses"`
	Requests          uint64 `json:"requests"`
	Failures          uint64 `json:"failures"`
}

// fetchStatus reads /status from the admin listener at addr.
func fetchStatus(t *testing.T, addr string) (s struct {
	Pools []struct {
		Backends []backendState `json:"backends"`
	} `json:"pools"`
}) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || len(s.Pools) != 1 || len(s.Pools[0].Backends) != 1 {
		t.Fatalf("/status: %+v, %v", s, err)
	}
	return s
}
