package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/reload"
)

// runLoop is a gateway that [Run] serves from a config file for a test,
// with the channels its signals come on.
type runLoop struct {
	g    *Gateway
	path string
	hup  chan os.Signal
	stop chan os.Signal
	logs *logRecorder
	// done is closed when Run has returned err.
	done chan struct{}
	err  error
	// handled receives each read of the watcher once Run has handled it.
	handled chan FileRead
}

// reloadWatcher makes the watcher the gateway command wires in, with
// options: a [reload.Watcher].
func reloadWatcher(opts reload.Options) func(WatcherConfig) Watcher {
	return func(wc WatcherConfig) Watcher {
		opts.TriggerOnly, opts.OnError = !wc.Events, wc.OnError
		return reload.New(func(r reload.Read) {
			wc.OnRead(FileRead{Path: r.Path, Data: r.Data, Err: r.Err, Triggered: r.Triggered})
		}, opts)
	}
}

// startRun writes config to gateway.yaml in a temporary directory and
// serves it with Run until the test ends. opts.Watch and opts.NewWatcher
// are the test's to set; a nil NewWatcher is a [reload.Watcher].
func startRun(t *testing.T, config string, opts RunOptions) *runLoop {
	t.Helper()
	return startRunIn(t, t.TempDir(), config, opts)
}

// startRunIn is startRun with the config file in dir.
func startRunIn(t *testing.T, dir, config string, opts RunOptions) *runLoop {
	t.Helper()
	r := &runLoop{
		path: filepath.Join(dir, "gateway.yaml"),
		hup:  make(chan os.Signal, 1),
		stop: make(chan os.Signal, 2),
		done: make(chan struct{}),
		logs: &logRecorder{},

		handled: make(chan FileRead, 100),
	}
	if err := os.WriteFile(r.path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.NewWatcher == nil {
		opts.NewWatcher = reloadWatcher(reload.Options{})
	}
	newWatcher := opts.NewWatcher
	opts.NewWatcher = func(wc WatcherConfig) Watcher {
		onRead := wc.OnRead
		wc.OnRead = func(fr FileRead) {
			onRead(fr)
			select {
			case r.handled <- fr:
			default:
			}
		}
		return newWatcher(wc)
	}
	ready := make(chan *Gateway, 1)
	opts.Config, opts.Reload, opts.Stop, opts.Logger = r.path, r.hup, r.stop, slog.New(r.logs)
	opts.Ready = func(g *Gateway) { ready <- g }
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		r.err = Run(ctx, opts)
	}()
	select {
	case r.g = <-ready:
	case <-r.done:
		t.Fatalf("Run returned %v before it served", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not serve within 10s")
	}
	t.Cleanup(func() {
		cancel()
		r.wait(t, "its context's end")
	})
	if opts.Watch {
		r.read(t) // the watcher's first read: the test starts from there
	}
	return r
}

// wait waits for Run to return after what, and returns what it returned.
func (r *runLoop) wait(t *testing.T, what string) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return within 30s of %s", what)
		return nil
	}
}

// signal sends sig on ch the way os/signal does: without blocking, and
// dropped when the channel is full.
func signal(ch chan<- os.Signal, sig os.Signal) {
	select {
	case ch <- sig:
	default:
	}
}

// save writes data to the config file: in place, or by renaming a
// temporary file over it as editors that save atomically do.
func (r *runLoop) save(t *testing.T, data string, rename bool) {
	t.Helper()
	saveConfig(t, r.path, []byte(data), rename)
}

// read waits until Run has handled the watcher's next read.
func (r *runLoop) read(t *testing.T) FileRead {
	t.Helper()
	select {
	case fr := <-r.handled:
		return fr
	case <-time.After(10 * time.Second):
		t.Fatal("no read of the config file within 10s")
		return FileRead{}
	}
}

// records waits until the gateway has made at least n records since it
// was created, and returns the config file's records.
func (r *runLoop) records(t *testing.T, n uint64) []ReloadRecord {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d reload records", n), func() bool { return r.g.reloads.count() >= n })
	return r.g.Reloads()
}

