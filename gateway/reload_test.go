package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/reload"
)

// keepAliveConn is one raw client connection that sends its requests one
// after another, so a test sees at once if the gateway closes it.
type keepAliveConn struct {
	net.Conn
	r *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAliveConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAliveConn{Conn: c, r: bufio.NewReader(c)}
}

// send sends a GET for path with extraHeader on k and returns the
// response, its body, and the error that ended the exchange.
func (k *keepAliveConn) send(path, extraHeader string) (*http.Response, string, error) {
	k.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(k, "GET %s HTTP/1.1\r\nHost: gateway.test\r\n%s\r\n", path, extraHeader); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

// get sends a GET for path and returns the status and body, failing the
// test if the exchange fails or the gateway says it closes the connection.
func (k *keepAliveConn) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, body, err := k.send(path, "")
	if err != nil {
		t.Fatalf("keep-alive connection: %v", err)
	}
	if resp.Close {
		t.Fatal("keep-alive connection: the gateway announced it closes the connection")
	}
	return resp.StatusCode, body
}

// withListen replaces the listen address of a config made by poolConfig.
func withListen(config, addr string) string {
	return strings.Replace(config, "listen: 127.0.0.1:0", "listen: "+addr, 1)
}

func TestReloadStreamingResponseOnRemovedBackendCompletes(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	a := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		entered <- struct{}{}
		<-gate.ch
		io.WriteString(w, "second")
	})
	b := startBackend(t, "b", nil)
	g, base := startGateway(t, poolConfig("round_robin", "", a.URL))
	got := getLater(base + "/")
	<-entered
	old := g.current()

	rec := reloadOK(t, g, poolConfig("round_robin", "", b.URL))

	if rec.Removed != 1 || g.current() == old {
		t.Fatalf("removed %d, want the backend removed and a new generation", rec.Removed)
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "b" {
		t.Fatalf("new generation answered %d %q, want 200 b", status, body)
	}
	gate.open()
	if s := <-got; s != "200 first second" {
		t.Fatalf("the request in flight on the removed backend got %q, want 200 first second", s)
	}
}

// reloadStep is one config of a reload sequence: the backends of a valid
// config, or a broken one.
type reloadStep struct {
	servers string // backend names; empty for invalid
	invalid string // the broken config; empty for valid
}

// reloadPlan is ten steps that mix changed backend sets, identical
// configs and configs broken in different ways.
var reloadPlan = []reloadStep{
	{servers: "a b c"},
	{invalid: "listen: 127.0.0.1:0\npools:\n  p:\n    algorithm: round_robbin\n    servers: [http://127.0.0.1:1]\n"},
	{servers: "b c"},
	{servers: "b c"},
	{servers: "a"},
	{invalid: "listen: 127.0.0.1:0\npools:\n  p:\n    servers: [http://127.0.0.1:1\n"},
	{servers: "c a"},
	{invalid: "listen: 127.0.0.1:0\npools:\n  p:\n    servres: [http://127.0.0.1:1]\n"},
	{servers: "c a"},
	{servers: "a b"},
}

// reloadExpectation tracks what the records of a reload sequence should
// say.
type reloadExpectation struct {
	number  uint64
	running []string
	want    []ReloadRecord
}

// next returns the content of step and records what its reload should
// report; nonce makes otherwise equal content differ (as a comment) when
// not empty.
func (e *reloadExpectation) next(step reloadStep, urls map[string]string, nonce string) []byte {
	data := step.invalid
	if data == "" {
		names := strings.Fields(step.servers)
		var servers []string
		for _, n := range names {
			servers = append(servers, urls[n])
		}
		data = poolConfig("round_robin", "", servers...)
		if slices.Equal(names, e.running) {
			// The running config again: nothing to build.
			e.want = append(e.want, ReloadRecord{Result: ResultUnchanged, Generation: e.number})
			return e.hash(data, nonce)
		}
		rec := ReloadRecord{Result: ResultApplied, Generation: e.number + 1}
		for _, n := range names {
			if slices.Contains(e.running, n) {
				rec.Carried++
			} else {
				rec.Added++
			}
		}
		rec.Removed = len(e.running) - rec.Carried
		e.number++
		e.running = names
		e.want = append(e.want, rec)
	} else {
		e.want = append(e.want, ReloadRecord{Result: ResultRejected})
	}
	return e.hash(data, nonce)
}

// hash prefixes data with nonce as a comment, when not empty, and sets the
// hash of the last record expected.
func (e *reloadExpectation) hash(data, nonce string) []byte {
	if nonce != "" {
		data = "# " + nonce + "\n" + data
	}
	e.want[len(e.want)-1].Hash = config.Hash([]byte(data))
	return []byte(data)
}

