package gateway

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
)

// backend is one server of one pool, or one address of a resolved
// server's name, and everything the gateway knows about it: its health,
// its in-flight and served counts, the settings its pool gives it and the
// [upstream] that keeps its keep-alive connections.
//
// A backend is its pool's name and its canonical URL ([backendKey]), a
// resolved server's backend having an address in place of the name;
// nothing else. Generations share backend objects: a reload
// that keeps the server in the pool hands the same object to the new
// generation, with its health, counters, in-flight requests and
// connections, and applies the pool's new settings to it in place
// ([backend.update]). A server listed in two pools is two backends, each
// with the health its own pool's checks give it.
type backend struct {
	// key is the backend's identity, see [backendKey].
	key string
	// hash is the hash of the server's canonical URL, for ip_hash.
	hash uint64
	// addr is the "host:port" the backend is dialled at.
	addr string
	// https tells that the server's scheme is https.
	https bool
	// health is the backend's health state.
	health *health.Status

	// settings, upstream and read are what a reload changes in place;
	// requests read each of them with one atomic load.
	settings atomic.Pointer[backendSettings]
	upstream atomic.Pointer[upstream]
	// read is the pool's responseHeaderTimeout, which the backend's
	// connections read afresh before every read and write.
	read sharedTimeout

	inFlight atomic.Int64
	served   atomic.Uint64
	failures atomic.Uint64
	// warnings samples the failures logged at warn.
	warnings logGate

	opts backendOptions
	// mu guards checker and retired, which only a reload or shutdown
	// touches, never a request.
	mu      sync.Mutex
	checker *health.Checker
	retired bool
}

// backendSettings are the settings that a backend's pool gives it and that
// do not shape its connections. A backendSettings never changes; a reload
// that changes them stores new ones in [backend.settings].
type backendSettings struct {
	// url is the server's URL as the config spells it, lowercased, with
	// the address in place of a resolved server's name: what logs,
	// metrics and /status show.
	url string
	// source is the name a resolved server's backend is an address of;
	// "" for a server of its own.
	source string
	// probeURL is the URL the probes are sent to, and whose host is
	// their Host header and TLS server name: url, or a resolved server's
	// own URL, with the name. Probes dial the backend's address
	// whatever the URL's host.
	probeURL string
	// passive configures the passive health of the backend.
	passive health.PassiveConfig
	// check configures the active checks, the probes' Host header
	// included; nil when probing is off.
	check *health.CheckConfig
}

// backendOptions are what a [Gateway] gives every backend it builds.
type backendOptions struct {
	// logger receives the backend's health transitions.
	logger *slog.Logger
	// dial is [Options.DialContext]; nil dials with [dialTCP].
	dial dialFunc
	// prober makes the prober of the backend's active checks;
	// [health.NewHTTPProber] when nil.
	prober func(baseURL string, cfg health.CheckConfig) health.Prober
	// checks runs the probes of every backend, with a bounded number of
	// goroutines whatever the number of backends; nil gives each checker
	// a scheduler of its own.
	checks *health.Scheduler
}

// backendKey returns the identity of the backend at u in the pool called
// pool: the pool's name and [config.CanonicalURL] of u, the server's URL
// or, for a resolved server, its URL with an address in place of the
// name. A reload or an answer that keeps the key keeps the backend,
// whatever else changed.
func backendKey(pool string, u *url.URL) string {
	return pool + " " + config.CanonicalURL(u)
}

