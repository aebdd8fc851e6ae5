package gateway

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// StatusReport is what the admin endpoint /status answers: the generation
// being served, every pool with the state of each backend, whether the
// gateway is ready, the last reload attempt, and the certificates.
type StatusReport struct {
	Generation GenerationStatus `json:"generation"`
	Pools      []PoolStatus     `json:"pools"`
	// Routes lists the routes in match order.
	Routes []RouteStatus `json:"routes"`
	Ready  bool          `json:"ready"`
	// LastReload is the most recent attempt to load the config file,
	// applied, unchanged or rejected; nil before the first.
	LastReload *ReloadRecord `json:"lastReload"`
	// Watch says whether the config file is watched.
	Watch WatchStatus `json:"watch"`
	// Certificates describes the certificates the config names, served
	// and shown to backends; absent when it names none.
	Certificates []CertificateStatus `json:"certificates,omitempty"`
}

// WatchStatus describes the watching of the config file.
type WatchStatus struct {
	// State is "watching"; "failing" when the watcher cannot watch (Error
	// says why): changes are then found by polling while the watcher
	// tries again; or "off" when the file is read only on SIGHUP.
	State string `json:"state"`
	// Error is why the watcher failed.
	Error string `json:"error,omitempty"`
	// Since is when the watcher entered State; nil when it never ran.
	Since *time.Time `json:"since"`
}

// GenerationStatus describes the generation being served: the config it
// was built from and when it was published.
type GenerationStatus struct {
	// Number is the generation's number; 0 before the first config.
	Number uint64 `json:"number"`
	// Hash is the hex SHA-256 of the config content that runs: the bytes
	// the generation was built from, or the bytes of a later reload that
	// found the same config in them (result unchanged).
	Hash string `json:"hash"`
	// LoadedAt is when the generation was published.
	LoadedAt time.Time `json:"loadedAt"`
	// Source is the file the config was read from.
	Source string `json:"source"`
}

// PoolStatus describes one pool of the generation being served.
type PoolStatus struct {
	Name      string           `json:"name"`
	Algorithm config.Algorithm `json:"algorithm"`
	Backends  []BackendStatus  `json:"backends"`
	// Resolved describes each resolved server of the pool, in config
	// order; left out when it has none.
	Resolved []ResolvedStatus `json:"resolved,omitempty"`
}

// ResolvedStatus describes the name of a resolved server: what the last
// answer for it said.
type ResolvedStatus struct {
	// Name is the name looked up.
	Name string `json:"name"`
	// Addresses are the addresses of the last answer, sorted: those the
	// server's backends are at. Empty before the first answer and when
	// the name has none.
	Addresses []netip.Addr `json:"addresses"`
	// ResolvedAt is when the last answer came, with addresses or saying
	// there are none; nil before the first.
	ResolvedAt *time.Time `json:"resolvedAt"`
	// Error is why the last lookup gave no address: the name has none,
	// or the lookup failed and the addresses of the answer before stay
	// in service. Empty when it gave addresses.
	Error string `json:"error"`
}

// RouteStatus describes one route of the generation being served: its
// name, what it matches and what it does. Matchers and settings the
// route does not have are left out.
type RouteStatus struct {
	// Name is the route's name, or routes[i] for a route without one, as
	// metrics and the access log call it.
	Name string `json:"name"`
	// Hosts, PathPrefix, Path, Methods and Headers are what the route
	// matches, as in the config.
	Hosts      []string          `json:"hosts,omitempty"`
	PathPrefix string            `json:"pathPrefix,omitempty"`
	Path       string            `json:"path,omitempty"`
	Methods    []string          `json:"methods,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	// Action is "pool", "split" or "redirect"; Pool, Pools and Sticky,
	// or Redirect, say more.
	Action   string          `json:"action"`
	Pool     string          `json:"pool,omitempty"`
	Pools    []SplitStatus   `json:"pools,omitempty"`
	Sticky   bool            `json:"sticky,omitempty"`
	Redirect *RedirectStatus `json:"redirect,omitempty"`
	// RewritePrefix replaces PathPrefix in the forwarded path.
	RewritePrefix string `json:"rewritePrefix,omitempty"`
	// RateLimit is the route's rate limit, with the number of clients
	// its table holds.
	RateLimit *RateLimitStatus `json:"rateLimit,omitempty"`
}

// SplitStatus is one pool of a route's split and its weight.
type SplitStatus struct {
	Pool   string `json:"pool"`
	Weight int    `json:"weight"`
}

// RedirectStatus describes a route's redirect: the parts of the new
// location it sets (the others are the request's own) and its status.
type RedirectStatus struct {
	Scheme string `json:"scheme,omitempty"`
	Host   string `json:"host,omitempty"`
	Port   int    `json:"port,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Code   int    `json:"code"`
}

// RateLimitStatus describes a route's rate limit.
type RateLimitStatus struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	Burst             int     `json:"burst"`
	// Clients is how many client addresses have a bucket now.
	Clients int `json:"clients"`
}

// The actions of [RouteStatus.Action].
const (
	ActionPool     = "pool"
	ActionSplit    = "split"
	ActionRedirect = "redirect"
)

