package gateway

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// rotationTarget is how long a rotated certificate may take to reach new
// handshakes; the tests wait ten times as long and log what they saw.
const rotationTarget = 250 * time.Millisecond

// secretDir is a directory laid out as the kubelet mounts a Secret:
// tls.crt and tls.key link into ..data, a link to a timestamped directory
// that each update replaces by renaming a new link over it.
type secretDir struct {
	dir     string
	current string
	n       int
}

// newSecretDir lays out dir holding c.
func newSecretDir(t *testing.T, dir string, c testcert.Cert) *secretDir {
	t.Helper()
	s := &secretDir{dir: dir}
	s.current = s.writeVersion(t, c)
	must(t, os.Symlink(s.current, filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "tls.crt"), filepath.Join(dir, "tls.crt")))
	must(t, os.Symlink(filepath.Join("..data", "tls.key"), filepath.Join(dir, "tls.key")))
	return s
}

// writeVersion writes c into a new timestamped directory and returns its
// name.
func (s *secretDir) writeVersion(t *testing.T, c testcert.Cert) string {
	t.Helper()
	s.n++
	name := fmt.Sprintf("..2026_12_01_00_00_%02d.%d", s.n%60, s.n)
	must(t, os.Mkdir(filepath.Join(s.dir, name), 0o755))
	testcert.WriteFile(t, filepath.Join(s.dir, name, "tls.crt"), c.CertPEM)
	testcert.WriteFile(t, filepath.Join(s.dir, name, "tls.key"), c.KeyPEM)
	return name
}

// swap updates the Secret to c as the kubelet does.
func (s *secretDir) swap(t *testing.T, c testcert.Cert) {
	t.Helper()
	next := s.writeVersion(t, c)
	tmp := filepath.Join(s.dir, "..data_tmp")
	must(t, os.Symlink(next, tmp))
	must(t, os.Rename(tmp, filepath.Join(s.dir, "..data")))
	must(t, os.RemoveAll(filepath.Join(s.dir, s.current)))
	s.current = next
}

// paths returns the certificate and key paths the config names.
func (s *secretDir) paths() (string, string) {
	return filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key")
}

// renameInto writes data beside path and renames it over path, as an
// editor or a tool that saves atomically does.
func renameInto(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	testcert.WriteFile(t, tmp, data)
	must(t, os.Rename(tmp, path))
}

// waitServed makes handshakes with addr until one gets want, and returns
// how long after since that was; it fails the test after ten times the
// rotation target.
func waitServed(t *testing.T, addr string, roots *x509.CertPool, want *x509.Certificate, since time.Time) time.Duration {
	t.Helper()
	for {
		c, err := handshake(addr, "gw.example", roots, nil)
		if err != nil {
			t.Fatalf("handshake while waiting for the new certificate: %v", err)
		}
		got := c.ConnectionState().PeerCertificates[0]
		c.Close()
		if got.Equal(want) {
			return time.Since(since)
		}
		if time.Since(since) > 10*rotationTarget {
			t.Fatalf("new handshakes did not get the new certificate within %v", 10*rotationTarget)
		}
		time.Sleep(time.Millisecond)
	}
}

// certificateRecords returns the records of certificate reloads.
func certificateRecords(g *Gateway) []ReloadRecord {
	var out []ReloadRecord
	for _, r := range g.Reloads() {
		if r.Trigger == TriggerCertificate {
			out = append(out, r)
		}
	}
	return out
}

// tlsRunConfig is a config for the run loop with a plain listener, an
// HTTPS listener of certFile and keyFile, and an admin listener.
func tlsRunConfig(backend, certFile, keyFile string) string {
	return withAdmin(tlsGatewayConfig(backend, "", "", certFile, keyFile))
}

