package health

import (
	"context"
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

// httpProber is the [Prober] that [NewHTTPProber] returns.
type httpProber struct {
	url    string
	cfg    CheckConfig
	client *http.Client
	// err, when not nil, is why url is unusable; every probe fails with it.
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
	p := &httpProber{cfg: cfg}
	p.url, p.err = probeURL(baseURL, cfg.Path)
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		TLSClientConfig:        cfg.TLS,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: probeMaxHeaderBytes,
	}
	p.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
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
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, p.url, nil)
	if err != nil {
		r.Reason = shorten(err.Error())
		return r
	}
	req.Header.Set("User-Agent", probeUserAgent)
	if p.cfg.Host != "" {
		req.Host = p.cfg.Host
	}
	resp, err := p.client.Do(req)
	if err != nil {
		r.Reason = errorReason(err)
		return r
	}
	_, _ = io.CopyN(io.Discard, resp.Body, probeMaxBodyDrain)
	_ = resp.Body.Close()
	if !p.cfg.Accepts(resp.StatusCode) {
		r.Reason = fmt.Sprintf("status %d", resp.StatusCode)
		return r
	}
	r.OK, r.Reason = true, "ok"
	return r
}