// next waits for the record after the n-th and returns it.
func (r *runLoop) next(t *testing.T, n uint64) ReloadRecord {
	t.Helper()
	r.records(t, n+1)
	rec, _ := r.g.reloads.last(configSource)
	return rec
}

// logRecorder is a [slog.Handler] that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}

// count returns how many records at level have msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Level == level && r.Message == msg {
			n++
		}
	}
	return n
}

// TestRunReloadFailureMetric makes the config file unreadable in each way
// it can be: each is one rejected attempt, recorded once however often the
// watcher looks again, that sets gateway_config_last_reload_successful to
// 0; the same bytes back make the metric 1 again, as an unchanged attempt.
func TestRunReloadFailureMetric(t *testing.T) {
	a := startBackend(t, "a", nil)
	good := withAdmin(poolConfig("round_robin", "", a.URL))
	tests := []struct {
		name    string
		break_  func(t *testing.T, path string)
		cause   error
		restore func(t *testing.T, path string)
	}{
		{"deleted", func(t *testing.T, path string) { must(t, os.Remove(path)) }, os.ErrNotExist, nil},
		{"replaced by a directory", func(t *testing.T, path string) {
			must(t, os.Remove(path))
			must(t, os.Mkdir(path, 0o755))
		}, syscall.EISDIR, func(t *testing.T, path string) { must(t, os.Remove(path)) }},
		{"unreadable: a socket", func(t *testing.T, path string) {
			must(t, os.Remove(path))
			ln, err := net.Listen("unix", path)
			must(t, err)
			t.Cleanup(func() { ln.Close() })
		}, syscall.ENXIO, func(t *testing.T, path string) {
			// The listener owns the socket file and may have unlinked it.
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}},
		{"unreadable: mode 000", func(t *testing.T, path string) {
			if os.Geteuid() == 0 {
				t.Skip("root reads files whatever their mode")
			}
			must(t, os.Chmod(path, 0))
		}, syscall.EACCES, func(t *testing.T, path string) { must(t, os.Remove(path)) }},
		{"its directory removed", func(t *testing.T, path string) { must(t, os.RemoveAll(filepath.Dir(path))) },
			os.ErrNotExist, func(t *testing.T, path string) { must(t, os.Mkdir(filepath.Dir(path), 0o755)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRun(t, good, RunOptions{Watch: true, NewWatcher: reloadWatcher(reload.Options{PollInterval: 10 * time.Millisecond})})
			n := r.g.reloads.count()
			tt.break_(t, r.path)
			rec := r.next(t, n)
			if rec.Result != ResultRejected || rec.Trigger != TriggerWatch || rec.Hash != "" || !strings.Contains(rec.Error, r.path) {
				t.Fatalf("record %+v, want a rejected watch attempt naming %s", rec, r.path)
			}
			fams := scrape(t, r.g)
			wantMetric(t, fams, 0, "gateway_config_last_reload_successful")
			wantMetric(t, fams, 1, "gateway_config_reloads_total", "trigger", "watch", "result", "rejected")

			// The watcher looks again every 10ms while a directory is
			// missing: the same error is not recorded again.
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				if c := r.g.reloads.count(); c != n+1 {
					t.Fatalf("%d records after the file broke, want 1: %+v", c-n, r.g.Reloads())
				}
				time.Sleep(10 * time.Millisecond)
			}

			if tt.restore != nil {
				tt.restore(t, r.path)
			}
			r.save(t, good, false)
			rec = r.next(t, n+1)
			if rec.Result != ResultUnchanged || rec.Hash != config.Hash([]byte(good)) {
				t.Fatalf("after restoring the same bytes: %+v, want unchanged", rec)
			}
			wantMetric(t, scrape(t, r.g), 1, "gateway_config_last_reload_successful")
		})
	}
}

