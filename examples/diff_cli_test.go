package examples_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// writeFiles writes each name's content into a new directory and
// returns the directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runGatewayOut runs the gateway command and returns its standard
// output and error apart, and its exit status.
func runGatewayOut(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(gatewayBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// TestCLIDiffExitCodes checks diff(1)'s exit statuses: 0 for the same
// effective config written otherwise, 1 for a change, 2 for an invalid
// file, whose problems are printed exactly as validate prints them, and
// 2 for an admin listener that does not answer.
func TestCLIDiffExitCodes(t *testing.T) {
	const old = "listen: 127.0.0.1:8080\npools:\n  api:\n    servers: [http://10.0.0.1:80, http://10.0.0.2:80]\n"
	dir := writeFiles(t, map[string]string{
		"old.yaml":  old,
		"same.json": `{"listen": "127.0.0.1:8080", "pools": {"api": {"algorithm": "round_robin", "servers": ["http://10.0.0.1:80", {"url": "http://10.0.0.2:80", "weight": 1}]}}, "routes": [{"pool": "api"}]}`,
		"new.yaml":  strings.Replace(old, "http://10.0.0.2:80", "http://10.0.0.3:80", 1),
		"bad.yaml":  "listen: 127.0.0.1:8080\npools:\n  api:\n    algoritm: round_robin\n    servers: [10.0.0.1]\n",
	})
	path := func(name string) string { return filepath.Join(dir, name) }

	out, errOut, code := runGatewayOut(t, nil, "diff", path("old.yaml"), path("same.json"))
	if code != 0 || !strings.HasPrefix(out, "no change") {
		t.Errorf("the same config in JSON: exit %d, want 0:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runGatewayOut(t, nil, "diff", path("old.yaml"), path("new.yaml"))
	if code != 1 || !strings.Contains(out, "added    http://10.0.0.3:80") || !strings.Contains(out, "removed  http://10.0.0.2:80") ||
		!strings.Contains(out, "backends: 1 carried, 1 added, 1 removed\n") {
		t.Errorf("a backend replaced: exit %d, want 1:\n%s%s", code, out, errOut)
	}

	validated, _, vcode := runGatewayOut(t, nil, "validate", path("bad.yaml"))
	if vcode != 1 || strings.Count(validated, "\n") != 2 {
		t.Fatalf("validate bad.yaml: exit %d, want 1 with two problems:\n%s", vcode, validated)
	}
	for _, args := range [][]string{{path("old.yaml"), path("bad.yaml")}, {path("bad.yaml"), path("old.yaml")}, {path("bad.yaml")}} {
		out, errOut, code = runGatewayOut(t, nil, append([]string{"diff"}, args...)...)
		if code != 2 || out != validated {
			t.Errorf("diff %v: exit %d, want 2 and the problems as validate prints them:\n%s\nwant\n%s%s", args, code, out, validated, errOut)
		}
	}
	_, errOut, code = runGatewayOut(t, []string{"GATEWAY_ADMIN=" + freePort(t)}, "diff", path("new.yaml"))
	if code != 2 || !strings.Contains(errOut, "gateway diff:") {
		t.Errorf("an admin listener that does not answer: exit %d, want 2:\n%s", code, errOut)
	}
	_, _, code = runGatewayOut(t, nil, "diff", "--format", "yaml", path("old.yaml"), path("new.yaml"))
	if code != 2 {
		t.Errorf("--format yaml: exit %d, want 2", code)
	}
}

// TestCLIDiffJSON checks that a program can consume --format json: one
// object with every documented field, typed as documented, for a valid
// and an invalid pair.
func TestCLIDiffJSON(t *testing.T) {
	const old = "listen: 127.0.0.1:8080\npools:\n  api:\n    servers: [http://10.0.0.1:80, http://10.0.0.2:80]\n"
	dir := writeFiles(t, map[string]string{
		"old.yaml": old,
		"new.yaml": strings.Replace(old, "http://10.0.0.2:80]", "http://10.0.0.3:80]\n    algorithm: least_connections", 1),
		"bad.yaml": "pools: {}\n",
	})
	out, _, code := runGatewayOut(t, nil, "diff", "--format", "json", filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml"))
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	type field struct{ Key, From, To, Effect string }
	type change struct {
		Change, Action, From, To string
		Fields                   []field
	}
	var r struct {
		Valid, Changed, Live bool
		Backends             struct{ Carried, Added, Removed int }
		Listener, Admin, TLS change
		AccessLog            change `json:"accessLog"`
		Settings             []field
		Pools                []struct {
			Name, Change string
			Fields       []field
			Backends     []struct {
				URL, Change string
				Health      *string
				InFlight    *int64 `json:"inFlight"`
				Settings    []field
			}
		}
		Routes []struct {
			Name, Change string
			Index        int
			Fields       []field
		}
		DNS struct {
			Change string
			Fields []field
			Names  []struct{ Name, Change string }
		} `json:"dns"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if !r.Valid || !r.Changed || r.Live || r.Backends.Carried != 1 || r.Backends.Added != 1 || r.Backends.Removed != 1 {
		t.Fatalf("valid %v changed %v live %v backends %+v:\n%s", r.Valid, r.Changed, r.Live, r.Backends, out)
	}
	if r.Listener.Change != "unchanged" || r.Listener.Action != "keep" || r.TLS.Action != "none" || r.AccessLog.Action != "none" || r.DNS.Change != "unchanged" {
		t.Fatalf("listener %+v tls %+v accessLog %+v dns %+v", r.Listener, r.TLS, r.AccessLog, r.DNS)
	}
	if len(r.Pools) != 1 || r.Pools[0].Change != "changed" || len(r.Pools[0].Fields) != 1 ||
		r.Pools[0].Fields[0] != (field{"algorithm", "round_robin", "least_connections", "rotation restarts"}) {
		t.Fatalf("pools %+v", r.Pools)
	}
	var changes []string
	for _, b := range r.Pools[0].Backends {
		changes = append(changes, b.URL+" "+b.Change)
		if b.Health != nil || b.InFlight != nil {
			t.Errorf("offline, backend %s has health %v and inFlight %v; want null", b.URL, b.Health, b.InFlight)
		}
	}
	if got := strings.Join(changes, ", "); got != "http://10.0.0.1:80 carried, http://10.0.0.3:80 added, http://10.0.0.2:80 removed" {
		t.Fatalf("backends %s", got)
	}
	if len(r.Routes) != 1 || r.Routes[0].Name != "routes[0]" || r.Routes[0].Change != "unchanged" {
		t.Fatalf("routes %+v", r.Routes)
	}

	out, _, code = runGatewayOut(t, nil, "diff", "--format", "json", filepath.Join(dir, "old.yaml"), filepath.Join(dir, "bad.yaml"))
	var invalid struct {
		Valid    bool
		Changed  bool
		Problems []struct {
			File    string
			Line    int
			Message string
		}
	}
	if err := json.Unmarshal([]byte(out), &invalid); err != nil || code != 2 || invalid.Valid || len(invalid.Problems) == 0 ||
		invalid.Problems[0].File != filepath.Join(dir, "bad.yaml") {
		t.Fatalf("an invalid file: exit %d, %v, %+v:\n%s", code, err, invalid, out)
	}
}

// TestCLIDiffAdmin runs diff with one file against a running gateway
// process, at $GATEWAY_ADMIN and with --admin: the same config in
// another spelling exits 0, a removed backend exits 1 with its live
// state, and the JSON says it is live.
func TestCLIDiffAdmin(t *testing.T) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(a.Close)
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(b.Close)
	listen, admin := freePort(t), freePort(t)
	running := fmt.Sprintf("listen: %s\nadmin: %s\npools:\n  web:\n    servers: [%s, %s]\n", listen, admin, a.URL, b.URL)
	dir := t.TempDir()
	runConfigIn(t, dir, "gateway.yaml", running)
	files := writeFiles(t, map[string]string{
		"same.yaml": "# a comment\n" + strings.Replace(running, "web:\n", "web:\n    algorithm: round_robin\n", 1),
		"new.yaml":  strings.Replace(running, ", "+b.URL, "", 1),
	})

	out, errOut, code := runGatewayOut(t, []string{"GATEWAY_ADMIN=" + admin}, "diff", filepath.Join(files, "same.yaml"))
	if code != 0 || !strings.HasPrefix(out, "no change") {
		t.Errorf("the running config in another spelling: exit %d, want 0:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runGatewayOut(t, nil, "diff", "--admin", admin, filepath.Join(files, "new.yaml"))
	if code != 1 || !strings.Contains(out, "  carried  "+a.URL+": state kept (up, 0 in flight)\n") ||
		!strings.Contains(out, "  removed  "+b.URL+": 0 requests in flight will finish (up)\n") {
		t.Errorf("a backend removed: exit %d, want 1 and both backends' live state:\n%s%s", code, out, errOut)
	}
	out, _, code = runGatewayOut(t, nil, "diff", "--admin", "http://"+admin, "--format", "json", filepath.Join(files, "new.yaml"))
	var r struct {
		Live     bool
		Backends struct{ Carried, Added, Removed int }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || !r.Live || r.Backends.Carried != 1 || r.Backends.Removed != 1 {
		t.Errorf("--format json: exit %d, %v, %+v:\n%s", code, err, r, out)
	}
}

// TestCLIDiffRelativePaths checks diff where the config is named by a
// relative path and names its certificate by relative paths: offline it
// reads the certificate from any working directory, and against the
// gateway that serves that very file (started from the same directory)
// it finds no change and exits 0.
func TestCLIDiffRelativePaths(t *testing.T) {
	dir := t.TempDir()
	cert := testcert.NewCA(t, "diff").Issue(t, testcert.ECDSA, time.Time{}, "a.example")
	cert.Write(t, dir, "a")
	listen, tlsListen, admin := freePort(t), freePort(t), freePort(t)
	config := fmt.Sprintf("listen: %s\nadmin: %s\ntls:\n  listen: %s\n  certificates: [{certFile: a.crt, keyFile: a.key}]\nservers: [http://127.0.0.1:9]\n", listen, admin, tlsListen)
	for _, name := range []string{"gw.yaml", "d_cert.yaml"} {
		testcert.WriteFile(t, filepath.Join(dir, name), []byte(config))
	}
	diff := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(gatewayBinary(t), append([]string{"diff"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	sum := sha256.Sum256(cert.Leaf.Raw)
	fingerprint := hex.EncodeToString(sum[:])
	// certificates returns the certificates of diff's JSON as
	// "certFile change before after".
	certificates := func(out string) string {
		t.Helper()
		var r struct {
			TLS struct {
				Certificates []struct {
					CertFile, Change string
					Before, After    *struct{ SHA256 string }
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		var lines []string
		for _, c := range r.TLS.Certificates {
			sha := func(i *struct{ SHA256 string }) string {
				if i == nil {
					return "unknown"
				}
				return i.SHA256
			}
			lines = append(lines, strings.Join([]string{c.CertFile, c.Change, sha(c.Before), sha(c.After)}, " "))
		}
		return strings.Join(lines, "\n")
	}
	want := filepath.Join(dir, "a.crt") + " unchanged " + fingerprint + " " + fingerprint

	out, code := diff("gw.yaml", "d_cert.yaml")
	if code != 0 || !strings.HasPrefix(out, "no change: applying NEW over OLD would change nothing\n") {
		t.Errorf("offline, relative paths: exit %d, want 0:\n%s", code, out)
	}
	for _, args := range [][]string{{"gw.yaml", "d_cert.yaml"}, {"./gw.yaml", "./d_cert.yaml"}} {
		out, code = diff(append([]string{"--format", "json"}, args...)...)
		if got := certificates(out); code != 0 || got != want {
			t.Errorf("offline %v: exit %d, certificates\n%s\nwant 0 and\n%s", args, code, got, want)
		}
	}

	run := exec.Command(gatewayBinary(t), "run", "--config", "gw.yaml")
	run.Dir = dir
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		run.Process.Kill()
		run.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + admin + "/config"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not serve /config within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, code = diff("--admin", admin, "gw.yaml")
	if code != 0 || !strings.HasPrefix(out, "no change: the running generation would serve on\n") {
		t.Errorf("--admin with the file being served: exit %d, want 0:\n%s", code, out)
	}
	out, code = diff("--admin", admin, "--format", "json", "gw.yaml")
	if got := certificates(out); code != 0 || got != want {
		t.Errorf("--admin --format json with the file being served: exit %d, certificates\n%s\nwant 0 and\n%s", code, got, want)
	}
}
