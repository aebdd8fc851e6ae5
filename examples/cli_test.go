package examples_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// gatewayBinary builds the gateway command once for the CLI tests, the
// way a user would: `go build` at the module root.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gateway-cli")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "gateway")
		out, err := exec.Command("go", "build", "-o", binary, "..").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func runGateway(t *testing.T, args ...string) (stdout string, code int) {
	t.Helper()
	cmd := exec.Command(gatewayBinary(t), args...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

func TestCLIValidateAcceptsExamples(t *testing.T) {
	out, code := runGateway(t, "validate", "seed.json", "gateway.yaml", "full.yaml", "demo.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "seed.json: ok (1 pools, 2 servers)\n") {
		t.Fatalf("output lacks the seed's ok line:\n%s", out)
	}
	if n := strings.Count(out, ": ok ("); n != 4 {
		t.Fatalf("%d ok lines, want 4:\n%s", n, out)
	}
}

func TestCLIValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: \":8080\"\npools:\n  api:\n    algorithm: fastest\n    servers: [\"ftp://x\"]\n    healthCheck:\n      intreval: 2s\n"), 0o644)
	out, code := runGateway(t, "validate", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{bad + ":4:", "pools.api.algorithm", bad + ":5:", "ftp", "healthCheck.intreval"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, code = runGateway(t, "validate", "--format", "json", bad, "seed.json")
	if code != 1 {
		t.Fatalf("json: exit %d, want 1", code)
	}
	var reports []struct {
		File     string `json:"file"`
		OK       bool   `json:"ok"`
		Pools    int    `json:"pools"`
		Servers  int    `json:"servers"`
		Problems []struct {
			Line    int    `json:"line"`
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if len(reports) != 2 || reports[0].OK || len(reports[0].Problems) < 3 || !reports[1].OK || reports[1].Servers != 2 {
		t.Fatalf("json reports = %+v", reports)
	}
}

// TestCLIValidateResolve checks that validate looks names up only when
// asked to, and that a name without an address is then a problem.
func TestCLIValidateResolve(t *testing.T) {
	down, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resolver := down.LocalAddr().String()
	down.Close() // a resolver that refuses every query
	file := filepath.Join(t.TempDir(), "resolved.yaml")
	os.WriteFile(file, []byte(`dns: {resolvers: ["`+resolver+`"], timeout: 1s}
pools:
  app:
    servers:
      - {url: "http://app.default.svc.cluster.local:8080", resolve: true}
`), 0o644)
	if out, code := runGateway(t, "validate", file); code != 0 || out != file+": ok (1 pools, 1 servers)\n" {
		t.Fatalf("validate without --resolve: exit %d, output %q; want 0 and the ok line: it checks the file offline", code, out)
	}
	out, code := runGateway(t, "validate", "--resolve", file)
	want := file + ": app.default.svc.cluster.local resolves to no address: lookup app.default.svc.cluster.local on " + resolver + ": "
	if code != 1 || !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 1 {
		t.Fatalf("validate --resolve: exit %d, output %q; want 1 and one line starting %q", code, out, want)
	}
	out, code = runGateway(t, "validate", "--resolve", "--format", "json", file)
	var reports []struct {
		OK       bool `json:"ok"`
		Resolved []struct {
			Name      string   `json:"name"`
			Addresses []string `json:"addresses"`
			Error     string   `json:"error"`
		} `json:"resolved"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if code != 1 || len(reports) != 1 || reports[0].OK || len(reports[0].Resolved) != 1 ||
		reports[0].Resolved[0].Name != "app.default.svc.cluster.local" || reports[0].Resolved[0].Error == "" {
		t.Fatalf("validate --resolve --format json: exit %d, %+v", code, reports)
	}
}

// TestCLIValidateNamesUnreadableFileOnce checks that a file validate
// cannot read is one problem that names the file once.
func TestCLIValidateNamesUnreadableFileOnce(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	for _, tt := range []struct{ path, want string }{
		{missing, missing + ": cannot read: no such file or directory\n"},
		{dir, dir + ": cannot read: is a directory\n"},
	} {
		out, code := runGateway(t, "validate", tt.path)
		if code != 1 || out != tt.want {
			t.Errorf("validate %s: exit %d, output %q; want 1 and %q", tt.path, code, out, tt.want)
		}
	}
}

func TestCLIRunRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"port": ":8080", "servers": []}`), 0o644)
	out, code := runGateway(t, "run", "--config", bad)
	if code == 0 || !strings.Contains(out, "servers") {
		t.Fatalf("exit %d, output:\n%s\nwant non-zero naming servers", code, out)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCLIRunDrainsOnSIGTERM starts `gateway run` on the seed config format,
// sends SIGTERM while a slow request is in flight, and expects the request
// to complete and the process to exit 0.
func TestCLIRunDrainsOnSIGTERM(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	}))
	defer backend.Close()
	listen, cmd := startGatewayProcess(t, backend.URL)

	result := getLater("http://" + listen + "/slow")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached the backend")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	// New connections are refused once draining has begun, while the slow
	// request is still in flight.
	waitRefused(t, listen)
	close(release)
	if got := <-result; got != "200 done" {
		t.Fatalf("in-flight request got %q, want 200 done", got)
	}
	waitExit(t, cmd, 0)
}

// TestCLIRunIgnoresSIGHUPDuringDrain sends SIGTERM with 20 slow requests
// in flight, then SIGHUPs: a reload signal does not end the drain (only a
// second SIGTERM or SIGINT does), every request gets its 200, and the
// process exits 0.
func TestCLIRunIgnoresSIGHUPDuringDrain(t *testing.T) {
	const slow = 20
	release, started := make(chan struct{}), make(chan struct{}, slow)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	}))
	defer backend.Close()
	defer close(release)
	listen, cmd := startGatewayProcess(t, backend.URL)
	results := make([]<-chan string, slow)
	for i := range results {
		results[i] = getLater("http://" + listen + "/slow")
		<-started
	}
	cmd.Process.Signal(syscall.SIGTERM)
	waitRefused(t, listen)
	for range 3 {
		cmd.Process.Signal(syscall.SIGHUP)
	}
	release <- struct{}{} // one request finishes while the signals are handled
	for range slow - 1 {
		release <- struct{}{}
	}
	for _, result := range results {
		if got := <-result; got != "200 done" {
			t.Fatalf("a request in flight got %q, want 200 done", got)
		}
	}
	waitExit(t, cmd, 0)
}