// TestRunReadFailureRecordedOncePerError checks the gateway's side of the
// rule: the same read error found again by watching is not recorded
// again; another error is, and so is one a signal asked for.
func TestRunReadFailureRecordedOncePerError(t *testing.T) {
	a := startBackend(t, "a", nil)
	g, _ := startGateway(t, poolConfig("round_robin", "", a.URL))
	missing := &os.PathError{Op: "open", Path: "gateway.yaml", Err: syscall.ENOENT}
	denied := &os.PathError{Op: "open", Path: "gateway.yaml", Err: syscall.EACCES}
	reads := []struct {
		err       error
		triggered bool
		recorded  bool
	}{
		{missing, false, true},
		{missing, false, false},
		{missing, false, false},
		{denied, false, true},
		{missing, false, true},
		{missing, true, true},
		{missing, true, true},
	}
	for i, rd := range reads {
		before := g.reloads.count()
		g.reloadRead("gateway.yaml", FileRead{Path: "/x/gateway.yaml", Err: rd.err, Triggered: rd.triggered})
		if got := g.reloads.count() != before; got != rd.recorded {
			t.Fatalf("read %d (%v, triggered %v): recorded %v, want %v", i, rd.err, rd.triggered, got, rd.recorded)
		}
	}
}

// fakeWatcher is a [Watcher] that reads its paths once when it starts and
// then reports only the errors the test makes.
type fakeWatcher struct {
	cfg   WatcherConfig
	mu    sync.Mutex
	paths []string
}

func (w *fakeWatcher) Watch(paths ...string) {
	w.mu.Lock()
	w.paths = paths
	w.mu.Unlock()
}

func (w *fakeWatcher) Trigger() {}

func (w *fakeWatcher) Run(ctx context.Context) error {
	w.mu.Lock()
	paths := w.paths
	w.mu.Unlock()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		w.cfg.OnRead(FileRead{Path: p, Data: data, Err: err})
	}
	<-ctx.Done()
	return nil
}

// TestRunWatcherErrorReported checks that a watcher that cannot watch is
// logged at error level, shown on /status and in the metrics, and not in
// readiness, and that its recovery is shown too.
func TestRunWatcherErrorReported(t *testing.T) {
	a := startBackend(t, "a", nil)
	watchers := make(chan *fakeWatcher, 1)
	r := startRun(t, withAdmin(poolConfig("round_robin", "", a.URL)), RunOptions{Watch: true, NewWatcher: func(wc WatcherConfig) Watcher {
		w := &fakeWatcher{cfg: wc}
		watchers <- w
		return w
	}})
	w := <-watchers
	if st := adminStatus(t, r.g); st.Watch.State != WatchWatching || st.Watch.Since == nil {
		t.Fatalf("/status watch %+v before any error, want watching", st.Watch)
	}
	wantMetric(t, scrape(t, r.g), 0, "gateway_config_watcher_failing")

	failure := errors.New("reload: start watching: too many open files")
	w.cfg.OnError(failure)
	st := adminStatus(t, r.g)
	if st.Watch.State != WatchFailing || st.Watch.Error != failure.Error() || !st.Ready {
		t.Fatalf("/status after a watcher error: watch %+v, ready %v; want failing with the error, and ready", st.Watch, st.Ready)
	}
	if code, _ := adminGet(t, r.g, "/readyz"); code != 200 {
		t.Fatalf("/readyz answered %d while the watcher fails, want 200", code)
	}
	fams := scrape(t, r.g)
	wantMetric(t, fams, 1, "gateway_config_watcher_failing")
	wantMetric(t, fams, 1, "gateway_config_watcher_failures_total")
	if n := r.logs.count(slog.LevelError, "config watcher failed; changes are found by polling until it works again"); n != 1 {
		t.Fatalf("the watcher error was logged %d times at error level, want once", n)
	}

	w.cfg.OnError(nil)
	if st := adminStatus(t, r.g); st.Watch.State != WatchWatching || st.Watch.Error != "" {
		t.Fatalf("/status after recovery: watch %+v, want watching", st.Watch)
	}
	fams = scrape(t, r.g)
	wantMetric(t, fams, 0, "gateway_config_watcher_failing")
	wantMetric(t, fams, 1, "gateway_config_watcher_failures_total")
}