// displayURL returns the URL a person and a metric label see for u.
func displayURL(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// newBackend builds the backend for target t of pool p, speaking TLS with
// ct to an https server. Its checker is not started; [backend.start] does
// that once the generation is published.
func newBackend(t target, p *config.PoolConfig, opts backendOptions, ct *clientTLS) *backend {
	canonical := config.CanonicalURL(t.url)
	b := &backend{key: backendKey(p.Name, t.url), https: strings.HasPrefix(canonical, "https:"), opts: opts}
	b.addr = canonical[strings.Index(canonical, "://")+3:]
	b.hash = fnv64([]byte(canonical))
	settings := newBackendSettings(t, p)
	b.settings.Store(settings)
	b.read.set(p.ResponseHeaderTimeout)
	logger := opts.logger.With("pool", p.Name)
	b.health = health.NewStatus(settings.url, logger)
	b.upstream.Store(b.newUpstream(p, serverName(t), ct))
	if settings.check != nil {
		b.checker = b.newChecker(settings)
	}
	return b
}

// serverName returns the TLS server name of t's backend: the host of its
// server's URL, so the name of a resolved server rather than the
// address.
func serverName(t target) string {
	canonical := config.CanonicalURL(t.server.URL)
	host, _, _ := net.SplitHostPort(canonical[strings.Index(canonical, "://")+3:])
	return host
}

// newBackendSettings returns the settings that pool p gives the backend
// of target t.
func newBackendSettings(t target, p *config.PoolConfig) *backendSettings {
	bs := &backendSettings{
		url:      displayURL(t.url),
		probeURL: displayURL(t.server.URL),
		passive:  health.PassiveConfig{MaxFails: p.Passive.MaxFails, Window: p.Passive.Window, EjectFor: p.Passive.EjectFor},
	}
	if t.server.Resolve {
		bs.source = t.server.Name()
	}
	if hc := p.HealthCheck; hc.Enabled {
		cfg := &health.CheckConfig{
			Method:             hc.Method,
			Path:               hc.Path,
			Host:               hc.Host,
			Interval:           hc.Interval,
			Timeout:            hc.Timeout,
			HealthyThreshold:   hc.HealthyThreshold,
			UnhealthyThreshold: hc.UnhealthyThreshold,
		}
		for _, r := range hc.ExpectStatus {
			cfg.Expect = append(cfg.Expect, health.StatusRange{Lo: r.Lo, Hi: r.Hi})
		}
		bs.check = cfg
	}
	return bs
}

// sameProbes reports whether a and b probe alike: the same URL under the
// same check settings, the probes' Host header included, or no probing at
// all.
func sameProbes(a, b *backendSettings) bool {
	if a.check == nil || b.check == nil {
		return a.check == nil && b.check == nil
	}
	x, y := *a.check, *b.check
	return a.url == b.url && a.probeURL == b.probeURL && slices.Equal(x.Expect, y.Expect) &&
		x.Method == y.Method && x.Path == y.Path && x.Host == y.Host && x.Interval == y.Interval && x.Timeout == y.Timeout &&
		x.HealthyThreshold == y.HealthyThreshold && x.UnhealthyThreshold == y.UnhealthyThreshold
}

// newChecker returns a checker that probes the backend under settings.
// Probes dial as the backend's requests do, the backend's address, and
// speak TLS as they do.
func (b *backend) newChecker(settings *backendSettings) *health.Checker {
	newProber := b.opts.prober
	if newProber == nil {
		newProber = health.NewHTTPProber
	}
	cfg := *settings.check
	dial := b.dialer()
	cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial(ctx, network, b.addr)
	}
	cfg.TLS = b.upstream.Load().tls
	if b.opts.checks == nil {
		return health.NewChecker(b.health, newProber(settings.probeURL, cfg), cfg)
	}
	return b.opts.checks.NewChecker(b.health, newProber(settings.probeURL, cfg), cfg)
}

// dialer returns the function that opens the backend's TCP connections:
// [Options.DialContext] when the gateway has one, else [dialTCP].
func (b *backend) dialer() dialFunc {
	if b.opts.dial != nil {
		return b.opts.dial
	}
	return dialTCP
}

// name returns the backend's URL as the config being served spells it.
func (b *backend) name() string {
	return b.settings.Load().url
}

// start starts the backend's active health checker, if it has one.
func (b *backend) start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.checker != nil && !b.retired {
		b.checker.Start()
	}
}