// check compares the gateway's records with the last ones expected.
func (e *reloadExpectation) check(t *testing.T, g *Gateway, trigger, source string) {
	t.Helper()
	got := g.Reloads()
	if len(got) != reloadHistory {
		t.Fatalf("%d reload records kept, want %d", len(got), reloadHistory)
	}
	want := e.want[len(e.want)-reloadHistory:]
	for i, r := range got {
		w := want[i]
		if r.Result != w.Result || r.Generation != w.Generation || r.Hash != w.Hash || r.Trigger != trigger ||
			r.Carried != w.Carried || r.Added != w.Added || r.Removed != w.Removed {
			t.Fatalf("record %d: %+v, want %+v with trigger %s", i, r, w, trigger)
		}
		if (r.Error != "") != (w.Result == ResultRejected) || w.Result == ResultRejected && !strings.Contains(r.Error, source+":") {
			t.Fatalf("record %d: error %q for a result %s", i, r.Error, r.Result)
		}
		if r.Time.IsZero() || r.Duration <= 0 {
			t.Fatalf("record %d has no time or duration: %+v", i, r)
		}
	}
	if n := g.current().number; n != e.number {
		t.Fatalf("generation %d, want %d", n, e.number)
	}
}

// keepAliveLoad is a set of keep-alive clients sending GETs in a loop.
type keepAliveLoad struct {
	clients int
	served  atomic.Int64
	dials   atomic.Int64
	closed  atomic.Int64 // connections the gateway closed or said it would
	quit    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	fails   []string
}

// startKeepAliveLoad starts clients keep-alive clients sending GETs to
// url; a response other than 200 with a body naming one of names counts
// as a failure.
func startKeepAliveLoad(url string, clients int, names []string) *keepAliveLoad {
	l := &keepAliveLoad{clients: clients, quit: make(chan struct{})}
	dialer := &net.Dialer{}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				l.dials.Add(1)
				c, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &peerCloseConn{Conn: c, closed: &l.closed}, nil
			}}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for {
				select {
				case <-l.quit:
					return
				default:
				}
				resp, err := client.Get(url)
				var failure string
				if err != nil {
					failure = err.Error()
				} else {
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || !slices.Contains(names, string(body)) {
						failure = fmt.Sprintf("%d %q %v", resp.StatusCode, body, err)
					}
					if resp.Close {
						l.closed.Add(1)
					}
				}
				if failure != "" {
					l.mu.Lock()
					l.fails = append(l.fails, failure)
					l.mu.Unlock()
					continue
				}
				l.served.Add(1)
			}
		}()
	}
	return l
}

// await waits until every client could have sent a request more, so each
// generation serves requests before the next reload.
func (l *keepAliveLoad) await(t *testing.T) {
	t.Helper()
	from := l.served.Load()
	waitUntil(t, "requests between reloads", func() bool { return l.served.Load() >= from+int64(l.clients) })
}

// stop ends the clients and fails the test if a request failed or the
// gateway closed a client connection.
func (l *keepAliveLoad) stop(t *testing.T, across string) {
	t.Helper()
	close(l.quit)
	l.wg.Wait()
	if len(l.fails) > 0 {
		t.Fatalf("%d of %d requests failed across %s; the first: %s", len(l.fails), l.served.Load()+int64(len(l.fails)), across, l.fails[0])
	}
	if n := l.closed.Load(); n > 0 {
		t.Fatalf("the gateway closed %d keep-alive client connections across %s", n, across)
	}
	// A client may dial once more than it needs: net/http dials when its
	// idle connection is not back in the pool yet, and keeps both.
	t.Logf("%d requests on %d connections of %d clients across %s", l.served.Load(), l.dials.Load(), l.clients, across)
}

// peerCloseConn counts, in closed, the connection if the other side closes
// it without saying so first: a read that ends with io.EOF.
type peerCloseConn struct {
	net.Conn
	closed *atomic.Int64
	once   sync.Once
}

func (c *peerCloseConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err == io.EOF {
		c.once.Do(func() { c.closed.Add(1) })
	}
	return n, err
}

// threeBackends starts backends a, b and c and returns their URLs by name.
func threeBackends(t *testing.T) map[string]string {
	urls := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		urls[n] = startBackend(t, n, nil).URL
	}
	return urls
}

func TestReloadZeroDropUnderLoad(t *testing.T) {
	const clients, reloads = 8, 60
	urls := threeBackends(t)
	exp := &reloadExpectation{}
	g, base := startGateway(t, string(exp.next(reloadStep{servers: "a b c"}, urls, "")))
	load := startKeepAliveLoad(base+"/", clients, []string{"a", "b", "c"})
	for i := range reloads {
		data := exp.next(reloadPlan[i%len(reloadPlan)], urls, "")
		g.Load("test.yaml", data, TriggerWatch)
		load.await(t)
	}
	load.stop(t, fmt.Sprintf("%d reloads", reloads))
	exp.check(t, g, TriggerWatch, "test.yaml")
}