// TestCertificateRotation rotates the served certificate by each way a
// file is replaced: written in place, renamed over, and a Secret's
// ..data swap. New handshakes get the new certificate within the target
// of the save, while a keep-alive connection opened before goes on with
// the old one; each rotation is recorded and counted, builds no
// generation, and shows on /status and /metrics.
func TestCertificateRotation(t *testing.T) {
	ca := testcert.NewCA(t, "rotation")
	b := startBackend(t, "b", nil)
	for _, tt := range []struct {
		name   string
		layout func(t *testing.T, dir string, c testcert.Cert) (certFile, keyFile string, rotate func(testcert.Cert))
	}{
		{"in place", func(t *testing.T, dir string, c testcert.Cert) (string, string, func(testcert.Cert)) {
			certFile, keyFile := c.Write(t, dir, "tls")
			return certFile, keyFile, func(n testcert.Cert) {
				testcert.WriteFile(t, keyFile, n.KeyPEM)
				testcert.WriteFile(t, certFile, n.CertPEM)
			}
		}},
		{"rename", func(t *testing.T, dir string, c testcert.Cert) (string, string, func(testcert.Cert)) {
			certFile, keyFile := c.Write(t, dir, "tls")
			return certFile, keyFile, func(n testcert.Cert) {
				renameInto(t, keyFile, n.KeyPEM)
				renameInto(t, certFile, n.CertPEM)
			}
		}},
		{"secret swap", func(t *testing.T, dir string, c testcert.Cert) (string, string, func(testcert.Cert)) {
			s := newSecretDir(t, dir, c)
			certFile, keyFile := s.paths()
			return certFile, keyFile, func(n testcert.Cert) { s.swap(t, n) }
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old, next := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example"), ca.Issue(t, testcert.ECDSA, time.Now().Add(48*time.Hour), "gw.example")
			certFile, keyFile, rotate := tt.layout(t, t.TempDir(), old)
			r := startRun(t, tlsRunConfig(b.URL, certFile, keyFile), RunOptions{Watch: true})
			g := r.g
			held := openKeepAlive(t, g.TLSAddr(), "gw.example", ca)
			if status, _, err := held.get("/"); status != 200 || err != nil {
				t.Fatalf("before the rotation: %d %v", status, err)
			}
			gen := g.current().number

			saved := time.Now()
			rotate(next)
			took := waitServed(t, g.TLSAddr(), ca.Roots, next.Leaf, saved)
			t.Logf("new handshakes got the new certificate %v after the save", took.Round(time.Millisecond))
			for i := range 3 {
				if status, _, err := held.get("/"); status != 200 || err != nil {
					t.Fatalf("request %d on the connection opened before: %d %v", i, status, err)
				}
			}
			if !held.c.ConnectionState().PeerCertificates[0].Equal(old.Leaf) {
				t.Error("the connection opened before changed certificate")
			}

			waitUntil(t, "a certificate record", func() bool { return len(certificateRecords(g)) > 0 })
			recs := certificateRecords(g)
			last := recs[len(recs)-1]
			if last.Result != ResultApplied || (last.File != certFile && last.File != keyFile) || last.Generation != gen {
				t.Errorf("records %+v, want the last applied, naming a file of the pair, with generation %d", recs, gen)
			}
			if tt.name == "secret swap" && len(recs) != 1 {
				t.Errorf("a swap made %d records, want one: %+v", len(recs), recs)
			}
			if g.current().number != gen {
				t.Errorf("the rotation built generation %d", g.current().number)
			}
			fams := scrape(t, g)
			if v, _ := sampleValue(fams, "gateway_config_reloads_total", "trigger", "certificate", "result", "applied"); v < 1 {
				t.Errorf("gateway_config_reloads_total{trigger=certificate,result=applied} = %v", v)
			}
			if v, ok := sampleValue(fams, "gateway_tls_certificate_last_reload_successful", "certFile", certFile); !ok || v != 1 {
				t.Errorf("gateway_tls_certificate_last_reload_successful = %v, %v; want 1", v, ok)
			}
			if v, ok := sampleValue(fams, "gateway_tls_certificate_expiry_timestamp_seconds", "certFile", certFile, "subject", "CN=gw.example"); !ok || int64(v) != next.Leaf.NotAfter.Unix() {
				t.Errorf("gateway_tls_certificate_expiry_timestamp_seconds = %v, %v; want %d", v, ok, next.Leaf.NotAfter.Unix())
			}
			if v, _ := sampleValue(fams, "gateway_config_last_reload_successful"); v != 1 {
				t.Errorf("gateway_config_last_reload_successful = %v after a certificate reload", v)
			}
			status := adminStatus(t, g)
			if len(status.Certificates) != 1 || status.Certificates[0].SHA256 != fingerprint(next.Leaf) ||
				!status.Certificates[0].NotAfter.Equal(next.Leaf.NotAfter) || status.Certificates[0].Names[0] != "gw.example" {
				t.Errorf("/status certificates %+v, want the new one", status.Certificates)
			}
		})
	}
}