// update applies the settings of pool p, in which the backend is target
// t spoken to in TLS with ct, to the backend in place, once the generation
// of p is published. The backend keeps its health, counters and in-flight
// requests:
//   - new passive settings apply to the next failure; the failures in the
//     window and an ejection in force are kept, unless passive health is
//     turned off, which forgets them;
//   - new probe settings (the probes' Host header among them) restart the
//     checker, which keeps the verdict and probes at once: a down backend
//     stays down until HealthyThreshold probes under the new settings
//     pass. Probing turned off stops the checker and leaves the backend up
//     unless it is ejected;
//   - a new responseHeaderTimeout applies to the next read or write of
//     every connection;
//   - a new connectTimeout or idleTimeout, a new TLS server name, or new
//     TLS material (other files, or files the watcher read changed),
//     replaces the [upstream] ([backend.setUpstream]): new requests open
//     new connections, the old idle ones close at once, and each old one
//     in use closes when its request ends. Otherwise the keep-alive
//     connections are kept. New TLS material restarts the checker too, as
//     new probe settings do.
func (b *backend) update(t target, p *config.PoolConfig, ct *clientTLS) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return
	}
	old, next := b.settings.Load(), newBackendSettings(t, p)
	b.settings.Store(next)
	b.read.set(p.ResponseHeaderTimeout)
	if next.url != old.url {
		b.health.SetName(next.url)
	}
	name := serverName(t)
	u := b.upstream.Load()
	tlsChanged := b.https && (u.material != ct || u.serverName != name)
	if u.connect != p.ConnectTimeout || u.idleFor != p.IdleTimeout || tlsChanged {
		b.setUpstream(b.newUpstream(p, name, ct))
	}
	if old.passive.MaxFails > 0 && next.passive.MaxFails <= 0 {
		b.health.DisablePassive()
	}
	if sameProbes(old, next) && !tlsChanged {
		return
	}
	if b.checker != nil {
		b.checker.Stop()
		b.checker = nil
	}
	if next.check == nil {
		b.health.DisableActive()
		return
	}
	b.checker = b.newChecker(next)
	b.checker.Start()
}

// retire is called when a reload removes the backend from the config, or
// at shutdown: its checker stops at once, and its [upstream] is retired:
// its idle connections close at once, and each one in use closes when its
// request ends.
func (b *backend) retire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return
	}
	b.retired = true
	if b.checker != nil {
		b.checker.Stop()
	}
	b.health.Close()
	b.upstream.Load().retire()
}

// acquire counts a request in flight on b and returns the [upstream] the
// request goes through, whatever a reload stores in [backend.upstream]
// meanwhile; [backend.release] with it ends the request.
func (b *backend) acquire() *upstream {
	b.inFlight.Add(1)
	u := b.upstream.Load()
	u.inFlight.Add(1)
	return u
}

// release ends a request that [backend.acquire] counted on u.
func (b *backend) release(u *upstream) {
	u.inFlight.Add(-1)
	b.inFlight.Add(-1)
}

// newUpstream returns an upstream to b under the settings of pool p: TLS
// with ct for an https backend (see [clientTLS.configFor]), verified
// for and sent serverName unless ct names another, and the backend's
// shared responseHeaderTimeout for every connection.
func (b *backend) newUpstream(p *config.PoolConfig, serverName string, ct *clientTLS) *upstream {
	return b.upstreamWith(p.ConnectTimeout, p.IdleTimeout, serverName, ct)
}

// upstreamWith returns an upstream to b that connects within connect,
// keeps idle connections for idleFor and speaks TLS with ct to an https
// backend, for serverName.
func (b *backend) upstreamWith(connect, idleFor time.Duration, serverName string, ct *clientTLS) *upstream {
	var tlsConfig *tls.Config
	if !b.https {
		ct, serverName = nil, ""
	} else {
		tlsConfig = ct.configFor(serverName)
	}
	u := newUpstream(b.addr, tlsConfig, connect, idleFor, &b.read, b.dialer())
	u.material, u.serverName = ct, serverName
	return u
}

// rotateTLS gives an https backend whose TLS material is old the material
// ct, which the watcher read changed files into: new connections and a
// restarted checker, under the same settings otherwise; the backend keeps
// its health state. It is called under the gateway's apply lock.
func (b *backend) rotateTLS(old, ct *clientTLS) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.upstream.Load()
	if b.retired || !b.https || u.material != old {
		return
	}
	b.setUpstream(b.upstreamWith(u.connect, u.idleFor, u.serverName, ct))
	if b.checker != nil {
		b.checker.Stop()
		b.checker = b.newChecker(b.settings.Load())
		b.checker.Start()
	}
}

// setUpstream makes u the way to b for the requests that start from now
// on, and retires the upstream it replaces (see [upstream.retire]).
func (b *backend) setUpstream(u *upstream) {
	b.upstream.Swap(u).retire()
}