// TestRunWatchOff checks that without watching, saves wait for a signal,
// which reads the file after the quiet period, and /status says so.
func TestRunWatchOff(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	r := startRun(t, withAdmin(poolConfig("round_robin", "", a.URL)), RunOptions{Watch: false})
	if st := adminStatus(t, r.g); st.Watch.State != WatchOff {
		t.Fatalf("/status watch %+v, want off", st.Watch)
	}
	n := r.g.reloads.count()
	next := withAdmin(poolConfig("round_robin", "", b.URL))
	r.save(t, next, true)
	signal(r.hup, syscall.SIGHUP)
	rec := r.next(t, n)
	if rec.Result != ResultApplied || rec.Trigger != TriggerSignal || rec.Hash != config.Hash([]byte(next)) {
		t.Fatalf("record %+v, want the saved config applied by signal", rec)
	}
	if got := r.g.reloads.count(); got != n+1 {
		t.Fatalf("%d records for one save and one signal", got-n)
	}

	// A signal that re-reads the running file: unchanged.
	signal(r.hup, syscall.SIGHUP)
	if rec := r.next(t, n+1); rec.Result != ResultUnchanged || rec.Trigger != TriggerSignal {
		t.Fatalf("record %+v, want unchanged by signal", rec)
	}
}

// TestRunTouchRecordsNothing checks that a watched file touched or saved
// without a change is not recorded, while a comment is, as unchanged.
func TestRunTouchRecordsNothing(t *testing.T) {
	a := startBackend(t, "a", nil)
	cfg := withAdmin(poolConfig("round_robin", "", a.URL))
	r := startRun(t, cfg, RunOptions{Watch: true})
	n := r.g.reloads.count()
	now := time.Now()
	must(t, os.Chtimes(r.path, now, now))
	r.read(t)
	r.save(t, cfg, true)
	r.read(t)
	if got := r.g.reloads.count(); got != n {
		t.Fatalf("a touch and a save without changes made %d records: %+v", got-n, r.g.Reloads())
	}
	r.save(t, "# a comment\n"+cfg, false)
	r.read(t)
	rec := r.next(t, n)
	if rec.Result != ResultUnchanged || rec.Hash != config.Hash([]byte("# a comment\n"+cfg)) {
		t.Fatalf("record %+v, want the commented file unchanged", rec)
	}
	if got := r.g.reloads.count(); got != n+1 {
		t.Fatalf("%d records, want 1: %+v", got-n, r.g.Reloads())
	}
}

// must fails the test if err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// withServers is a config with pool p of the given servers, an admin
// listener, and extra top-level keys.
func withServers(extra string, servers ...string) string {
	return strings.Replace(withAdmin(poolConfig("round_robin", "", servers...)), "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:0\n"+extra, 1)
}

// TestRunConnectionCapAcrossReloads holds maxConnections connections busy
// and reloads five times with settings that start a new server: the cap
// holds across all of them, and the held requests all finish.
func TestRunConnectionCapAcrossReloads(t *testing.T) {
	const limit = 8
	gate, entered := newReleaseGate(t), make(chan struct{}, limit)
	a := startBackend(t, "a", slowHandler("a", gate, entered))
	config := func(i int) string {
		return withServers(fmt.Sprintf("maxConnections: %d\nclientIdleTimeout: %ds\n", limit, 60+i), a.URL)
	}
	r := startRun(t, config(0), RunOptions{Watch: true})
	addr := r.g.Addr()
	held := make([]<-chan string, limit)
	for i := range held {
		held[i] = getLater("http://" + addr + "/slow")
		<-entered
	}
	refusedAll := func(when string) {
		t.Helper()
		for range limit {
			resp, body, err := dialKeepAlive(t, addr).send("/", "")
			if err != nil || resp.StatusCode != 503 || body != "too many connections\n" || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("%s, a connection over the cap got %v %q, %v; want the gateway's 503", when, resp, body, err)
			}
		}
	}
	refusedAll("before any reload")
	for i := 1; i <= 5; i++ {
		n := r.g.reloads.count()
		server := r.g.listener
		r.save(t, config(i), i%2 == 0)
		if rec := r.next(t, n); rec.Result != ResultApplied {
			t.Fatalf("reload %d: %+v", i, rec)
		}
		if r.g.listener == server {
			t.Fatalf("reload %d did not start a new server", i)
		}
		refusedAll(fmt.Sprintf("after reload %d", i))
	}
	gate.open()
	for i, h := range held {
		if got := <-h; got != "200 slow" {
			t.Fatalf("held request %d got %q, want 200 slow", i, got)
		}
	}
	// The count went down with the held connections, whichever server
	// served them.
	waitUntil(t, "the held connections to close", func() bool { return r.g.public.limit.open.Load() == 0 })
	for range limit {
		if status, body := dialKeepAlive(t, addr).get(t, "/"); status != 200 || body != "a" {
			t.Fatalf("under the cap again got %d %q", status, body)
		}
	}
}

