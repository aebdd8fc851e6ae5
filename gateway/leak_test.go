package gateway

// The leak tests run a workload, then check that the goroutines, open file
// descriptors and live heap of the process come back to what they were
// before it, within a small margin. GATEWAY_LONG=1 runs the long variants:
// 1000 reloads instead of 200, 10,000 abandoned upgrades instead of 200.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Margins over the baseline that still count as "back to it": a few
// goroutines and descriptors come and go with keep-alive connections and
// the server's idle workers, and the heap moves with pools and GC timing.
const (
	leakGoroutineMargin = 8
	leakFDMargin        = 8
	leakHeapMargin      = 2 << 20
)

// leakLong reports whether the long variants run.
func leakLong() bool { return os.Getenv("GATEWAY_LONG") == "1" }

// resources is what the process holds at one moment.
type resources struct {
	goroutines, fds int
	heap            uint64
}

func (r resources) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, %.1f MiB heap", r.goroutines, r.fds, float64(r.heap)/(1<<20))
}

// measure counts the goroutines (but fasthttp's idle-worker cleaners),
// the entries of /proc/self/fd and the live heap after a collection.
func measure(t *testing.T) resources {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return resources{goroutines: runtime.NumGoroutine() - idleWorkerCleaners(), fds: len(fds), heap: ms.HeapAlloc}
}

// idleWorkerCleaners counts the goroutines of fasthttp servers that clean
// up idle workers. A stopped server's cleaner exits only when its sleep of
// MaxIdleWorkerDuration (10s) ends, so every server that a reload replaced
// leaves one for up to 10 seconds: fasthttp's to end, and no leak.
func idleWorkerCleaners() int { return goroutinesIn("fasthttp.(*workerPool).Start.func2(") }

// settle polls until goroutines and descriptors are back within the
// margins of base, then checks the heap; it fails the test with both
// counts when they are not back within 15 seconds.
func settle(t *testing.T, base resources, quiesce func()) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var now resources
	for {
		quiesce()
		now = measure(t)
		if now.goroutines <= base.goroutines+leakGoroutineMargin && now.fds <= base.fds+leakFDMargin {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("not back to the baseline after 15s:\n  before %v\n  after  %v\n%s", base, now, buf)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if now.heap > base.heap+leakHeapMargin {
		t.Errorf("heap grew: before %v, after %v", base, now)
	}
	t.Logf("before %v; after %v", base, now)
}

// loadClients keeps n keep-alive clients sending GETs to url until stop is
// called, which returns how many requests were answered 200 and the other
// outcomes.
func loadClients(url string, n int) (done *atomic.Int64, stop func() (ok int64, bad []string)) {
	var (
		wg      sync.WaitGroup
		quit    = make(chan struct{})
		mu      sync.Mutex
		failure []string
	)
	done = new(atomic.Int64)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for {
				select {
				case <-quit:
					return
				default:
				}
				resp, err := c.Get(url)
				var msg string
				if err != nil {
					msg = err.Error()
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						msg = resp.Status
					}
				}
				if msg != "" {
					mu.Lock()
					failure = append(failure, msg)
					mu.Unlock()
					continue
				}
				done.Add(1)
			}
		}()
	}
	return done, func() (int64, []string) {
		close(quit)
		wg.Wait()
		return done.Load(), failure
	}
}

// underLoad runs step n times while keep-alive clients send GETs to url,
// waiting after each step for a few requests to be answered, and fails
// the test if any request failed.
func underLoad(t *testing.T, url string, n int, step func(i int)) {
	t.Helper()
	served, stop := loadClients(url, 4)
	for i := range n {
		step(i)
		from := served.Load()
		waitUntil(t, "requests after the change", func() bool { return served.Load() >= from+4 })
	}
	ok, bad := stop()
	if len(bad) > 0 {
		t.Fatalf("%d of %d requests failed during the changes, the first: %s", len(bad), ok+int64(len(bad)), bad[0])
	}
}

// dropIdle closes the gateway's idle connections to the backends it
// serves now, which a quiet gateway would close at idleTimeout anyway.
func dropIdle(g *Gateway) {
	if gen := g.current(); gen != nil {
		for _, p := range gen.pools {
			for _, b := range p.backends {
				b.upstream.Load().closeIdle()
			}
		}
	}
}

