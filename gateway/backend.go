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
	"syscall"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
	"github.com/valyala/fasthttp"
)

// backend is one server of one pool and everything the gateway knows about
// it: its health, its in-flight and served counts, the settings its pool
// gives it and the [upstream] that keeps its keep-alive connections.
//
// A backend is its pool's name and its server's canonical URL
// ([backendKey]); nothing else. Generations share backend objects: a reload
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
	// url is the server's URL as the config spells it, lowercased: what
	// logs, metrics and /status show.
	url string
	// passive configures the passive health of the backend.
	passive health.PassiveConfig
	// check configures the active checks; nil when probing is off.
	check *health.CheckConfig
}

// backendOptions are what a [Gateway] gives every backend it builds.
type backendOptions struct {
	// logger receives the backend's health transitions.
	logger *slog.Logger
	// dial is [Options.DialContext].
	dial dialFunc
	// prober makes the prober of the backend's active checks;
	// [health.NewHTTPProber] when nil.
	prober func(baseURL string, cfg health.CheckConfig) health.Prober
}

// dialFunc opens a connection as [net.Dialer.DialContext] does.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// backendKey returns the identity of the backend that serves u in the pool
// called pool: the pool's name and [config.CanonicalURL] of u. A reload
// that keeps the key keeps the backend, whatever else changed.
func backendKey(pool string, u *url.URL) string {
	return pool + " " + config.CanonicalURL(u)
}