// newConnectionLoad is clients that each connect, send one request and
// close, over and over, to whatever address target holds; it counts what
// happened after a connection was established.
type newConnectionLoad struct {
	target  sync.Map // "addr" -> string
	path    string
	quit    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	ok      int
	refused int      // the connection was not established
	failed  []string // established, then no 200
}

func startNewConnectionLoad(clients int, addr, path string) *newConnectionLoad {
	l := &newConnectionLoad{path: path, quit: make(chan struct{})}
	l.target.Store("addr", addr)
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.quit:
					return
				default:
				}
				addr, _ := l.target.Load("addr")
				c, err := net.DialTimeout("tcp", addr.(string), time.Second)
				if err != nil {
					l.mu.Lock()
					l.refused++
					l.mu.Unlock()
					continue
				}
				k := &keepAliveConn{Conn: c, r: bufio.NewReader(c)}
				resp, _, err := k.send(l.path, "Connection: close\r\n")
				c.Close()
				l.mu.Lock()
				if err != nil || resp.StatusCode != 200 {
					l.failed = append(l.failed, fmt.Sprintf("%s: %v %v", addr, resp, err))
				} else {
					l.ok++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// served returns how many requests were answered 200.
func (l *newConnectionLoad) served() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok
}

// stop ends the clients and fails the test if a connection that was
// established did not get its 200.
func (l *newConnectionLoad) stop(t *testing.T, across string) {
	t.Helper()
	close(l.quit)
	l.wg.Wait()
	if len(l.failed) > 0 {
		t.Fatalf("%d of %d established connections failed across %s; the first: %s", len(l.failed), l.ok+len(l.failed), across, l.failed[0])
	}
	t.Logf("%d requests on new connections across %s; %d connections not established", l.ok, across, l.refused)
}

// TestRunAddressMovesUnderLoad moves the listen address, then the admin
// address, back and forth 20 times while clients open new connections to
// the address in force: every connection the gateway accepted is served.
// Most moves come back before the address left has retired, and take its
// socket back; every fourth waits until it has closed.
func TestRunAddressMovesUnderLoad(t *testing.T) {
	a := startBackend(t, "a", nil)
	base := poolConfig("round_robin", "", a.URL)
	listens, admins := []string{freeAddr(t), freeAddr(t)}, []string{freeAddr(t), freeAddr(t)}
	for _, tt := range []struct {
		name   string
		config func(i int) string
		addr   func(r *runLoop) string
		path   string
		door   func(r *runLoop) *entrance
	}{
		{"listen", func(i int) string { return withListen(base, listens[i%2]) + "admin: " + admins[0] + "\n" },
			func(r *runLoop) string { return r.g.Addr() }, "/", func(r *runLoop) *entrance { return r.g.public }},
		{"admin", func(i int) string { return withListen(base, listens[0]) + "admin: " + admins[i%2] + "\n" },
			func(r *runLoop) string { return r.g.AdminAddr() }, "/healthz", func(r *runLoop) *entrance { return r.g.adminDoor }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const moves = 20
			r := startRun(t, tt.config(0), RunOptions{Watch: true})
			load := startNewConnectionLoad(8, tt.addr(r), tt.path)
			for i := 1; i <= moves; i++ {
				n := r.g.reloads.count()
				r.save(t, tt.config(i), i%2 == 0)
				if rec := r.next(t, n); rec.Result != ResultApplied {
					load.stop(t, "the moves")
					t.Fatalf("move %d: %+v", i, rec)
				}
				load.target.Store("addr", tt.addr(r))
				from := load.served()
				waitUntil(t, "requests after the move", func() bool { return load.served() >= from+16 })
				if i%4 == 0 {
					waitRetired(t, tt.door(r))
				}
			}
			load.stop(t, fmt.Sprintf("%d moves of %s", moves, tt.name))
		})
	}
}