// getLater sends a GET for url from a goroutine of its own and delivers
// "STATUS BODY", or the error, on the channel it returns.
func getLater(url string) <-chan string {
	out := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	return out
}

// TestCLIRunSIGTERMAfterSIGHUPFlood sends tens of thousands of SIGHUPs and
// then a SIGTERM: the SIGHUPs make at most one pending reload each time,
// and the SIGTERM is never lost.
func TestCLIRunSIGTERMAfterSIGHUPFlood(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	for trial := range 3 {
		_, cmd := startGatewayProcess(t, backend.URL)
		for range 20000 {
			cmd.Process.Signal(syscall.SIGHUP)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		start := time.Now()
		waitExit(t, cmd, 0)
		t.Logf("trial %d: exited %v after the SIGTERM", trial, time.Since(start))
	}
}

// waitRefused waits until addr refuses connections: the gateway drains.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts connections while draining")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for cmd to exit with code, failing the test on another
// code or after 10 seconds.
func waitExit(t *testing.T, cmd *exec.Cmd, code int) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("gateway: %v", err)
		}
		if got != code {
			t.Fatalf("gateway exited with %d, want %d", got, code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit within 10s")
	}
}

// startGatewayProcess runs `gateway run` on a seed-format config for the
// given backends and returns its address and process.
func startGatewayProcess(t *testing.T, servers ...string) (string, *exec.Cmd) {
	t.Helper()
	listen := freePort(t)
	quoted := make([]string, len(servers))
	for i, s := range servers {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	cmd := runConfig(t, "config.json", fmt.Sprintf(`{"port": %q, "healthCheckInterval": "2s", "servers": [%s]}`, listen, strings.Join(quoted, ", ")))
	return listen, cmd
}

// runConfig runs `gateway run` on config, written to a file called name,
// with env added to the process's environment, and returns once the
// gateway serves.
func runConfig(t *testing.T, name, config string, env ...string) *exec.Cmd {
	t.Helper()
	return runConfigIn(t, t.TempDir(), name, config, env...)
}

// runConfigIn is runConfig with the config file in dir, beside the files
// it names.
func runConfigIn(t *testing.T, dir, name, config string, env ...string) *exec.Cmd {
	t.Helper()
	cfg := filepath.Join(dir, name)
	os.WriteFile(cfg, []byte(config), 0o644)
	cmd := exec.Command(gatewayBinary(t), "run", "--config", cfg, "--log-format", "json")
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	logs := bufio.NewScanner(stderr)
	for logs.Scan() {
		if strings.Contains(logs.Text(), `"msg":"serving"`) {
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	return cmd
}

// peakRSS reads the process's high-water resident set size in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// TestCLIStreamsLargeBodiesInBoundedMemory sends a 256 MiB download and a
// 64 MiB upload through the built binary: both arrive intact, and the
// gateway's peak RSS stays under 128 MiB.
func TestCLIStreamsLargeBodiesInBoundedMemory(t *testing.T) {
	const down, up = 256 << 20, 64 << 20
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(down))
		for range down / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer backend.Close()
	listen, cmd := startGatewayProcess(t, backend.URL)

	resp, err := http.Get("http://" + listen + "/big")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != down {
		t.Fatalf("download: %d bytes, %v; want %d", n, err, down)
	}
	want := sha256.New()
	for range down / len(chunk) {
		want.Write(chunk)
	}
	if string(h.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatal("download arrived corrupted")
	}

	payload := io.LimitReader(repeatReader(chunk), up)
	resp, err = http.Post("http://"+listen+"/upload", "application/octet-stream", payload)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	upWant := sha256.New()
	for range up / len(chunk) {
		upWant.Write(chunk)
	}
	if string(got) != fmt.Sprintf("%d %x", up, upWant.Sum(nil)) {
		t.Fatalf("upload: backend saw %q", got)
	}

	rss := peakRSS(t, cmd.Process.Pid)
	t.Logf("gateway peak RSS after a 256 MiB download and a 64 MiB upload: %.1f MiB", float64(rss)/(1<<20))
	if rss > 128<<20 {
		t.Fatalf("peak RSS %.1f MiB, want under 128 MiB", float64(rss)/(1<<20))
	}
}

// repeatReader reads chunk over and over.
func repeatReader(chunk []byte) io.Reader {
	return &repeating{chunk: chunk}
}

type repeating struct {
	chunk []byte
	off   int
}

func (r *repeating) Read(p []byte) (int, error) {
	n := copy(p, r.chunk[r.off:])
	r.off = (r.off + n) % len(r.chunk)
	return n, nil
}

// demoRun is a running `gateway demo` and what it printed.
type demoRun struct {
	cmd    *exec.Cmd
	start  time.Time
	listen string // the gateway's address
	admin  string // the admin listener's address
	path   string // the config file, as printed
	sed    string // the command it suggests
}

// startDemo runs `gateway demo` in dir on free ports and reads its hints.
func startDemo(t *testing.T, dir string) *demoRun {
	t.Helper()
	args := []string{"demo", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-format", "json"}
	for range 3 {
		args = append(args, "--backend", "127.0.0.1:0")
	}
	d := &demoRun{cmd: exec.Command(gatewayBinary(t), args...), start: time.Now()}
	d.cmd.Dir = dir
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		d.cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	var printed []string
	for lines.Scan() {
		line := lines.Text()
		printed = append(printed, line)
		if s, ok := strings.CutPrefix(line, "The gateway listens on http://"); ok {
			d.listen, _, _ = strings.Cut(s, " ")
		}
		if s, ok := strings.CutPrefix(line, "Its config is "); ok {
			d.path, _, _ = strings.Cut(s, ", ")
		}
		if s, ok := strings.CutPrefix(line, "  sed "); ok {
			d.sed = "sed " + s
		}
		if s, ok := strings.CutPrefix(line, "  curl -s http://"); ok {
			d.admin = strings.TrimSuffix(s, "/reloads")
		}
		if strings.HasPrefix(line, "The file is removed when the demo stops.") {
			break
		}
	}
	go io.Copy(io.Discard, stdout) // the access log
	if d.listen == "" || d.admin == "" || d.path == "" || d.sed == "" {
		t.Fatalf("the demo's hints lack an address, the file or the command:\n%s", strings.Join(printed, "\n"))
	}
	return d
}

// TestCLIDemoReloadsItsConfigFile runs `gateway demo` as a newcomer would:
// it writes ./gateway-demo.yaml, the command it prints removes a backend,
// and the reload that follows keeps the two others with their counters;
// the file is removed when the demo stops.
func TestCLIDemoReloadsItsConfigFile(t *testing.T) {
	dir := t.TempDir()
	d := startDemo(t, dir)
	if d.path != "gateway-demo.yaml" {
		t.Fatalf("the demo's config is %s, want gateway-demo.yaml in the working directory", d.path)
	}
	seen := map[string]int{}
	for range 6 {
		resp, err := http.Get("http://" + d.listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		seen[resp.Header.Get("X-Backend")]++
	}
	if len(seen) != 3 {
		t.Fatalf("six requests reached %v, want each of three backends twice", seen)
	}

	sed := exec.Command("sh", "-c", d.sed)
	sed.Dir = dir
	if out, err := sed.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", d.sed, err, out)
	}
	type record struct {
		Result                  string
		Carried, Added, Removed int
	}
	var reloaded bool
	deadline := time.Now().Add(10 * time.Second)
	for !reloaded && time.Now().Before(deadline) {
		var records []record
		if resp, err := http.Get("http://" + d.admin + "/reloads"); err == nil {
			json.NewDecoder(resp.Body).Decode(&records)
			resp.Body.Close()
		}
		reloaded = len(records) == 2 && records[1] == record{Result: "applied", Carried: 2, Removed: 1}
		time.Sleep(20 * time.Millisecond)
	}
	if !reloaded {
		t.Fatalf("no reload keeping two backends and removing one within 10s of %q", d.sed)
	}
	t.Logf("the demo's reload was seen %v after the demo started", time.Since(d.start).Round(time.Millisecond))

	resp, err := http.Get("http://" + d.admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Generation struct{ Number int }
		Pools      []struct {
			Backends []struct {
				Requests uint64
				Carried  bool
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if status.Generation.Number != 2 || len(status.Pools) != 1 || len(status.Pools[0].Backends) != 2 {
		t.Fatalf("/status after the edit: %+v, want generation 2 with two backends", status)
	}
	for i, b := range status.Pools[0].Backends {
		if !b.Carried || b.Requests != 2 {
			t.Fatalf("backend %d after the edit: %+v, want carried over with its 2 requests", i, b)
		}
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, d.cmd, 0)
	if _, err := os.Stat(filepath.Join(dir, "gateway-demo.yaml")); !os.IsNotExist(err) {
		t.Fatalf("gateway-demo.yaml after the demo stopped: %v, want it removed", err)
	}
}

// TestCLIDemoLeavesExistingFile checks that a ./gateway-demo.yaml that is
// already there is neither used nor touched: the demo writes its config
// to a temporary directory instead.
func TestCLIDemoLeavesExistingFile(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "gateway-demo.yaml")
	if err := os.WriteFile(mine, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDemo(t, dir)
	if !filepath.IsAbs(d.path) || filepath.Dir(d.path) == dir {
		t.Fatalf("the demo's config is %s, want one in a temporary directory", d.path)
	}
	if !strings.Contains(d.sed, d.path) {
		t.Fatalf("the suggested command %q does not edit %s", d.sed, d.path)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, d.cmd, 0)
	if got, err := os.ReadFile(mine); err != nil || string(got) != "# mine\n" {
		t.Fatalf("the existing gateway-demo.yaml holds %q, %v after the demo", got, err)
	}
	if _, err := os.Stat(filepath.Dir(d.path)); !os.IsNotExist(err) {
		t.Fatalf("the demo's temporary directory after it stopped: %v, want it removed", err)
	}
}
