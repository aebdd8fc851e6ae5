package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
	"github.com/valyala/fasthttp"
)

// Gateway is a running reverse proxy. What one config produces, its pools,
// their backends and the routes to them, is a generation, numbered from 1.
// When [Gateway.Apply] is given a new config, the next generation is built
// completely beside the running one and published with one atomic store,
// so a request finishes on the generation it started with and none is
// dropped.
type Gateway struct {
	logger   *slog.Logger
	backends backendOptions

	gen atomic.Pointer[generation]

	// mu serialises Apply and guards what only Apply touches.
	mu       sync.Mutex
	live     map[string]*backend
	number   uint64
	listener *listener
	retired  []*listener // earlier listeners whose connections still run
	admin    *adminServer
	// listenAddr, tlsListenAddr and adminAddr are the addresses the
	// running config names.
	listenAddr, tlsListenAddr, adminAddr string
	closed                               bool

	// public, secure and adminDoor are where clients and operators come
	// in: the sockets of the listen, tls.listen and admin addresses, which
	// outlive the servers in front of them. secure hands its connections,
	// in TLS, to public's servers.
	public    *entrance
	secure    *entrance
	adminDoor *entrance

	// tls is the TLS material of the running config (see [tlsState]), and
	// httpsPort the port a redirect to https names ("" for 443).
	tls       atomic.Pointer[tlsState]
	httpsPort atomic.Pointer[string]

	// runningHash is the hash of the content last found to be the running
	// config: the bytes a generation was built from, or equal bytes a
	// reload found unchanged.
	runningHash atomic.Pointer[string]

	reloads   reloadLog
	tunnels   tunnelSet
	accessLog *accessLog
	metrics   *metrics
	draining  atomic.Bool
	watch     watchState

	// ctx is the gateway's own: the name watches' loops and lookups run
	// under it, and Shutdown cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	// names are the watches of the names of resolved servers, and
	// newLookup makes the function they look names up with.
	names     nameSet
	newLookup func(config.DNSConfig) lookupFunc
}

// Options configures a [Gateway].
type Options struct {
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// DialContext, when set, opens the TCP connections to backends, for
	// proxied requests, upgraded connections and active health probes
	// alike, as the field of the same name does for a
	// [net/http.Transport]; ctx ends at the pool's connectTimeout, or
	// with the probe, and TLS to an https backend goes on top of the
	// connection it returns. When nil, the gateway dials TCP
	// itself, over IPv4 or IPv6, reaching localhost on both.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New returns a gateway that serves nothing until the first successful
// [Gateway.Apply].
func New(opts Options) *Gateway {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{logger: logger, live: make(map[string]*backend), accessLog: new(accessLog)}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.newLookup = func(cfg config.DNSConfig) lookupFunc { return newDNSClient(cfg).lookup }
	g.backends = backendOptions{logger: logger, dial: opts.DialContext, checks: health.NewScheduler(0)}
	g.metrics = newMetrics(g)
	g.public = newEntrance("listen", logger, new(connLimit))
	g.public.onRefuse = func() { g.metrics.unrouted.count(fasthttp.StatusServiceUnavailable) }
	serverTLS := &tls.Config{GetConfigForClient: g.serverTLSConfig}
	g.secure = g.public.sibling("tls.listen", func(c net.Conn) net.Conn { return tls.Server(c, serverTLS) })
	g.adminDoor = newEntrance("admin", logger, nil)
	return g
}

// ShutdownTimeout returns how long [Gateway.Shutdown] should let requests
// in flight finish: the shutdownTimeout of the config being served, which
// holds its default when the file leaves it out. It returns 0 before a
// config was applied, when nothing is being served.
func (g *Gateway) ShutdownTimeout() time.Duration {
	if gen := g.gen.Load(); gen != nil {
		return gen.cfg.ShutdownTimeout
	}
	return 0
}

// RunningHash returns the hash of the config content that runs: the bytes
// the generation being served was built from or, after a reload found
// other bytes to be the same config, those. It is "" before a config was
// applied.
func (g *Gateway) RunningHash() string {
	if h := g.runningHash.Load(); h != nil {
		return *h
	}
	return ""
}

// Triggers name what caused a reload in its [ReloadRecord]: start, watch
// and signal load the config file; certificate reloads a TLS file the
// config names, which the watcher read changed; dns is a changed answer
// for the name of a resolved server.
const (
	TriggerStart       = "start"
	TriggerWatch       = "watch"
	TriggerSignal      = "signal"
	TriggerCertificate = "certificate"
	TriggerDNS         = "dns"
)

// Load decodes data as the config file source and applies it: the very
// code path `gateway validate` checks files with, followed by
// [Gateway.Apply]. A config that does not decode is rejected and recorded
// like one that does not apply; the running generation keeps serving.
func (g *Gateway) Load(source string, data []byte, trigger string) (ReloadRecord, error) {
	start := time.Now()
	cfg, err := config.Decode(source, data)
	if err != nil {
		rec := ReloadRecord{Hash: config.Hash(data), Trigger: trigger, Time: start, Result: ResultRejected, Error: err.Error()}
		rec.Duration = time.Since(start)
		g.record(rec)
		return rec, err
	}
	return g.apply(cfg, trigger, start)
}

// LoadFile reads the config file at path and loads it as [Gateway.Load]
// does. A file that cannot be read is a rejected reload too, recorded and
// counted like one that does not decode.
func (g *Gateway) LoadFile(path, trigger string) (ReloadRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return g.readFailed(err, trigger), err
	}
	return g.Load(path, data, trigger)
}