// BackendStatus describes one backend of a pool.
type BackendStatus struct {
	// URL is the backend's base URL.
	URL string `json:"url"`
	// Healthy reports whether the backend may take traffic; State says the
	// same as "up" or "down".
	Healthy bool   `json:"healthy"`
	State   string `json:"state"`
	// Reason is why the backend is in its state: "starting", the last
	// probe result that changed it, or a passive ejection's cause.
	Reason string `json:"reason"`
	// ConsecutivePasses and ConsecutiveFails count the current run of
	// active probe results.
	ConsecutivePasses int `json:"consecutivePasses"`
	ConsecutiveFails  int `json:"consecutiveFails"`
	// LastProbe is when the last active probe started; nil before the
	// first or when active checks are off.
	LastProbe *time.Time `json:"lastProbe"`
	// LastResult is the last probe's outcome: "ok", "status 503", ...
	LastResult string `json:"lastResult"`
	// Ejected reports a passive ejection in force until EjectedUntil.
	Ejected      bool       `json:"ejected"`
	EjectedUntil *time.Time `json:"ejectedUntil"`
	// InFlight counts the requests in flight on the backend.
	InFlight int64 `json:"inFlight"`
	// Requests counts the requests the backend answered; Failures those it
	// could not (connect failures, closes, resets and timeouts before the
	// response, invalid responses, responses cut short).
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	// Carried reports that the backend came over from the previous
	// generation with its state.
	Carried bool `json:"carried"`
	// Weight is the backend's weight in the pool.
	Weight int `json:"weight"`
	// Source is the name the backend is an address of, for a resolved
	// server's backend; empty for a server of its own.
	Source string `json:"source"`
}

// The backend states of [BackendStatus.State].
const (
	StateUp   = "up"
	StateDown = "down"
)

// Status reports the gateway's state, as the admin endpoint /status
// answers it.
func (g *Gateway) Status() StatusReport {
	r := StatusReport{Pools: []PoolStatus{}, Routes: []RouteStatus{}, Ready: g.Ready()}
	if last, ok := g.reloads.last(configSource); ok {
		r.LastReload = &last
	}
	r.Watch, _ = g.watch.get()
	r.Certificates = g.tls.Load().certificates()
	gen := g.gen.Load()
	if gen == nil {
		return r
	}
	r.Generation = GenerationStatus{Number: gen.number, Hash: g.RunningHash(), LoadedAt: gen.loadedAt, Source: gen.cfg.Source}
	watches := g.names.current()
	for i, p := range gen.pools {
		ps := PoolStatus{Name: p.name, Algorithm: p.algorithm, Backends: make([]BackendStatus, 0, len(p.backends))}
		for i, b := range p.backends {
			ps.Backends = append(ps.Backends, backendStatus(b, p.carried[i], p.weights[i]))
		}
		for _, s := range gen.cfg.Pools[i].Servers {
			if s.Resolve {
				ps.Resolved = append(ps.Resolved, resolvedStatus(s.Name(), watches[s.Name()]))
			}
		}
		r.Pools = append(r.Pools, ps)
	}
	for i := range gen.routes.routes {
		r.Routes = append(r.Routes, routeStatus(&gen.routes.routes[i]))
	}
	return r
}

// routeStatus describes rt.
func routeStatus(rt *route) RouteStatus {
	c := rt.cfg
	s := RouteStatus{
		Name: rt.label, Hosts: c.Hosts, PathPrefix: c.PathPrefix, Path: c.Path, Methods: c.Methods,
		RewritePrefix: c.RewritePrefix,
	}
	for _, h := range c.Headers {
		if s.Headers == nil {
			s.Headers = make(map[string]string)
		}
		s.Headers[h.Name] = h.Value
	}
	switch {
	case c.Redirect != nil:
		rd := c.Redirect
		s.Action, s.Redirect = ActionRedirect, &RedirectStatus{Scheme: rd.Scheme, Host: rd.Host, Port: rd.Port, Prefix: rd.Prefix, Code: rd.Code}
	case len(c.Pools) > 0:
		s.Action, s.Sticky = ActionSplit, c.Sticky
		for _, pw := range c.Pools {
			s.Pools = append(s.Pools, SplitStatus{Pool: pw.Pool, Weight: pw.Weight})
		}
	default:
		s.Action, s.Pool = ActionPool, c.Pool
	}
	if rt.limiter != nil {
		s.RateLimit = &RateLimitStatus{RequestsPerSecond: c.RateLimit.RequestsPerSecond, Burst: c.RateLimit.Burst, Clients: rt.limiter.clients()}
	}
	return s
}

// resolvedStatus describes name from what its watch w knows; w is nil
// when a reload removed the name meanwhile.
func resolvedStatus(name string, w *nameWatch) ResolvedStatus {
	s := ResolvedStatus{Name: name, Addresses: []netip.Addr{}}
	if w == nil {
		return s
	}
	st := w.snapshot()
	s.Addresses = append(s.Addresses, st.addrs...)
	s.Error = st.err
	if !st.resolvedAt.IsZero() {
		t := st.resolvedAt
		s.ResolvedAt = &t
	}
	return s
}

// backendStatus describes b.
func backendStatus(b *backend, carried bool, weight int) BackendStatus {
	snap := b.health.Snapshot()
	s := BackendStatus{
		URL:               b.name(),
		Healthy:           snap.Healthy,
		State:             StateDown,
		Reason:            snap.Reason,
		ConsecutivePasses: snap.ConsecutivePasses,
		ConsecutiveFails:  snap.ConsecutiveFails,
		LastResult:        snap.LastResult,
		Ejected:           snap.Ejected,
		InFlight:          b.inFlight.Load(),
		Requests:          b.served.Load(),
		Failures:          b.failures.Load(),
		Carried:           carried,
		Weight:            weight,
		Source:            b.settings.Load().source,
	}
	if snap.Healthy {
		s.State = StateUp
	}
	if !snap.LastProbe.IsZero() {
		t := snap.LastProbe
		s.LastProbe = &t
	}
	if snap.Ejected {
		t := snap.EjectedUntil
		s.EjectedUntil = &t
	}
	return s
}

// serveJSON answers with v as indented JSON.
func serveJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
