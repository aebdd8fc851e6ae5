package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits of what a probe reads from a backend.
const (
	probeMaxHeaderBytes = 64 << 10
	probeMaxBodyDrain   = 4 << 10
)

// probeUserAgent identifies probes in backend logs.
const probeUserAgent = "gateway-health-check"

// httpProber is the [Prober] that [NewHTTPProber] returns. It speaks
// HTTP/1.1 on the connection itself: one write of the request, one
// buffered read of the response, no goroutine beside the caller's and no
// state kept between probes.
type httpProber struct {
	cfg CheckConfig
	// addr is the host and port dialled; tls, when not nil, is the TLS
	// client config of an https backend.
	addr string
	tls  *tls.Config
	// request is the whole request, written in one write.
	request []byte
	// head is what [http.ReadResponse] needs of the request: its method.
	head *http.Request
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// err, when not nil, is why the URL is unusable; every probe fails with it.
	err error
}

// NewHTTPProber returns a [Prober] that sends cfg.Method to cfg.Path on the
// backend at baseURL, such as "http://127.0.0.1:8080", "http://[::1]:8080"
// or an https URL, with cfg.Host as its Host header when set (zero fields
// of cfg take their defaults, see [CheckConfig.WithDefaults]).
// Each probe opens a new connection, so refused and reset connections show
// as such, does not follow redirects (a 3xx is a status like any other),
// reads at most a few KiB of the body, and is bounded by cfg.Timeout even
// when its context has no deadline. A status that cfg does not accept fails
// with the reason "status N".
func NewHTTPProber(baseURL string, cfg CheckConfig) Prober {
	cfg = cfg.WithDefaults()
	p := &httpProber{cfg: cfg, dial: cfg.Dial, head: &http.Request{Method: cfg.Method}}
	if p.dial == nil {
		p.dial = (&net.Dialer{}).DialContext
	}
	target, err := probeURL(baseURL, cfg.Path)
	if err != nil {
		p.err = err
		return p
	}
	u, err := url.Parse(target)
	if err != nil {
		p.err = fmt.Errorf("backend URL %q: %w", baseURL, err)
		return p
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p.addr = net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "https" {
		p.tls = &tls.Config{}
		if cfg.TLS != nil {
			p.tls = cfg.TLS.Clone()
		}
		if p.tls.ServerName == "" {
			p.tls.ServerName = u.Hostname()
		}
		p.tls.NextProtos = []string{"http/1.1"} // what the probe speaks
	}
	host := u.Host
	if cfg.Host != "" {
		host = cfg.Host
	}
	p.request = fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n",
		cfg.Method, u.RequestURI(), host, probeUserAgent)
	return p
}

// probeURL joins the backend's base URL and the probe's path.
func probeURL(baseURL, path string) (string, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("backend URL %q: %w", baseURL, err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", fmt.Errorf("backend URL %q: want http:// or https:// and a host", baseURL)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return strings.TrimSuffix(base.Scheme+"://"+base.Host+base.Path, "/") + path, nil
}

// Probe sends one request and classifies the outcome.
func (p *httpProber) Probe(ctx context.Context) Result {
	r := Result{At: time.Now()}
	if p.err != nil {
		r.Reason = shorten(p.err.Error())
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	status, err := p.exchange(ctx)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		r.Reason = errorReason(err)
		return r
	}
	if !p.cfg.Accepts(status) {
		r.Reason = fmt.Sprintf("status %d", status)
		return r
	}
	r.OK, r.Reason = true, "ok"
	return r
}

// exchange sends the request on a new connection, reads the response
// head and at most probeMaxBodyDrain bytes of its body, and returns its
// status. Every read and write ends when ctx does.
func (p *httpProber) exchange(ctx context.Context) (int, error) {
	conn, err := p.dial(ctx, "tcp", p.addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	raw := conn // the TCP connection, whatever conn becomes below
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if p.tls != nil {
		tc := tls.Client(conn, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, err
		}
		conn = tc
	}
	if _, err := conn.Write(p.request); err != nil {
		return 0, err
	}
	limited := &io.LimitedReader{R: conn, N: probeMaxHeaderBytes}
	resp, err := http.ReadResponse(bufio.NewReaderSize(limited, 4<<10), p.head)
	if err != nil {
		return 0, err
	}
	limited.N = probeMaxBodyDrain
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