func TestLeakReloadsUnderLoad(t *testing.T) {
	reloads := 200
	if leakLong() {
		reloads = 1000
	}
	// Backends that keep nothing of the requests they answer.
	var urls []string
	for _, n := range []string{"a", "b", "c", "d"} {
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, n) }))
		t.Cleanup(b.Close)
		urls = append(urls, b.URL)
	}
	// Health checks run, so that checkers start and stop with the backends.
	config := func(servers ...string) string {
		return "listen: 127.0.0.1:0\npools:\n  p:\n    idleTimeout: 500ms\n" +
			"    healthCheck: {interval: 100ms, timeout: 50ms}\n" +
			"    servers: [" + strings.Join(servers, ", ") + "]\n"
	}
	sets := []string{config(urls[0], urls[1]), config(urls[2], urls[3])}
	g, base := startGateway(t, sets[0])

	// run reloads n times under load, alternating the backend sets and
	// ending on the first.
	run := func(n int) {
		t.Helper()
		underLoad(t, base+"/", n, func(i int) {
			if _, err := g.Load("test.yaml", []byte(sets[(i+1)%2]), TriggerWatch); err != nil {
				t.Fatalf("reload %d: %v", i, err)
			}
		})
	}
	run(20)
	dropIdle(g)
	baseline := measure(t)
	run(reloads)
	settle(t, baseline, func() { dropIdle(g) })
	if n := len(g.current().pools[0].backends); n != 2 {
		t.Fatalf("%d backends after the reloads, want 2", n)
	}
}

// TestLeakListenerChanges reloads with new listener settings, listen
// addresses and admin addresses in turn, with a keep-alive client and new
// connections through each: the servers, sockets and goroutines that each
// change retires are all gone once it has retired.
func TestLeakListenerChanges(t *testing.T) {
	reloads := 200
	if leakLong() {
		reloads = 1000
	}
	a := startBackend(t, "a", nil)
	listens, admins := []string{freeAddr(t), freeAddr(t)}, []string{freeAddr(t), freeAddr(t)}
	config := func(i int) string {
		return withListen(poolConfig("round_robin", "", a.URL), listens[i/3%2]) +
			fmt.Sprintf("admin: %s\nclientIdleTimeout: %ds\n", admins[i/2%2], 30+i%5)
	}
	g, _ := startGateway(t, config(0))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	run := func(n int) {
		t.Helper()
		for i := range n {
			reloadOK(t, g, config(i+1))
			for _, url := range []string{"http://" + g.Addr() + "/", "http://" + g.AdminAddr() + "/healthz"} {
				if status, _ := get(t, client, url); status != 200 {
					t.Fatalf("reload %d: %s answered %d", i, url, status)
				}
			}
		}
		client.CloseIdleConnections()
		waitRetired(t, g.public)
		waitRetired(t, g.adminDoor)
	}
	run(20)
	baseline := measure(t)
	run(reloads)
	settle(t, baseline, client.CloseIdleConnections)
}

// echoUpgradeBackend answers "Upgrade: echo" with 101 and echoes bytes
// until the gateway closes its side.
func echoUpgradeBackend(t *testing.T) *httptest.Server {
	b := httptest.NewServer(upgradeHandler(echo))
	t.Cleanup(b.Close)
	return b
}

// abandonUpgrade opens an upgraded connection through addr and abandons
// it in one of three ways, chosen by how: before the 101 arrives, right
// after it, or in the middle of the echo.
func abandonUpgrade(addr string, how int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"); err != nil {
		return err
	}
	if how == 0 {
		return nil
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != 101 {
		return fmt.Errorf("status %d, want 101", resp.StatusCode)
	}
	if how == 1 {
		return nil
	}
	io.WriteString(c, "hello, ")
	buf := make([]byte, 7)
	if _, err := io.ReadFull(br, buf); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	io.WriteString(c, strings.Repeat("unread ", 1000))
	return nil
}

func TestLeakAbandonedUpgrades(t *testing.T) {
	n := 200
	if leakLong() {
		n = 10000
	}
	b := echoUpgradeBackend(t)
	g, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	run := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		var failed atomic.Int64
		var first atomic.Value
		next := atomic.Int64{}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
					if err := abandonUpgrade(addr, int(i%3)); err != nil {
						failed.Add(1)
						first.CompareAndSwap(nil, err.Error())
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d of %d upgrades failed, the first: %v", failed.Load(), n, first.Load())
		}
	}
	tunnels := func() int {
		g.tunnels.mu.Lock()
		defer g.tunnels.mu.Unlock()
		return len(g.tunnels.conns)
	}
	run(30)
	waitUntil(t, "the warm-up tunnels to close", func() bool { return tunnels() == 0 })
	baseline := measure(t)
	run(n)
	waitUntil(t, "every abandoned tunnel to close", func() bool { return tunnels() == 0 })
	settle(t, baseline, func() {})
	if inFlight := g.current().pools[0].backends[0].inFlight.Load(); inFlight != 0 {
		t.Fatalf("%d requests still in flight on the backend", inFlight)
	}
}