// fingerprint returns the hex SHA-256 of c.
func fingerprint(c *x509.Certificate) string {
	return hashOf(c.Raw)
}

// TestCertificateRotationRejected saves what cannot be served: a key of
// another certificate, garbage, a half-written chain. Each is rejected
// and recorded, the previous certificate serves on, and the metric and
// /status say so until a good save. A key and a certificate written one
// after the other, each picked up on its own, make one rejected attempt
// (the moment between) and one applied, and no client ever sees the old
// certificate again once it has seen the new one. Each save renames a
// whole file into place, so that the number of attempts is exact: an
// in-place write that the watcher happened to see half done would be an
// attempt of its own (rejected, as it should be).
func TestCertificateRotationRejected(t *testing.T) {
	ca := testcert.NewCA(t, "rejected")
	b := startBackend(t, "b", nil)
	dir := t.TempDir()
	old, next := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example"), ca.Issue(t, testcert.RSA, time.Time{}, "gw.example")
	certFile, keyFile := old.Write(t, dir, "tls")
	r := startRun(t, tlsRunConfig(b.URL, certFile, keyFile), RunOptions{Watch: true})
	g := r.g

	// Clients make handshakes all along: none fails, and none gets the
	// old certificate after one got the new.
	var (
		stop            atomic.Bool
		failures, flaps atomic.Int64
		handshakes      atomic.Int64
		wg              sync.WaitGroup
		firstNew        atomic.Int64 // Unix nanoseconds of the first handshake that got the new certificate
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				start := time.Now().UnixNano()
				c, err := handshake(g.TLSAddr(), "gw.example", ca.Roots, nil)
				if err != nil {
					failures.Add(1)
					continue
				}
				handshakes.Add(1)
				got := c.ConnectionState().PeerCertificates[0]
				c.Close()
				switch {
				case got.Equal(next.Leaf):
					firstNew.CompareAndSwap(0, time.Now().UnixNano())
				case firstNew.Load() != 0 && start > firstNew.Load():
					flaps.Add(1)
				}
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	reject := func(what, file string, data []byte, msg string) {
		t.Helper()
		n := len(certificateRecords(g))
		renameInto(t, file, data)
		// The write may reach the watcher as more than one event; the
		// record of the last says what the file holds.
		waitUntil(t, "the record of "+what, func() bool {
			recs := certificateRecords(g)
			return len(recs) > n && recs[len(recs)-1].File == file && strings.Contains(recs[len(recs)-1].Error, msg)
		})
		recs := certificateRecords(g)
		if rec := recs[len(recs)-1]; rec.Result != ResultRejected || rec.File != file || !strings.Contains(rec.Error, msg) || rec.Generation != 0 {
			t.Fatalf("%s: record %+v, want rejected naming %s and saying %q", what, rec, file, msg)
		}
		if got := servedLeaf(t, g.TLSAddr(), "gw.example", ca.Roots); !got.Equal(old.Leaf) {
			t.Fatalf("%s: the old certificate stopped serving", what)
		}
		if v, _ := sampleValue(scrape(t, g), "gateway_tls_certificate_last_reload_successful", "certFile", certFile); v != 0 {
			t.Errorf("%s: gateway_tls_certificate_last_reload_successful = %v, want 0", what, v)
		}
		if s := adminStatus(t, g).Certificates; len(s) != 1 || !strings.Contains(s[0].ReloadError, msg) || s[0].SHA256 != fingerprint(old.Leaf) {
			t.Errorf("%s: /status certificates %+v, want the old one with the error", what, s)
		}
	}
	reject("a key of another certificate", keyFile, next.KeyPEM, "does not match")
	reject("garbage", keyFile, []byte("garbage\n"), "no usable private key")
	// Cut in the intermediate, past a whole leaf: without its intermediate
	// the chain would load, shorter, and fail clients.
	leafEnd := bytes.Index(old.CertPEM, []byte("-----END CERTIFICATE-----\n")) + len("-----END CERTIFICATE-----\n")
	reject("a half-written chain", certFile, old.CertPEM[:leafEnd+(len(old.CertPEM)-leafEnd)/2], "cut short")

	// Saving the running content again is recorded as unchanged, which
	// clears the failure.
	n := len(certificateRecords(g))
	renameInto(t, certFile, old.CertPEM)
	waitUntil(t, "the record of the certificate saved back", func() bool { return len(certificateRecords(g)) > n })
	if rec := certificateRecords(g)[n]; rec.Result != ResultRejected || rec.File != certFile {
		// The key is still garbage: the pair cannot be used yet.
		t.Fatalf("the certificate saved back beside a garbage key: %+v, want rejected", rec)
	}
	n = len(certificateRecords(g))
	renameInto(t, keyFile, old.KeyPEM)
	waitUntil(t, "the record of the key saved back", func() bool { return len(certificateRecords(g)) > n })
	if rec := certificateRecords(g)[n]; rec.Result != ResultUnchanged || rec.Generation != g.current().number {
		t.Fatalf("the running pair saved back: %+v, want unchanged", rec)
	}
	if v, _ := sampleValue(scrape(t, g), "gateway_tls_certificate_last_reload_successful", "certFile", certFile); v != 1 {
		t.Errorf("gateway_tls_certificate_last_reload_successful = %v after the good save, want 1", v)
	}

	// A tool that writes the key, then the certificate.
	reject("the new key before the new certificate", keyFile, next.KeyPEM, "does not match")
	n = len(certificateRecords(g))
	saved := time.Now()
	renameInto(t, certFile, next.CertPEM)
	took := waitServed(t, g.TLSAddr(), ca.Roots, next.Leaf, saved)
	t.Logf("the pair completed by the certificate served %v after its save", took.Round(time.Millisecond))
	waitUntil(t, "the record of the new certificate", func() bool { return len(certificateRecords(g)) > n })
	if rec := certificateRecords(g)[n]; rec.Result != ResultApplied || rec.File != certFile {
		t.Fatalf("the certificate that completes the pair: %+v, want applied", rec)
	}
	// A few more handshakes, then the verdict.
	seen := handshakes.Load()
	waitUntil(t, "more handshakes", func() bool { return handshakes.Load() > seen+20 })
	stop.Store(true)
	wg.Wait()
	if failures.Load() != 0 || flaps.Load() != 0 {
		t.Errorf("%d handshakes failed and %d got the old certificate after the new one, of %d", failures.Load(), flaps.Load(), handshakes.Load())
	}
	// Five saves were rejected. The watcher may deliver a save twice (it
	// leaves recognising a repeat to the gateway, which tries a rejected
	// content again), so the metric must count what /reloads recorded,
	// and at least the five.
	rejected := 0
	for _, rec := range certificateRecords(g) {
		if rec.Result == ResultRejected {
			rejected++
		}
	}
	if v, _ := sampleValue(scrape(t, g), "gateway_config_reloads_total", "trigger", "certificate", "result", "rejected"); v != float64(rejected) || rejected < 5 {
		t.Errorf("gateway_config_reloads_total{trigger=certificate,result=rejected} = %v, with %d rejected records, want them equal and at least 5", v, rejected)
	}
}

// TestCertificateRotationUnderHandshakes rotates the certificate by
// Secret swaps 50 times (GATEWAY_LONG=1: 500) while clients make
// handshake after handshake: none fails, each rotation is applied once,
// and the last certificate is what new handshakes get.
func TestCertificateRotationUnderHandshakes(t *testing.T) {
	rotations := 50
	if os.Getenv("GATEWAY_LONG") != "" {
		rotations = 500
	}
	ca := testcert.NewCA(t, "hammer")
	certs := make([]testcert.Cert, rotations+1)
	for i := range certs {
		certs[i] = ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example")
	}
	b := startBackend(t, "b", nil)
	s := newSecretDir(t, t.TempDir(), certs[0])
	certFile, keyFile := s.paths()
	r := startRun(t, tlsRunConfig(b.URL, certFile, keyFile), RunOptions{Watch: true})
	g := r.g

	var (
		stop                 atomic.Bool
		handshakes, failures atomic.Int64
		firstErr             atomic.Pointer[error]
		wg                   sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				c, err := handshake(g.TLSAddr(), "gw.example", ca.Roots, func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 })
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				c.Close()
				handshakes.Add(1)
			}
		}()
	}
	var slowest time.Duration
	for i := 1; i <= rotations; i++ {
		saved := time.Now()
		s.swap(t, certs[i])
		slowest = max(slowest, waitServed(t, g.TLSAddr(), ca.Roots, certs[i].Leaf, saved))
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d rotations under %d handshakes; the slowest reached new handshakes %v after its swap", rotations, handshakes.Load(), slowest.Round(time.Millisecond))
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d handshakes failed; the first: %v", n, handshakes.Load()+n, *firstErr.Load())
	}
	applied := 0
	for _, rec := range certificateRecords(g) {
		if rec.Result != ResultApplied {
			t.Errorf("record %+v, want every rotation applied", rec)
		}
		applied++
	}
	// /reloads keeps the last 20 of each source.
	if applied != min(rotations, reloadHistory) {
		t.Errorf("%d certificate records kept, want %d", applied, min(rotations, reloadHistory))
	}
	if v, _ := sampleValue(scrape(t, g), "gateway_config_reloads_total", "trigger", "certificate", "result", "applied"); int(v) != rotations {
		t.Errorf("gateway_config_reloads_total{trigger=certificate,result=applied} = %v, want %d", v, rotations)
	}
}