// TestRunSignalDuringDrainIgnored sends SIGTERM with slow requests in
// flight, then SIGHUPs: they are logged once and ignored, every request
// gets its 200, and Run returns nil.
func TestRunSignalDuringDrainIgnored(t *testing.T) {
	const slow = 20
	gate, entered := newReleaseGate(t), make(chan struct{}, slow)
	a := startBackend(t, "a", slowHandler("a", gate, entered))
	r := startRun(t, withServers("", a.URL), RunOptions{Watch: true})
	results := make([]<-chan string, slow)
	for i := range results {
		results[i] = getLater("http://" + r.g.Addr() + "/slow")
		<-entered
	}
	signal(r.stop, syscall.SIGTERM)
	waitUntil(t, "the drain to begin", func() bool { return !r.g.Ready() })
	for range 5 {
		r.hup <- syscall.SIGHUP
	}
	waitUntil(t, "the ignored signal to be logged", func() bool {
		return r.logs.count(slog.LevelInfo, "reload signal during shutdown; ignored") == 1
	})
	gate.open()
	for i, res := range results {
		if got := <-res; got != "200 slow" {
			t.Fatalf("request %d in flight got %q, want 200 slow", i, got)
		}
	}
	if err := r.wait(t, "the drain"); err != nil {
		t.Fatalf("Run returned %v after the drain, want nil", err)
	}
	if n := r.logs.count(slog.LevelInfo, "reload signal during shutdown; ignored"); n != 1 {
		t.Fatalf("the ignored signals were logged %d times, want once", n)
	}
}

// TestRunSecondStopInterrupts checks that a second SIGTERM or SIGINT
// during the drain ends Run at once with ErrInterrupted.
func TestRunSecondStopInterrupts(t *testing.T) {
	gate, entered := newReleaseGate(t), make(chan struct{}, 1)
	a := startBackend(t, "a", slowHandler("a", gate, entered))
	defer gate.open() // before the backend's cleanup waits for the handler
	r := startRun(t, withServers("", a.URL), RunOptions{Watch: true})
	getLater("http://" + r.g.Addr() + "/slow")
	<-entered
	signal(r.stop, syscall.SIGTERM)
	waitUntil(t, "the drain to begin", func() bool { return !r.g.Ready() })
	signal(r.stop, syscall.SIGINT)
	if err := r.wait(t, "a second stop signal"); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run returned %v, want ErrInterrupted", err)
	}
}

// TestRunSignalFloodNeverStarvesStop floods the reload channel while a
// stop signal comes: Run drains and returns all the same.
func TestRunSignalFloodNeverStarvesStop(t *testing.T) {
	a := startBackend(t, "a", nil)
	r := startRun(t, withServers("", a.URL), RunOptions{Watch: true})
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		for range 100000 {
			signal(r.hup, syscall.SIGHUP)
		}
	}()
	signal(r.stop, syscall.SIGTERM)
	if err := r.wait(t, "a stop signal during a flood of reload signals"); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
	<-flooding
}