// saveConfig writes data to path: by writing a temporary file and renaming
// it over path as editors that save atomically do, or in place.
func saveConfig(t *testing.T, path string, data []byte, rename bool) {
	t.Helper()
	if !rename {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	tmp := filepath.Join(filepath.Dir(path), ".save.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// watchConfig writes initial to a config file, applies it and starts a
// [reload.Watcher] that hands every read of the file to g as [Run] does;
// the record of each read that made one is sent on loaded. It returns the
// file's path.
func watchConfig(t *testing.T, g *Gateway, initial []byte, loaded chan<- ReloadRecord) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.yaml")
	if err := os.WriteFile(path, initial, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Load(path, initial, TriggerStart); err != nil {
		t.Fatal(err)
	}
	w := reload.New(func(r reload.Read) {
		before := g.reloads.count()
		g.reloadRead(path, FileRead{Path: r.Path, Data: r.Data, Err: r.Err, Triggered: r.Triggered})
		if g.reloads.count() != before {
			rec, _ := g.reloads.last(configSource)
			loaded <- rec
		}
	}, reload.Options{})
	w.Watch(path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watcher: %v", err)
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("watcher: %v", err)
	}
	return path
}

// newGatewayForTest returns a gateway that is shut down when the test ends.
func newGatewayForTest(t *testing.T, opts Options) *Gateway {
	g := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g
}

func TestReloadZeroDropThroughWatcher(t *testing.T) {
	const clients, saves = 8, 20
	urls := threeBackends(t)
	exp := &reloadExpectation{}
	g := newGatewayForTest(t, Options{})
	loaded := make(chan ReloadRecord, 1)
	path := watchConfig(t, g, exp.next(reloadStep{servers: "a b c"}, urls, ""), loaded)
	load := startKeepAliveLoad("http://"+g.Addr()+"/", clients, []string{"a", "b", "c"})
	for i := range saves {
		// Every save differs, or the watcher would rightly skip it.
		data := exp.next(reloadPlan[i%len(reloadPlan)], urls, fmt.Sprintf("save %d", i))
		saveConfig(t, path, data, i%2 == 0)
		select {
		case rec := <-loaded:
			if rec.Hash != config.Hash(data) {
				t.Fatalf("save %d: the watcher delivered content %s, want %s", i, ShortHash(rec.Hash), ShortHash(config.Hash(data)))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("save %d was not loaded", i)
		}
		load.await(t)
	}
	load.stop(t, fmt.Sprintf("%d saves", saves))
	exp.check(t, g, TriggerWatch, path)
}

func TestReloadListenAddressRebinds(t *testing.T) {
	a := startBackend(t, "a", nil)
	g := New(Options{})
	if _, err := g.Load("test.yaml", []byte(poolConfig("round_robin", "", a.URL)), TriggerStart); err != nil {
		t.Fatal(err)
	}
	oldAddr := g.Addr()
	kept := dialKeepAlive(t, oldAddr)
	if status, body := kept.get(t, "/"); status != 200 || body != "a" {
		t.Fatalf("got %d %q, want 200 a", status, body)
	}
	newAddr := freeAddr(t)

	rec := reloadOK(t, g, withListen(poolConfig("round_robin", "", a.URL), newAddr))

	if rec.Carried != 1 || rec.Added != 0 || rec.Removed != 0 {
		t.Fatalf("carried/added/removed %d/%d/%d, want 1/0/0", rec.Carried, rec.Added, rec.Removed)
	}
	if got := g.Addr(); got != newAddr {
		t.Fatalf("listening on %s, want %s", got, newAddr)
	}
	if status, body := get(t, &http.Client{}, "http://"+newAddr+"/"); status != 200 || body != "a" {
		t.Fatalf("new address answered %d %q, want 200 a", status, body)
	}
	// The old address goes on accepting, for the new server, until its
	// clients have gone; then it closes.
	if status, body := get(t, &http.Client{}, "http://"+oldAddr+"/"); status != 200 || body != "a" {
		t.Fatalf("the retiring address answered %d %q, want 200 a", status, body)
	}
	waitRetired(t, g.public)
	if !refused(oldAddr) {
		t.Fatalf("the old address %s still accepts connections", oldAddr)
	}
	for range 3 {
		if status, body := kept.get(t, "/"); status != 200 || body != "a" {
			t.Fatalf("open connection on the old address got %d %q, want 200 a", status, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown after a rebind: %v", err)
	}
}

func TestReloadUnchangedListenerKeepsConnections(t *testing.T) {
	urls := threeBackends(t)
	g, _ := startGateway(t, poolConfig("round_robin", "", urls["a"]))
	conn := dialKeepAlive(t, g.Addr())
	sets := [][]string{{urls["b"]}, {urls["a"], urls["c"]}, {urls["c"]}}
	for i := range 10 {
		servers := sets[i%len(sets)]
		config := fmt.Sprintf("# reload %d\n", i) + poolConfig("round_robin", "", servers...)
		if i%4 == 3 {
			config = strings.Replace(config, "round_robin", "round_robbin", 1)
		}
		before := g.current().number
		rec, _ := g.Load("test.yaml", []byte(config), TriggerWatch)
		if rec.Result == ResultApplied && g.current().number != before+1 {
			t.Fatalf("reload %d applied but generation %d is serving", i, g.current().number)
		}
		if status, _ := conn.get(t, "/"); status != 200 {
			t.Fatalf("after reload %d (%s) the open connection got %d", i, rec.Result, status)
		}
	}
}

func TestReloadRejectedKeepsRunningGeneration(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	g, base := startGateway(t, poolConfig("round_robin", "", a.URL))
	running := g.current()

	rec, err := g.Load("test.yaml", []byte(poolConfig("round_robbin", "", b.URL)), TriggerSignal)

	if err == nil {
		t.Fatal("a config with an unknown algorithm was applied")
	}
	if g.current() != running {
		t.Fatalf("generation %d is serving, want the running %d", g.current().number, running.number)
	}
	if rec.Result != ResultRejected || rec.Generation != 0 || rec.Trigger != TriggerSignal || rec.Error != err.Error() {
		t.Fatalf("record %+v for error %v", rec, err)
	}
	for _, want := range []string{"test.yaml:4:16:", "pools.p.algorithm"} {
		if !strings.Contains(rec.Error, want) {
			t.Fatalf("error %q does not contain %q", rec.Error, want)
		}
	}
	if all := g.Reloads(); len(all) != 2 || all[1].Hash != rec.Hash || all[1].Result != ResultRejected {
		t.Fatalf("records %+v, want the start and the rejection", all)
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "a" {
		t.Fatalf("after the rejection got %d %q, want the running a", status, body)
	}

	next := reloadOK(t, g, poolConfig("round_robin", "", b.URL))

	if next.Generation != running.number+1 || g.current().number != running.number+1 {
		t.Fatalf("the next valid config became generation %d, want %d", next.Generation, running.number+1)
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "b" {
		t.Fatalf("after the next valid config got %d %q, want b", status, body)
	}
}

func TestReloadRejectedWhenListenFailsStartsNothing(t *testing.T) {
	a, b := startCountedBackend(t, "a", nil), startCountedBackend(t, "b", nil)
	g, base := startGateway(t, poolConfig("round_robin", "", a.URL))
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	running, probing := g.current(), checkers(g)

	rec, err := g.Load("test.yaml", []byte(withListen(healthConfig("10ms", "", b.URL), taken.Addr().String())), TriggerWatch)

	if err == nil || rec.Result != ResultRejected || !strings.Contains(rec.Error, "test.yaml: listen:") {
		t.Fatalf("record %+v, error %v: want a rejection naming the listener", rec, err)
	}
	if g.current() != running || g.Addr() != strings.TrimPrefix(base, "http://") {
		t.Fatal("a config whose listener could not bind replaced the running one")
	}
	if n := checkers(g); n != probing {
		t.Fatalf("%d checkers run after the rejection, want %d", n, probing)
	}
	if status, body := get(t, &http.Client{}, base+"/"); status != 200 || body != "a" {
		t.Fatalf("after the rejection got %d %q, want 200 a", status, body)
	}
	if n := b.probes.Load(); n != 0 {
		t.Fatalf("the backend of the rejected config was probed %d times", n)
	}
}

// hashCounter is a [slog.Handler] that counts the log records carrying
// each value of the attribute "hash".
type hashCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *hashCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *hashCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *hashCounter) WithGroup(string) slog.Handler            { return h }

func (h *hashCounter) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "hash" {
			h.mu.Lock()
			h.counts[a.Value.String()]++
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func TestReloadLoggedOnce(t *testing.T) {
	a := startBackend(t, "a", nil)
	logs := &hashCounter{counts: map[string]int{}}
	g := newGatewayForTest(t, Options{Logger: slog.New(logs)})
	configs := []string{
		poolConfig("round_robin", "", a.URL),
		"# changed\n" + poolConfig("round_robin", "", a.URL),
		poolConfig("round_robbin", "", a.URL),
	}
	for _, c := range configs {
		g.Load("test.yaml", []byte(c), TriggerWatch)
	}
	recs := g.Reloads()
	if len(recs) != len(configs) {
		t.Fatalf("%d records for %d loads", len(recs), len(configs))
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, r := range recs {
		if n := logs.counts[ShortHash(r.Hash)]; n != 1 {
			t.Fatalf("the %s reload %s was logged %d times, want once", r.Result, ShortHash(r.Hash), n)
		}
	}
}

func TestShutdownRightAfterStart(t *testing.T) {
	a := startBackend(t, "a", nil)
	for i := range 20 {
		g := New(Options{})
		if _, err := g.Load("test.yaml", []byte(poolConfig("round_robin", "", a.URL)), TriggerStart); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- g.Shutdown(ctx)
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("shutdown %d right after start: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("shutdown %d right after start did not return", i)
		}
	}
}

// TestShutdownTimeout checks that the shutdown timeout follows the config
// being served: none before a config, the default when the file leaves it
// out, and what a reload sets.
func TestShutdownTimeout(t *testing.T) {
	a := startBackend(t, "a", nil)
	g := newGatewayForTest(t, Options{})
	if got := g.ShutdownTimeout(); got != 0 {
		t.Fatalf("before a config: %v, want 0", got)
	}
	if _, err := g.Load("test.yaml", []byte("listen: [\n"), TriggerStart); err == nil {
		t.Fatal("a broken config loaded")
	}
	if got := g.ShutdownTimeout(); got != 0 {
		t.Fatalf("after a rejected first config: %v, want 0", got)
	}
	config := poolConfig("round_robin", "", a.URL)
	if _, err := g.Load("test.yaml", []byte(config), TriggerStart); err != nil {
		t.Fatal(err)
	}
	if got := g.ShutdownTimeout(); got != 30*time.Second {
		t.Fatalf("default: %v, want 30s", got)
	}
	reloadOK(t, g, config+"shutdownTimeout: 5s\n")
	if got := g.ShutdownTimeout(); got != 5*time.Second {
		t.Fatalf("after a reload setting 5s: %v, want 5s", got)
	}
}

func TestReloadLatencyThroughWatcher(t *testing.T) {
	const saves = 20
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	sets := [][]string{{a.URL, b.URL}, {a.URL}}
	g := newGatewayForTest(t, Options{})
	loaded := make(chan ReloadRecord, 1)
	path := watchConfig(t, g, []byte(poolConfig("round_robin", "", sets[0]...)), loaded)
	var took []time.Duration
	for i := range saves {
		data := fmt.Sprintf("# save %d\n", i) + poolConfig("round_robin", "", sets[(i+1)%2]...)
		before := g.current().number
		start := time.Now()
		saveConfig(t, path, []byte(data), i%2 == 0)
		select {
		case rec := <-loaded:
			took = append(took, time.Since(start))
			if rec.Result != ResultApplied || g.current().number != before+1 {
				t.Fatalf("save %d: record %+v, generation %d; want generation %d serving", i, rec, g.current().number, before+1)
			}
		case <-time.After(2500 * time.Millisecond):
			t.Fatalf("save %d was not applied within 2.5s, ten times the quarter-second target", i)
		}
	}
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[(len(took)*99+99)/100-1]
	// The quarter-second target is a figure to read (go test -v), not an
	// assertion: each save above is bounded at ten times it.
	t.Logf("save to serving over %d saves: p50 %v, p99 %v (debounce %v)", saves, p50, p99, reload.DefaultDebounce)
}

// TestReloadUnchanged checks that a config equal to the running one,
// whether its bytes are the same or only its comments and layout differ,
// builds no generation, is recorded as unchanged, and that a success
// after a rejection is a success again.
func TestReloadUnchanged(t *testing.T) {
	a := startBackend(t, "a", nil)
	cfg := withAdmin(poolConfig("round_robin", "", a.URL))
	g, _ := startGateway(t, cfg)
	running := g.current()
	if _, err := g.Load("test.yaml", []byte("listen: [\n"), TriggerWatch); err == nil {
		t.Fatal("a broken config was applied")
	}
	for _, tt := range []struct {
		name, text, trigger string
	}{
		{"the same bytes", cfg, TriggerSignal},
		{"a comment", "# the only pool\n" + cfg, TriggerWatch},
		{"another layout", strings.ReplaceAll(cfg, ": ", ":  "), TriggerWatch},
	} {
		rec, err := g.Load("test.yaml", []byte(tt.text), tt.trigger)
		if err != nil || rec.Result != ResultUnchanged || rec.Generation != running.number || rec.Hash != config.Hash([]byte(tt.text)) {
			t.Fatalf("%s: record %+v, %v; want unchanged, generation %d", tt.name, rec, err, running.number)
		}
		if g.current() != running {
			t.Fatalf("%s: a new generation was published", tt.name)
		}
		if got := g.RunningHash(); got != rec.Hash {
			t.Fatalf("%s: the running hash is %s, want the new bytes' %s", tt.name, ShortHash(got), ShortHash(rec.Hash))
		}
		if st := adminStatus(t, g); st.Generation.Hash != rec.Hash || st.LastReload == nil || st.LastReload.Result != ResultUnchanged {
			t.Fatalf("%s: /status says hash %s, last reload %+v", tt.name, ShortHash(st.Generation.Hash), st.LastReload)
		}
		wantMetric(t, scrape(t, g), 1, "gateway_config_last_reload_successful")
	}
}

// TestReloadHistoryPerSource checks that /reloads keeps the last 20 records
// of each source, merged oldest first, and that only the config file's
// records say whether the last reload succeeded.
func TestReloadHistoryPerSource(t *testing.T) {
	a := startBackend(t, "a", nil)
	g, _ := startGateway(t, withAdmin(poolConfig("round_robin", "", a.URL)))
	start := time.Now()
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Millisecond) }
	for i := range 30 {
		g.record(ReloadRecord{Trigger: TriggerWatch, Result: ResultUnchanged, Time: at(2 * i)})
	}
	for i := range 3 {
		g.record(ReloadRecord{Trigger: "certificate", Result: ResultRejected, Error: "bad key", Time: at(2*i + 1)})
	}
	got := g.Reloads()
	if len(got) != reloadHistory+3 {
		t.Fatalf("%d records, want %d of the config file and 3 certificates", len(got), reloadHistory)
	}
	certificates := 0
	for i, r := range got {
		if i > 0 && r.Time.Before(got[i-1].Time) {
			t.Fatalf("record %d (%v) is older than the one before it (%v)", i, r.Time, got[i-1].Time)
		}
		if r.Trigger == "certificate" {
			certificates++
		}
	}
	if certificates != 3 || !got[0].Time.Equal(at(1)) || !got[len(got)-1].Time.Equal(at(58)) {
		t.Fatalf("%d certificate records, first at %v, last at %v", certificates, got[0].Time.Sub(start), got[len(got)-1].Time.Sub(start))
	}
	fams := scrape(t, g)
	wantMetric(t, fams, 1, "gateway_config_last_reload_successful")
	wantMetric(t, fams, 3, "gateway_config_reloads_total", "trigger", "certificate", "result", "rejected")
	if st := adminStatus(t, g); st.LastReload == nil || st.LastReload.Trigger != TriggerWatch {
		t.Fatalf("/status's last reload is %+v, want the config file's", st.LastReload)
	}
}

// TestOverCapAnswer checks the gateway's own answer to a connection over
// maxConnections: a plain 503 with Retry-After, counted as an answer the
// gateway gave itself.
func TestOverCapAnswer(t *testing.T) {
	a := startBackend(t, "a", nil)
	cfg := strings.Replace(withAdmin(poolConfig("round_robin", "", a.URL)), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nmaxConnections: 1\n", 1)
	g, _ := startGateway(t, cfg)
	held := dialKeepAlive(t, g.Addr())
	if status, _ := held.get(t, "/"); status != 200 {
		t.Fatalf("the first connection got %d", status)
	}
	for range 3 {
		resp, body, err := dialKeepAlive(t, g.Addr()).send("/", "")
		if err != nil {
			t.Fatalf("over the cap: %v; want the gateway's 503", err)
		}
		if resp.StatusCode != 503 || body != "too many connections\n" || resp.Header.Get("Retry-After") != "1" ||
			resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !resp.Close {
			t.Fatalf("over the cap: %d %q %v", resp.StatusCode, body, resp.Header)
		}
	}
	wantMetric(t, scrape(t, g), 3, "gateway_requests_total", "pool", "", "backend", "", "code", "503")
}

// TestMaxConnectionsChangeAppliesToOpenServer checks that a new cap takes
// effect on the running server, which goes on serving its connections.
func TestMaxConnectionsChangeAppliesToOpenServer(t *testing.T) {
	a := startBackend(t, "a", nil)
	base := poolConfig("round_robin", "", a.URL)
	capped := func(n int) string {
		return strings.Replace(base, "listen: 127.0.0.1:0\n", fmt.Sprintf("listen: 127.0.0.1:0\nmaxConnections: %d\n", n), 1)
	}
	g, _ := startGateway(t, capped(2))
	server := g.listener
	first, second := dialKeepAlive(t, g.Addr()), dialKeepAlive(t, g.Addr())
	for _, c := range []*keepAliveConn{first, second} {
		if status, _ := c.get(t, "/"); status != 200 {
			t.Fatalf("got %d under the cap", status)
		}
	}
	reloadOK(t, g, capped(1))
	if g.listener != server {
		t.Fatal("a new cap started a new server")
	}
	if resp, _, err := dialKeepAlive(t, g.Addr()).send("/", ""); err != nil || resp.StatusCode != 503 {
		t.Fatalf("over the lowered cap: %v, %v; want 503", resp, err)
	}
	// The connections open before are served on.
	if status, _ := first.get(t, "/"); status != 200 {
		t.Fatalf("an open connection got %d after the cap was lowered", status)
	}
	reloadOK(t, g, capped(3))
	third := dialKeepAlive(t, g.Addr())
	if status, _ := third.get(t, "/"); status != 200 {
		t.Fatalf("under the raised cap got %d", status)
	}
}

// TestListenMoveBackRevivesSocket moves the listener away and back before
// the old socket has retired: the socket is put back into service rather
// than bound again (which would fail, the address being in use).
func TestListenMoveBackRevivesSocket(t *testing.T) {
	a := startBackend(t, "a", nil)
	base := poolConfig("round_robin", "", a.URL)
	first := freeAddr(t)
	g, _ := startGateway(t, withListen(base, first))
	sock := g.public.currentSocket()
	second := freeAddr(t)
	reloadOK(t, g, withListen(base, second))
	reloadOK(t, g, withListen(base, first))
	if g.public.currentSocket() != sock || g.Addr() != first {
		t.Fatalf("moving back to %s bound a new socket", first)
	}
	for _, addr := range []string{first, second} {
		if status, body := get(t, &http.Client{}, "http://"+addr+"/"); status != 200 || body != "a" {
			t.Fatalf("%s answered %d %q", addr, status, body)
		}
	}
	waitRetired(t, g.public)
	if !refused(second) || refused(first) {
		t.Fatalf("after the retirement %s refused %v and %s refused %v; want only %s to refuse",
			first, refused(first), second, refused(second), second)
	}
}

// TestListenRespelledWhileRetiring moves the listener back to an address
// that a retiring socket holds under another spelling: the retiring socket
// is closed at once so that the bind succeeds.
func TestListenRespelledWhileRetiring(t *testing.T) {
	a := startBackend(t, "a", nil)
	base := poolConfig("round_robin", "", a.URL)
	g, _ := startGateway(t, base)
	_, port, _ := net.SplitHostPort(g.Addr())
	reloadOK(t, g, withListen(base, freeAddr(t)))
	reloadOK(t, g, withListen(base, "localhost:"+port))
	if status, body := get(t, &http.Client{}, "http://127.0.0.1:"+port+"/"); status != 200 || body != "a" {
		t.Fatalf("the respelled address answered %d %q", status, body)
	}
}

// TestRejectedConfigRetiresRevivedSocket checks that a config rejected
// after its listen address took a socket back from retirement leaves that
// socket retiring, and the running one serving.
func TestRejectedConfigRetiresRevivedSocket(t *testing.T) {
	a := startBackend(t, "a", nil)
	base := poolConfig("round_robin", "", a.URL)
	first := freeAddr(t)
	g, _ := startGateway(t, withListen(base, first))
	second := freeAddr(t)
	reloadOK(t, g, withListen(base, second))
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	rec, err := g.Load("test.yaml", []byte(withListen(base, first)+"admin: "+taken.Addr().String()+"\n"), TriggerWatch)
	if err == nil || rec.Result != ResultRejected || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("record %+v, %v; want rejected for the admin address", rec, err)
	}
	if g.Addr() != second {
		t.Fatalf("listening on %s after a rejected config, want %s", g.Addr(), second)
	}
	waitRetired(t, g.public)
	if !refused(first) {
		t.Fatalf("%s still accepts after the rejected config gave its socket back", first)
	}
	if status, body := get(t, &http.Client{}, "http://"+second+"/"); status != 200 || body != "a" {
		t.Fatalf("%s answered %d %q", second, status, body)
	}
}

// TestListenerSettingsOldConnectionsClose checks that connections of a
// server whose settings a reload changed do not keep the old settings for
// long: each is closed after its next response, which says so, whether a
// request was in flight or comes later, and one that stays idle is closed
// at the old idle timeout; new connections get the new settings.
func TestListenerSettingsOldConnectionsClose(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	a := startBackend(t, "a", slowHandler("a", gate, entered))
	base := strings.Replace(poolConfig("round_robin", "", a.URL), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\nclientIdleTimeout: 1s\n", 1)
	g, _ := startGateway(t, base)
	idle, later, busy := dialKeepAlive(t, g.Addr()), dialKeepAlive(t, g.Addr()), dialKeepAlive(t, g.Addr())
	for _, c := range []*keepAliveConn{idle, later, busy} {
		if status, _ := c.get(t, "/"); status != 200 {
			t.Fatalf("got %d", status)
		}
	}
	busy.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(busy, "GET /slow HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
	<-entered

	reloadOK(t, g, strings.Replace(base, "clientIdleTimeout: 1s\n", "clientIdleTimeout: 1s\nmaxHeaderBytes: 4096\n", 1))

	big := "X-Big: " + strings.Repeat("x", 8<<10) + "\r\n"
	resp, _, err := later.send("/", big)
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("the next request on an old connection: %v, %v; want 200 on the old settings, closing", resp, err)
	}
	gate.open()
	resp, err = http.ReadResponse(busy.r, nil)
	if err != nil {
		t.Fatalf("the busy connection: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "slow" || !resp.Close {
		t.Fatalf("the busy connection got %d %q (close %v); want 200 slow, closing", resp.StatusCode, body, resp.Close)
	}
	for name, c := range map[string]*keepAliveConn{"the idle connection": idle, "the connection after its response": later, "the busy connection after its response": busy} {
		c.SetReadDeadline(time.Now().Add(waitBound))
		if n, err := c.r.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("%s read %d bytes, %v; want it closed (EOF)", name, n, err)
		}
	}
	if resp, _, err := dialKeepAlive(t, g.Addr()).send("/", big); err != nil || resp.StatusCode != 431 {
		t.Fatalf("a new connection with an 8 KiB header: %v, %v; want 431", resp, err)
	}
	waitUntil(t, "the old server to have no connection left", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, l := range g.retired {
			if l.view.open.Load() > 0 {
				return false
			}
		}
		return len(g.retired) == 1
	})
}

// TestPlan checks what applying a config is planned to do to the
// listeners and the access log, before anything is done.
func TestPlan(t *testing.T) {
	a := startBackend(t, "a", nil)
	base := withAdmin(poolConfig("round_robin", "", a.URL))
	g, _ := startGateway(t, base+"accessLog: true\n")
	other := freeAddr(t)
	tests := []struct {
		name, config string
		want         plan
	}{
		{"the same", base + "accessLog: true\n", plan{actionKeep, actionKeep, actionKeep, actionKeep, actionNone}},
		{"another listen address", withListen(base, other) + "accessLog: true\n", plan{actionMove, actionKeep, actionKeep, actionKeep, actionNone}},
		{"another header timeout", base + "accessLog: true\nclientHeaderTimeout: 3s\n", plan{actionKeep, actionRestart, actionKeep, actionKeep, actionNone}},
		{"a new cap only", base + "accessLog: true\nmaxConnections: 5\n", plan{actionKeep, actionKeep, actionKeep, actionKeep, actionNone}},
		{"admin and log off", poolConfig("round_robin", "", a.URL), plan{actionKeep, actionKeep, actionStop, actionStop, actionNone}},
		{"another admin address and log file", strings.Replace(base, "admin: 127.0.0.1:0", "admin: "+other, 1) + "accessLog: " + t.TempDir() + "/a.log\n",
			plan{actionKeep, actionKeep, actionMove, actionMove, actionNone}},
	}
	for _, tt := range tests {
		cfg, err := config.Decode("test.yaml", []byte(tt.config))
		if err != nil {
			t.Fatal(err)
		}
		g.mu.Lock()
		got := g.plan(cfg)
		g.mu.Unlock()
		if got != tt.want {
			t.Errorf("%s: plan %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := fmt.Sprint([]action{actionNone, actionKeep, actionStart, actionRestart, actionMove, actionStop}); got != "[none keep start restart move stop]" {
		t.Errorf("action names %s", got)
	}
}

// TestReloadListenerSettingsUnderKeepAliveLoad changes the listener's
// settings 30 times under keep-alive clients that, like wrk, never retry
// a request: none fails. The old servers close their connections only
// after a response that says so, never under a request on its way.
func TestReloadListenerSettingsUnderKeepAliveLoad(t *testing.T) {
	a := startBackend(t, "a", nil)
	config := func(i int) string {
		return strings.Replace(poolConfig("round_robin", "", a.URL), "listen: 127.0.0.1:0\n",
			fmt.Sprintf("listen: 127.0.0.1:0\nclientIdleTimeout: %ds\n", 60+i%2), 1)
	}
	g, _ := startGateway(t, config(0))
	var served, announced atomic.Int64
	var mu sync.Mutex
	var failures []string
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var k *keepAliveConn
			for {
				select {
				case <-quit:
					if k != nil {
						k.Close()
					}
					return
				default:
				}
				if k == nil {
					c, err := net.Dial("tcp", g.Addr())
					if err != nil {
						mu.Lock()
						failures = append(failures, err.Error())
						mu.Unlock()
						return
					}
					k = &keepAliveConn{Conn: c, r: bufio.NewReader(c)}
				}
				resp, body, err := k.send("/", "")
				if err != nil || resp.StatusCode != 200 || body != "a" {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%v %q %v", resp, body, err))
					mu.Unlock()
					k.Close()
					k = nil
					continue
				}
				served.Add(1)
				if resp.Close {
					announced.Add(1)
					k.Close()
					k = nil
				}
			}
		}()
	}
	for i := 1; i <= 30; i++ {
		reloadOK(t, g, config(i))
		from := served.Load()
		waitUntil(t, "requests after the reload", func() bool { return served.Load() >= from+16 })
	}
	close(quit)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed across 30 listener restarts; the first: %s", len(failures), served.Load()+int64(len(failures)), failures[0])
	}
	if announced.Load() == 0 {
		t.Fatal("no old server announced closing a connection: the settings did not start new servers")
	}
	t.Logf("%d requests, %d connections closed after a response that said so", served.Load(), announced.Load())
}