// TestCertificateSignalRecordsNothing sends SIGHUP to a gateway serving
// TLS files that did not change: the config file's attempt is recorded as
// unchanged, and the TLS files, read again, record nothing, so that a tool
// that sends HUP on every deploy never pushes the certificates' last
// errors out of /reloads.
func TestCertificateSignalRecordsNothing(t *testing.T) {
	ca := testcert.NewCA(t, "signal")
	b := startBackend(t, "b", nil)
	certFile, keyFile := ca.Issue(t, testcert.ECDSA, time.Time{}, "gw.example").Write(t, t.TempDir(), "tls")
	r := startRun(t, tlsRunConfig(b.URL, certFile, keyFile), RunOptions{Watch: true})
	for range 3 {
		signal(r.hup, syscall.SIGHUP)
		// The config file, the certificate and the key are read again.
		seen := map[string]bool{}
		for len(seen) < 3 {
			seen[r.read(t).Path] = true
		}
	}
	if recs := certificateRecords(r.g); len(recs) != 0 {
		t.Errorf("SIGHUPs of unchanged TLS files recorded %+v, want nothing", recs)
	}
	signals := 0
	for _, rec := range r.g.Reloads() {
		if rec.Trigger == TriggerSignal && rec.Result == ResultUnchanged {
			signals++
		}
	}
	if signals != 3 {
		t.Errorf("%d unchanged signal records of the config file, want 3", signals)
	}
}