// writeSlowly rewrites the file at path in place in parts, pausing less
// than the watcher's quiet period between them, the way a slow tool
// writes; after the first part it calls during.
func writeSlowly(t *testing.T, path, content string, parts int, pause time.Duration, during func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	defer f.Close()
	size := (len(content) + parts - 1) / parts
	for i := 0; i < len(content); i += size {
		_, err := f.WriteString(content[i:min(i+size, len(content))])
		must(t, err)
		if i == 0 && during != nil {
			during()
		}
		time.Sleep(pause) // part of the edit: a slow writer
	}
	must(t, f.Close())
}

// TestRunSignalMidWriteConverges sends SIGHUP in the middle of slow
// in-place rewrites: the signal's read waits for the quiet period, so the
// half-written file is never applied, and whatever the sequence, the
// gateway ends up running the file's final content. The quiet period is
// 300ms, twenty times the writer's pauses, so that a loaded machine cannot
// stretch a pause into one.
func TestRunSignalMidWriteConverges(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	both := withServers("", a.URL, b.URL)
	onlyA := withServers("", a.URL)
	r := startRun(t, both, RunOptions{Watch: true, NewWatcher: reloadWatcher(reload.Options{Debounce: 300 * time.Millisecond})})
	running := r.g.current()

	// A rewrite that ends as it began, whose first part alone
	// is a valid config without b.
	n := r.g.reloads.count()
	writeSlowly(t, r.path, both, 3, 15*time.Millisecond, func() { signal(r.hup, syscall.SIGHUP) })
	rec := r.next(t, n)
	if rec.Result != ResultUnchanged || rec.Trigger != TriggerSignal || r.g.current() != running {
		t.Fatalf("record %+v after a rewrite to the same content; want unchanged by signal, generation %d serving", rec, running.number)
	}

	// Sequences of writes and signals: the gateway converges on the last
	// content written.
	contents := []string{onlyA, both, "# b is back\n" + both, onlyA}
	for i, final := range contents {
		for j := range 3 {
			content := contents[(i+j)%len(contents)]
			if j == 2 {
				content = final
			}
			writeSlowly(t, r.path, content, 2+j, time.Duration(5*j)*time.Millisecond, func() { signal(r.hup, syscall.SIGHUP) })
		}
		want := config.Hash([]byte(final))
		waitUntil(t, "the final content to run", func() bool { return r.g.RunningHash() == want })
		if got := len(r.g.current().pools[0].backends); got != strings.Count(final, "      - ") {
			t.Fatalf("sequence %d: %d backends serve, want the final file's %d", i, got, strings.Count(final, "      - "))
		}
	}
}

// TestRunRejectedResaveApplies rejects a config whose listen address is in
// use, frees the address, and saves the same bytes again, or only touches
// the file: the config applies, whatever was rejected before.
func TestRunRejectedResaveApplies(t *testing.T) {
	a := startBackend(t, "a", nil)
	for _, tt := range []struct {
		name  string
		again func(t *testing.T, r *runLoop, data string)
	}{
		{"rename-save", func(t *testing.T, r *runLoop, data string) { r.save(t, data, true) }},
		{"touch", func(t *testing.T, r *runLoop, data string) {
			now := time.Now()
			must(t, os.Chtimes(r.path, now, now))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := startRun(t, withServers("", a.URL), RunOptions{Watch: true})
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			must(t, err)
			moved := withListen(withServers("", a.URL), taken.Addr().String())
			n := r.g.reloads.count()
			r.save(t, moved, true)
			if rec := r.next(t, n); rec.Result != ResultRejected || !strings.Contains(rec.Error, "address already in use") {
				t.Fatalf("record %+v, want rejected for the address in use", rec)
			}
			wantMetric(t, scrape(t, r.g), 0, "gateway_config_last_reload_successful")

			taken.Close()
			tt.again(t, r, moved)
			if rec := r.next(t, n+1); rec.Result != ResultApplied || rec.Hash != config.Hash([]byte(moved)) {
				t.Fatalf("record %+v, want the same bytes applied", rec)
			}
			if r.g.Addr() != taken.Addr().String() {
				t.Fatalf("listening on %s, want %s", r.g.Addr(), taken.Addr())
			}
			wantMetric(t, scrape(t, r.g), 1, "gateway_config_last_reload_successful")
		})
	}
}