// displayURL returns the URL a person and a metric label see for u.
func displayURL(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// newBackend builds the backend for server s of pool p. Its checker is not
// started; [backend.start] does that once the generation is published.
func newBackend(s config.ServerConfig, p *config.PoolConfig, opts backendOptions) *backend {
	canonical := config.CanonicalURL(s.URL)
	b := &backend{key: backendKey(p.Name, s.URL), https: strings.HasPrefix(canonical, "https:"), opts: opts}
	b.addr = canonical[strings.Index(canonical, "://")+3:]
	b.hash = fnv64([]byte(canonical))
	settings := newBackendSettings(s, p)
	b.settings.Store(settings)
	b.read.set(p.ResponseHeaderTimeout)
	logger := opts.logger.With("pool", p.Name)
	b.health = health.NewStatus(settings.url, logger)
	b.upstream.Store(b.newUpstream(p))
	if settings.check != nil {
		b.checker = b.newChecker(settings)
	}
	return b
}

// newBackendSettings returns the settings that pool p gives its server s.
func newBackendSettings(s config.ServerConfig, p *config.PoolConfig) *backendSettings {
	bs := &backendSettings{
		url:     displayURL(s.URL),
		passive: health.PassiveConfig{MaxFails: p.Passive.MaxFails, Window: p.Passive.Window, EjectFor: p.Passive.EjectFor},
	}
	if hc := p.HealthCheck; hc.Enabled {
		cfg := &health.CheckConfig{
			Method:             hc.Method,
			Path:               hc.Path,
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
// same check settings, or no probing at all.
func sameProbes(a, b *backendSettings) bool {
	if a.check == nil || b.check == nil {
		return a.check == nil && b.check == nil
	}
	x, y := *a.check, *b.check
	return a.url == b.url && slices.Equal(x.Expect, y.Expect) &&
		x.Method == y.Method && x.Path == y.Path && x.Interval == y.Interval && x.Timeout == y.Timeout &&
		x.HealthyThreshold == y.HealthyThreshold && x.UnhealthyThreshold == y.UnhealthyThreshold
}

// newChecker returns a checker that probes the backend under settings.
func (b *backend) newChecker(settings *backendSettings) *health.Checker {
	newProber := b.opts.prober
	if newProber == nil {
		newProber = health.NewHTTPProber
	}
	return health.NewChecker(b.health, newProber(settings.url, *settings.check), *settings.check)
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

// update applies the settings of pool p, in which the backend is server s,
// to the backend in place, once the generation of p is published. The
// backend keeps its health, counters and in-flight requests:
//   - new passive settings apply to the next failure; the failures in the
//     window and an ejection in force are kept, unless passive health is
//     turned off, which forgets them;
//   - new probe settings restart the checker, which keeps the verdict and
//     probes at once: a down backend stays down until HealthyThreshold
//     probes under the new settings pass. Probing turned off stops the
//     checker and leaves the backend up unless it is ejected;
//   - a new responseHeaderTimeout applies to the next read or write of
//     every connection;
//   - a new connectTimeout or idleTimeout replaces the [upstream]: new
//     requests open new connections, and the old ones close once the
//     requests on them have ended. Otherwise the keep-alive connections are
//     kept.
func (b *backend) update(s config.ServerConfig, p *config.PoolConfig) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return
	}
	old, next := b.settings.Load(), newBackendSettings(s, p)
	b.settings.Store(next)
	b.read.set(p.ResponseHeaderTimeout)
	if next.url != old.url {
		b.health.SetName(next.url)
	}
	if u := b.upstream.Load(); u.connect != p.ConnectTimeout || u.idle != p.IdleTimeout {
		b.setUpstream(b.newUpstream(p))
	}
	if old.passive.MaxFails > 0 && next.passive.MaxFails <= 0 {
		b.health.DisablePassive()
	}
	if sameProbes(old, next) {
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
// at shutdown: its checker stops at once, and its idle connections close
// once its last in-flight request has ended.
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
// request goes through; [backend.release] with it ends the request.
func (b *backend) acquire() *upstream {
	b.inFlight.Add(1)
	u := b.upstream.Load()
	u.inFlight.Add(1)
	return u
}

// release ends a request that [backend.acquire] counted on u.
func (b *backend) release(u *upstream) {
	u.release()
	b.inFlight.Add(-1)
}

// upstream is how a backend is reached: the settings that shape its
// connections and the client that keeps them. An upstream never changes;
// when one of those settings changes, the backend gets a new one as a whole
// ([backend.setUpstream]).
type upstream struct {
	client *fasthttp.HostClient
	// connect and idle are the pool's connectTimeout and idleTimeout.
	connect, idle time.Duration
	// tls configures the connections to an https backend; nil for http.
	tls  *tls.Config
	dial dialFunc

	inFlight atomic.Int64
	retired  atomic.Bool
}

// newUpstream returns an upstream to b under the settings of pool p.
func (b *backend) newUpstream(p *config.PoolConfig) *upstream {
	u := &upstream{connect: p.ConnectTimeout, idle: p.IdleTimeout, dial: b.opts.dial}
	if b.https {
		host, _, _ := net.SplitHostPort(b.addr)
		u.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	u.client = &fasthttp.HostClient{
		Addr:                     b.addr,
		Name:                     "",
		NoDefaultUserAgentHeader: true,
		IsTLS:                    u.tls != nil,
		TLSConfig:                u.tls,
		Dial: func(addr string) (net.Conn, error) {
			c, err := u.dialTCP(addr)
			if err != nil {
				return nil, err
			}
			return newDeadlineConn(c, &b.read), nil
		},
		MaxConns:                      1024,
		MaxConnWaitTimeout:            2 * time.Second,
		MaxIdleConnDuration:           p.IdleTimeout,
		MaxIdemponentCallAttempts:     2,
		RetryIfErr:                    retryStaleConnection,
		ReadBufferSize:                16 << 10,
		WriteBufferSize:               16 << 10,
		DisableHeaderNamesNormalizing: false,
		DisablePathNormalizing:        true,
		StreamResponseBody:            true,
		ConnPoolStrategy:              fasthttp.LIFO,
	}
	return u
}

// setUpstream makes u the way to b for the requests that start from now
// on. The upstream it replaces closes its connections once they are
// unused: at once when no request is in flight on it, else when the last
// one has ended.
func (b *backend) setUpstream(u *upstream) {
	b.upstream.Swap(u).retire()
}

// dialTCP opens a TCP connection to addr within the connect timeout, with
// [Options.DialContext] when the gateway has one.
func (u *upstream) dialTCP(addr string) (net.Conn, error) {
	if u.dial == nil {
		return fasthttp.DialTimeout(addr, u.connect)
	}
	ctx := context.Background()
	if u.connect > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, u.connect)
		defer cancel()
	}
	return u.dial(ctx, "tcp", addr)
}

// retire closes u's connections once they are unused: its idle ones at
// once when no request is in flight on u, else all of them when the last
// request has ended (see [upstream.release]). A request that loaded u just
// before it was retired is counted before it uses u, so the connection it
// opens is closed after it too.
func (u *upstream) retire() {
	u.retired.Store(true)
	if u.inFlight.Load() == 0 {
		u.client.CloseIdleConnections()
	}
}

// release ends a request on u; the last one on a retired u closes its
// idle connections.
func (u *upstream) release() {
	if u.inFlight.Add(-1) == 0 && u.retired.Load() {
		u.client.CloseIdleConnections()
	}
}

// sharedTimeout is a timeout that every connection of a backend reads
// afresh on each use, so that a reload that changes it applies to the
// connections already open.
type sharedTimeout struct{ ns atomic.Int64 }

// get returns the timeout; 0 means none.
func (t *sharedTimeout) get() time.Duration { return time.Duration(t.ns.Load()) }

// set changes the timeout.
func (t *sharedTimeout) set(d time.Duration) { t.ns.Store(int64(d)) }

// deadlineConn arms a deadline before every read and every write, so a
// backend that goes silent, or stops reading an upload, for longer than
// the timeout read holds is cut off, however long the whole exchange takes
// (nginx's proxy_read_timeout and proxy_send_timeout); a timeout of 0 arms
// none. read is loaded afresh on every call, so a reload that changes it
// applies to the connections already open. A
// connection made by [newDeadlineConn] also tells the exchange gathering
// a response over it when a read is about to wait for the network (see
// [exchange.WriteTo]).
type deadlineConn struct {
	net.Conn
	read          *sharedTimeout
	deadline      coarseDeadline
	writeDeadline coarseDeadline

	addr   backendAddr     // what RemoteAddr returns, leading back to c
	raw    syscall.RawConn // nil when the connection has no descriptor
	probe  func(fd uintptr)
	unread int    // bytes the kernel holds for reading, as probe saw them
	waiter waiter // told before a read waits, while an exchange gathers
}

// Read arms the read deadline as a [coarseDeadline]: a silent backend is
// cut off after read and at most its slack later. While a waiter is set,
// it is told first when the read is going to wait for the network.
func (c *deadlineConn) Read(p []byte) (int, error) {
	if d := c.read.get(); d > 0 {
		if at, move := c.deadline.next(time.Now(), d); move {
			if err := c.Conn.SetReadDeadline(at); err != nil {
				return 0, err
			}
		}
	}
	if c.waiter != nil && !c.readable() {
		c.waiter.beforeWait()
	}
	return c.Conn.Read(p)
}

// Write arms the write deadline the same way.
func (c *deadlineConn) Write(p []byte) (int, error) {
	d := c.read.get()
	if d <= 0 {
		return c.Conn.Write(p)
	}
	if at, move := c.writeDeadline.next(time.Now(), d); move {
		if err := c.Conn.SetWriteDeadline(at); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}
