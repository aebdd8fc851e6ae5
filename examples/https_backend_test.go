package examples_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// privateCA returns a CA certificate, written to a PEM file whose path it
// returns, and a server certificate it signed for 127.0.0.1 and
// localhost.
func privateCA(t *testing.T) (caFile string, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gateway test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "backend"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}

// TestCLIHTTPSBackend proxies to an https backend whose certificate a
// private CA signed, trusted through SSL_CERT_FILE, which Go reads once
// per process: hence the built binary. Requests and probes both reach it.
func TestCLIHTTPSBackend(t *testing.T) {
	caFile, cert := privateCA(t)
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
