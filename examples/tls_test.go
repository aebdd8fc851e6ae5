package examples_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// TestCLIHTTPS runs the built binary as the front door: its certificate
// and the CA of its https backend are files named relative to the config
// file; a request over TLS reaches the backend over TLS, verified against
// that CA; a certificate renamed over the old one serves new handshakes,
// recorded in /reloads with its file; and validate checks the same files.
func TestCLIHTTPS(t *testing.T) {
	front, backCA := testcert.NewCA(t, "front"), testcert.NewCA(t, "backends")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	first := front.Issue(t, testcert.ECDSA, time.Time{}, "gw.example")
	certFile, keyFile := first.Write(t, filepath.Join(dir, "tls"), "tls")
	backCA.WriteRoot(t, dir, "backend-ca.pem")
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%t proto=%s", r.TLS != nil, r.Header.Get("X-Forwarded-Proto"))
	}))
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{backCA.Issue(t, testcert.RSA, time.Time{}, "127.0.0.1").TLS(t)}}
	backend.StartTLS()
	defer backend.Close()

	listen, secure, admin := freePort(t), freePort(t), freePort(t)
	config := fmt.Sprintf(`listen: %q
admin: %q
tls:
  listen: %q
  certificates:
    - {certFile: tls/tls.crt, keyFile: tls/tls.key}
pools:
  app:
    servers: [%q]
    tls: {caFile: backend-ca.pem}
`, listen, admin, secure, backend.URL)
	runConfigIn(t, dir, "gateway.yaml", config)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: front.Roots, ServerName: "gw.example"}}}
	resp, err := client.Get("https://" + secure + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "tls=true proto=https" || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatalf("GET over TLS: %d %q", resp.StatusCode, body)
	}

	next := front.Issue(t, testcert.ECDSA, time.Time{}, "gw.example")
	testcert.WriteFile(t, keyFile+".new", next.KeyPEM)
	testcert.WriteFile(t, certFile+".new", next.CertPEM)
	os.Rename(keyFile+".new", keyFile)
	os.Rename(certFile+".new", certFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := tls.Dial("tcp", secure, &tls.Config{RootCAs: front.Roots, ServerName: "gw.example"})
		if err != nil {
			t.Fatal(err)
		}
		got := c.ConnectionState().PeerCertificates[0]
		c.Close()
		if got.Equal(next.Leaf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renamed certificate never served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err = http.Get("http://" + admin + "/reloads")
	if err != nil {
		t.Fatal(err)
	}
	var records []struct {
		Trigger, Result, File string
	}
	json.NewDecoder(resp.Body).Decode(&records)
	resp.Body.Close()
	found := false
	for _, r := range records {
		found = found || r.Trigger == "certificate" && r.Result == "applied" && (r.File == certFile || r.File == keyFile)
	}
	if !found {
		t.Errorf("/reloads %+v holds no applied certificate record naming the files", records)
	}

	if out, code := runGateway(t, "validate", filepath.Join(dir, "gateway.yaml")); code != 0 || !strings.Contains(out, ": ok (1 pools, 1 servers)") {
		t.Errorf("validate: exit %d\n%s", code, out)
	}
}

// TestCLIValidateChecksTLSFiles checks that validate reads the files a
// config names: a key that does not match its certificate is an error
// naming its key and position (exit 1), an expired certificate a warning
// (exit 0), in text and JSON.
func TestCLIValidateChecksTLSFiles(t *testing.T) {
	ca := testcert.NewCA(t, "validate")
	dir := t.TempDir()
	good, other := ca.Issue(t, testcert.ECDSA, time.Time{}, "a.example"), ca.Issue(t, testcert.ECDSA, time.Time{}, "b.example")
	good.Write(t, dir, "good")
	other.Write(t, dir, "other")
	ca.Issue(t, testcert.RSA, time.Now().Add(-time.Hour), "old.example").Write(t, dir, "expired")
	write := func(name, certs string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte("tls:\n  listen: \":8443\"\n  certificates:\n"+certs+"servers: [\"http://127.0.0.1:9\"]\n"), 0o644)
		return path
	}
	mismatch := write("mismatch.yaml", "    - {certFile: good.crt, keyFile: good.key}\n    - {certFile: good.crt, keyFile: other.key}\n")
	out, code := runGateway(t, "validate", mismatch)
	want := mismatch + ":5:37: tls.certificates[1].keyFile: the key in " + filepath.Join(dir, "other.key") +
		" does not match the certificate in " + filepath.Join(dir, "good.crt") + ` (got "other.key")`
	if code != 1 || strings.TrimSpace(out) != want {
		t.Errorf("a mismatched key: exit %d\n%s\nwant exit 1 and\n%s", code, out, want)
	}

	expired := write("expired.yaml", "    - {certFile: good.crt, keyFile: good.key}\n    - {certFile: expired.crt, keyFile: expired.key}\n")
	out, code = runGateway(t, "validate", expired)
	if code != 0 || !strings.HasPrefix(out, "warning: "+expired+":5:18: tls.certificates[1].certFile: the certificate in ") ||
		!strings.Contains(out, " expired at ") || !strings.HasSuffix(out, expired+": ok (1 pools, 1 servers)\n") {
		t.Errorf("an expired certificate: exit %d\n%s\nwant exit 0, a warning and ok", code, out)
	}
	out, code = runGateway(t, "validate", "--format", "json", expired)
	var reports []struct {
		OK       bool `json:"ok"`
		Warnings []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil || code != 0 || len(reports) != 1 || !reports[0].OK ||
		len(reports[0].Warnings) != 1 || reports[0].Warnings[0].Path != "tls.certificates[1].certFile" {
		t.Errorf("json: exit %d, %v\n%s", code, err, out)
	}
}
