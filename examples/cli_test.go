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

	result := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + listen + "/slow")
		if err != nil {
			result <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached the backend")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	// New connections are refused once draining has begun, while the slow
	// request is still in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", listen)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts connections while draining")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if got := <-result; got != "200 done" {
		t.Fatalf("in-flight request got %q, want 200 done", got)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gateway exited with %v, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit after draining")
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
	cfg := filepath.Join(t.TempDir(), name)
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