// readFailed records an attempt whose file could not be read.
func (g *Gateway) readFailed(err error, trigger string) ReloadRecord {
	rec := ReloadRecord{Trigger: trigger, Time: time.Now(), Result: ResultRejected, Error: err.Error()}
	g.record(rec)
	return rec
}

// Apply builds the generation for cfg beside the running one and publishes
// it. A backend is its pool's name and its server's canonical URL
// ([config.CanonicalURL]), a resolved server standing for one backend per
// address of its name: one that stays in the config is carried over with
// its health, counters, in-flight requests and keep-alive connections,
// and takes its pool's new settings in place; new ones start fresh and
// are probed at once; those that left stop probing and close their idle
// connections at once, and the others as their requests end. A name that
// the config brings in is looked up before the generation is built, at
// most the config's dns.timeout per resolver; one it keeps keeps the
// addresses it has. New listen, tls.listen and admin addresses are bound,
// a new access log opened and the TLS files not loaded yet read and
// checked, before anything is published, so a failure rejects the whole
// config. A config equal to the running one (see [config.Config.Equal])
// builds nothing and is recorded as unchanged.
func (g *Gateway) Apply(cfg *config.Config, trigger string) (ReloadRecord, error) {
	return g.apply(cfg, trigger, time.Now())
}

func (g *Gateway) apply(cfg *config.Config, trigger string, start time.Time) (ReloadRecord, error) {
	var stopped []*nameWatch
	g.mu.Lock()
	defer func() {
		g.mu.Unlock()
		waitAll(stopped)
	}()
	rec := ReloadRecord{Hash: cfg.Hash, Trigger: trigger, Time: start}
	if g.closed {
		return g.rejected(rec, errors.New("the gateway is shutting down"))
	}
	prev := g.gen.Load()
	if prev != nil && prev.cfg.Equal(cfg) {
		g.runningHash.Store(&cfg.Hash)
		rec.Generation, rec.Result, rec.Duration = prev.number, ResultUnchanged, time.Since(start)
		g.record(rec)
		return rec, nil
	}
	names := g.names.plan(g.ctx, cfg, g.logger, g.newLookup)
	rec, err := g.publish(cfg, names.addresses(), rec)
	if err != nil {
		return rec, err
	}
	g.runningHash.Store(&cfg.Hash)
	stopped = g.names.commit(g.ctx, names, g.applyDNS)
	return rec, nil
}

