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
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
)

// backend is one upstream server and everything the gateway knows about it:
// its health, its in-flight and served counts, and the [transport] that
// owns its keep-alive connections. Generations share backend objects:
// a reload that keeps a backend hands the same object to the new generation,
// so none of that state is lost.
type backend struct {
	// url is the backend's base URL as "scheme://host[:port]", lowercased.
	url string
	// health is the backend's health state.
	health *health.Status

	key  string
	hash uint64
	addr string
	// transport dials the backend and pools its connections; settings
	// that shape connections are changed by storing a new one.
	transport atomic.Pointer[transport]
	checker   *health.Checker
	passive   health.PassiveConfig
	timeout   backendTimeouts

	inFlight atomic.Int64
	served   atomic.Uint64
	failures atomic.Uint64
	stopOnce sync.Once
	// warnings samples the failures logged at warn.
	warnings logGate
}

// backendTimeouts are the pool settings that shape a backend's
// connections (see [transport]).
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
		probes = fmt.Sprintf("%s,%s,%s,%s,%s,%d,%d,%v", hc.Method, hc.Path, hc.Host, hc.Interval, hc.Timeout,
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
	var tlsConfig *tls.Config
	if isTLS {
		tlsConfig = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	b.transport.Store(newTransport(b.addr, tlsConfig, b.timeout))
	if p.HealthCheck.Enabled {
		hc := p.HealthCheck
		cfg := health.CheckConfig{
			Method:             hc.Method,
			Path:               hc.Path,
			Host:               hc.Host,
			Dial:               dialTCP,
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

// start starts the backend's active health checker, if it has one.
func (b *backend) start() {
	if b.checker != nil {
		b.checker.Start()
	}
}

// retire is called when a reload removes the backend from the config: its
// checker stops at once, its idle connections close, and the others close
// as their requests end.
func (b *backend) retire() {
	b.stopOnce.Do(func() {
		if b.checker != nil {
			b.checker.Stop()
		}
		b.health.Close()
		b.transport.Load().close()
	})
}

// acquire counts a request in flight on b.
func (b *backend) acquire() {
	b.inFlight.Add(1)
}

// release ends a request that [backend.acquire] counted.
func (b *backend) release() {
	b.inFlight.Add(-1)
}
