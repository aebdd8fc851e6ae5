package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
	"github.com/valyala/fasthttp"
)

// backend is one upstream server and everything the gateway knows about it:
// its health, its in-flight and served counts, and the [fasthttp.HostClient]
// that owns its keep-alive connections. Generations share backend objects:
// a reload that keeps a backend hands the same object to the new generation,
// so none of that state is lost.
type backend struct {
	// url is the backend's base URL as "scheme://host[:port]", lowercased.
	url string
	// health is the backend's health state.
	health *health.Status

	key     string
	hash    uint64
	addr    string
	client  *fasthttp.HostClient
	checker *health.Checker
	passive health.PassiveConfig
	timeout backendTimeouts

	inFlight atomic.Int64
	served   atomic.Uint64
	failures atomic.Uint64
	retired  atomic.Bool
	stopOnce sync.Once
}

// backendTimeouts are the pool settings that shape a backend's client.
type backendTimeouts struct {
	connect, read, idle time.Duration
}

// backendKey names a backend's identity: two servers with the same key are
// the same backend, and a reload carries it over. It covers the address and
// every setting that shapes the backend's client, probes and ejection.
// Settings that do not apply, the probe settings while probing is off and
// the passive ones while passive health is off, are left out, so changing
// them keeps the backend and its state.
func backendKey(u *url.URL, p *config.PoolConfig) string {
	probes := "off"
	if hc := p.HealthCheck; hc.Enabled {
		probes = fmt.Sprintf("%s,%s,%s,%s,%d,%d,%v", hc.Method, hc.Path, hc.Interval, hc.Timeout,
			hc.HealthyThreshold, hc.UnhealthyThreshold, hc.ExpectStatus)
	}
	passive := "off"
	if pc := p.Passive; pc.MaxFails > 0 {
		passive = fmt.Sprintf("%d,%s,%s", pc.MaxFails, pc.Window, pc.EjectFor)
	}
	return fmt.Sprintf("%s|hc=%s|passive=%s|t=%s,%s,%s", hostPort(u), probes, passive,
		p.ConnectTimeout, p.ResponseHeaderTimeout, p.IdleTimeout)
}

// hostPort returns "scheme://host:port" with the scheme's default port
// filled in.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// displayURL returns the URL a person and a metric label see for u.
func displayURL(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// newBackend builds a backend for server s of pool p. Its checker is not
// started; [backend.start] does that once the generation is published.
func newBackend(s config.ServerConfig, p *config.PoolConfig, logger *slog.Logger) *backend {
	u := s.URL
	isTLS := strings.EqualFold(u.Scheme, "https")
	b := &backend{
		url:     displayURL(u),
		key:     backendKey(u, p),
		passive: health.PassiveConfig{MaxFails: p.Passive.MaxFails, Window: p.Passive.Window, EjectFor: p.Passive.EjectFor},
		timeout: backendTimeouts{connect: p.ConnectTimeout, read: p.ResponseHeaderTimeout, idle: p.IdleTimeout},
	}
	hp := hostPort(u)
	b.addr = hp[strings.Index(hp, "://")+3:]
	b.hash = fnv64([]byte(hp))
	b.health = health.NewStatus(b.url, logger)
	b.client = &fasthttp.HostClient{
		Addr:                          b.addr,
		Name:                          "",
		NoDefaultUserAgentHeader:      true,
		IsTLS:                         isTLS,
		TLSConfig:                     &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12},
		Dial:                          b.dial,
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
	if p.HealthCheck.Enabled {
		hc := p.HealthCheck
		cfg := health.CheckConfig{
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
		b.checker = health.NewChecker(b.health, health.NewHTTPProber(strings.ToLower(u.Scheme)+"://"+u.Host, cfg), cfg)
	}
	return b
}

// dial connects to the backend within the pool's connect timeout and wraps
// the connection so that every read waits at most the response timeout.
func (b *backend) dial(addr string) (net.Conn, error) {
	c, err := fasthttp.DialTimeout(addr, b.timeout.connect)
	if err != nil {
		return nil, err
	}
	return newDeadlineConn(c, b.timeout.read), nil
}

// start starts the backend's active health checker, if it has one.
func (b *backend) start() {
	if b.checker != nil {
		b.checker.Start()
	}
}

// retire is called when a reload removes the backend from the config: its
// checker stops at once, and its idle connections close once its last
// in-flight request has ended.
func (b *backend) retire() {
	b.stopOnce.Do(func() {
		if b.checker != nil {
			b.checker.Stop()
		}
		b.health.Close()
		b.retired.Store(true)
		if b.inFlight.Load() == 0 {
			b.client.CloseIdleConnections()
		}
	})
}

// acquire counts a request in flight on b.
func (b *backend) acquire() {
	b.inFlight.Add(1)
}

// release ends a request that [backend.acquire] counted.
func (b *backend) release() {
	if b.inFlight.Add(-1) == 0 && b.retired.Load() {
		b.client.CloseIdleConnections()
	}
}

// deadlineConn arms a deadline before every read and every write, so a
// backend that goes silent, or stops reading an upload, for longer than
// read is cut off, however long the whole exchange takes (nginx's
// proxy_read_timeout and proxy_send_timeout); read 0 arms none. A
// connection made by [newDeadlineConn] also tells the exchange gathering
// a response over it when a read is about to wait for the network (see
// [exchange.WriteTo]).
type deadlineConn struct {
	net.Conn
	read          time.Duration
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
	if c.read > 0 {
		if at, move := c.deadline.next(time.Now(), c.read); move {
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
	if c.read <= 0 {
		return c.Conn.Write(p)
	}
	if at, move := c.writeDeadline.next(time.Now(), c.read); move {
		if err := c.Conn.SetWriteDeadline(at); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}