// applyDNS publishes a generation with the addresses that w's name has
// now, built from the running config through the same staging, build and
// carry-over as a config, and records it with the trigger dns and the
// name. A name watch calls it when an answer changed the addresses; ctx
// is the watch's, which ends when the name leaves the config. The
// generation carries every other name's addresses over as they were.
func (g *Gateway) applyDNS(ctx context.Context, w *nameWatch) {
	start := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	prev := g.gen.Load()
	if g.closed || ctx.Err() != nil || prev == nil {
		return
	}
	addrs := w.addresses()
	if slices.Equal(prev.addrs[w.name], addrs) {
		return // a config applied meanwhile took them
	}
	next := maps.Clone(prev.addrs)
	next[w.name] = addrs
	g.publish(prev.cfg, next, ReloadRecord{Hash: g.RunningHash(), Trigger: TriggerDNS, Name: w.name, Time: start})
}

// publish builds the generation of cfg, with addrs as the addresses of
// its resolved servers' names, beside the running one, stages what cfg
// needs opened, publishes the generation and records rec with the
// outcome: the one path of config reloads and DNS changes. It is called
// under g.mu.
func (g *Gateway) publish(cfg *config.Config, addrs map[string][]netip.Addr, rec ReloadRecord) (ReloadRecord, error) {
	p := g.plan(cfg)
	st, err := g.stage(cfg, p)
	if err != nil {
		return g.rejected(rec, err)
	}
	gen, backends := build(cfg, addrs, g.number+1, g.gen.Load(), g.live, g.backends, st.tls.client)

	g.number++
	gen.loadedAt = time.Now()
	g.metrics.sync(gen)
	g.gen.Store(gen)
	g.live = backends.live
	backends.commit()
	g.commit(st, cfg)

	rec.Generation, rec.Result, rec.Duration = gen.number, ResultApplied, time.Since(rec.Time)
	rec.Carried, rec.Added, rec.Removed = backends.stats.Carried, backends.stats.Added, backends.stats.Removed
	rec.Listener = p.listener().String()
	g.record(rec)
	return rec, nil
}

// rejected records rec as rejected with err, and returns both.
func (g *Gateway) rejected(rec ReloadRecord, err error) (ReloadRecord, error) {
	rec.Result, rec.Error, rec.Duration = ResultRejected, err.Error(), time.Since(rec.Time)
	g.record(rec)
	return rec, err
}

// Addr returns the address the public listener is bound to, or "" when
// there is none.
func (g *Gateway) Addr() string {
	return g.public.addr()
}

// Ready reports whether the gateway has a config, a listener and is not
// draining: what /readyz answers.
func (g *Gateway) Ready() bool {
	return g.gen.Load() != nil && !g.draining.Load()
}

// Shutdown stops the gateway gracefully: it stops looking names up and
// accepting connections, lets the requests in flight (upgraded
// connections included) finish until ctx is done, then closes what is
// left and stops every health checker.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.draining.Store(true)
	g.cancel() // ends the name watches and any lookup in flight
	g.mu.Lock()
	g.closed = true
	current, retired := g.listener, g.retired
	g.retired, g.listener = nil, nil
	live := g.live
	g.live = map[string]*backend{}
	watches := g.names.stopAll()
	g.mu.Unlock()
	waitAll(watches)

	// Close the sockets first, so that new clients are refused at once
	// and go elsewhere, rather than queue for a server that drains.
	g.secure.close()
	g.public.close()
	var wg sync.WaitGroup
	errs := make([]error, 1+len(retired))
	if current != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[0] = current.shutdown(ctx)
		}()
	}
	for i, ln := range retired {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[1+i] = ln.shutdown(ctx)
		}()
	}
	tunnelsDone := make(chan struct{})
	go func() {
		g.tunnels.Wait()
		close(tunnelsDone)
	}()
	select {
	case <-tunnelsDone:
	case <-ctx.Done():
		g.tunnels.closeAll()
		<-tunnelsDone
	}
	wg.Wait()
	for _, b := range live {
		b.retire()
	}
	g.closeAdmin()
	g.closeAccessLog()
	return errors.Join(errs...)
}

// stillServing drops from retired the listeners whose last connection has
// closed: shutdown need not wait for them.
func stillServing(retired []*listener) []*listener {
	kept := retired[:0]
	for _, l := range retired {
		if l.view.open.Load() > 0 {
			kept = append(kept, l)
		}
	}
	clear(retired[len(kept):])
	return kept
}
