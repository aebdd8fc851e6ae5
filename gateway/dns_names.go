package gateway

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
	"github.com/prometheus/client_golang/prometheus"
)

// A resolved server stands for one backend per address of its name. The
// gateway keeps a [nameWatch] for every name the running config's
// resolved servers name, however many servers and pools name it: it
// looks the name up when a config brings it in, then again every refresh,
// and when the answer changes the set of addresses it has the gateway
// publish a generation with the new set ([Gateway.applyDNS]), built and
// carried over as a config reload is. A reload that keeps the name keeps
// its watch, with its addresses and its rhythm.

// dnsSettings are what the running config's `dns` gives every name
// watch. A dnsSettings never changes; a reload that changes them stores
// new ones in each watch.
type dnsSettings struct {
	// cfg is the config's `dns`.
	cfg config.DNSConfig
	// lookup looks names up: [dnsClient.lookup], or a test's.
	lookup lookupFunc
}

// nameWatch looks one name up every refresh and keeps what the answers
// said: the addresses of the last answer, when it came, and how the last
// lookup ended. A lookup that fails keeps the addresses; an answer that
// the name has none empties them.
type nameWatch struct {
	name     string
	logger   *slog.Logger
	settings atomic.Pointer[dnsSettings]
	// counts counts lookups by result, in the order of [resolveResults].
	counts [len(resolveResults)]atomic.Uint64

	// mu guards state, which lookups write and /status reads.
	mu    sync.Mutex
	state nameState

	// cancel and done stop the loop and tell it has stopped; nil until
	// [nameWatch.start].
	cancel context.CancelFunc
	done   chan struct{}
}

// nameState is what a [nameWatch] knows of its name.
type nameState struct {
	// addrs are the addresses of the last answer, sorted.
	addrs []netip.Addr
	// resolvedAt is when the last answer came, with addresses or
	// saying there are none; zero before the first.
	resolvedAt time.Time
	// result is how the last lookup ended, one of [resolveResults]; ""
	// before the first.
	result string
	// err says why the last lookup gave no address; "" when it gave
	// some.
	err string
}

// newNameWatch returns the watch of name under settings. It does not
// look the name up; [nameWatch.resolve] and [nameWatch.start] do.
func newNameWatch(name string, settings *dnsSettings, logger *slog.Logger) *nameWatch {
	w := &nameWatch{name: name, logger: logger.With("name", name)}
	w.settings.Store(settings)
	return w
}

// resolve looks the name up once and records the answer; it reports
// whether the answer changed the addresses.
func (w *nameWatch) resolve(ctx context.Context) bool {
	a := w.settings.Load().lookup(ctx, w.name)
	if ctx.Err() != nil {
		return false
	}
	return w.record(a, time.Now())
}

// record keeps the answer a, which came at now, and reports whether it
// changed the addresses. A change of the lookup's result is logged once:
// addresses again, no address, or a failure, which keeps the addresses
// when there are any.
func (w *nameWatch) record(a answer, now time.Time) (changed bool) {
	w.counts[slices.Index(resolveResults[:], a.result)].Add(1)
	w.mu.Lock()
	prev := w.state
	if a.result == resolveOK || a.result == resolveEmpty {
		changed = !slices.Equal(prev.addrs, a.addrs)
		w.state.addrs, w.state.resolvedAt = a.addrs, now
	}
	w.state.result, w.state.err = a.result, ""
	if a.err != nil {
		w.state.err = a.err.Error()
	}
	addrs := w.state.addrs
	w.mu.Unlock()

	if a.result == prev.result {
		return changed
	}
	switch a.result {
	case resolveOK:
		w.logger.Info("name resolved", "addresses", addrs, "was", orNone(prev.result))
	case resolveEmpty:
		w.logger.Warn("name has no address; its servers take no traffic", "error", a.err)
	default:
		if len(addrs) == 0 {
			// At start, or after an answer without address: there is
			// no set to keep.
			w.logger.Warn("name lookup failed; its servers have no address and take no traffic", "result", a.result, "error", a.err)
			break
		}
		w.logger.Warn("name lookup failed; its last addresses stay in service", "result", a.result, "error", a.err, "addresses", addrs)
	}
	return changed
}

// orNone returns s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// addresses returns the addresses of the last answer.
func (w *nameWatch) addresses() []netip.Addr {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state.addrs
}

// snapshot returns what the watch knows.
func (w *nameWatch) snapshot() nameState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// start runs the watch's loop until ctx ends or [nameWatch.stop]: it
// looks the name up every refresh, ±10% jitter, counted from the end of
// the lookup before, and calls changed when an answer changed the
// addresses.
func (w *nameWatch) start(ctx context.Context, changed func(context.Context, *nameWatch)) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go w.run(ctx, changed)
}

func (w *nameWatch) run(ctx context.Context, changed func(context.Context, *nameWatch)) {
	defer close(w.done)
	timer := time.NewTimer(health.Jitter(w.settings.Load().cfg.Refresh))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if w.resolve(ctx) {
			changed(ctx, w)
		}
		timer.Reset(health.Jitter(w.settings.Load().cfg.Refresh))
	}
}

// stop ends the loop, a lookup in flight included, without waiting for
// it; [nameWatch.wait] waits.
func (w *nameWatch) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// wait returns once the loop that [nameWatch.stop] ended has stopped.
func (w *nameWatch) wait() {
	if w.done != nil {
		<-w.done
	}
}

// nameSet is the gateway's name watches: one per name that a resolved
// server of the running config names.
type nameSet struct {
	// watches maps each name to its watch. The map is replaced, never
	// changed, by [nameSet.commit], under the gateway's apply lock.
	watches atomic.Pointer[map[string]*nameWatch]
	// settings are the running config's, shared by every watch; nil
	// while no config needs any.
	settings *dnsSettings
}

// current returns the watches of the running config by name.
func (s *nameSet) current() map[string]*nameWatch {
	if m := s.watches.Load(); m != nil {
		return *m
	}
	return nil
}

// resolvedNames returns the names that cfg's resolved servers look up,
// each once, in config order.
func resolvedNames(cfg *config.Config) []string {
	var names []string
	for _, p := range cfg.Pools {
		for _, s := range p.Servers {
			if s.Resolve && !slices.Contains(names, s.Name()) {
				names = append(names, s.Name())
			}
		}
	}
	return names
}

// nameChange is what applying a config does to the name watches: the
// watches of its names (those kept and the new ones), the new ones apart,
// and the settings they take.
type nameChange struct {
	watches  map[string]*nameWatch
	fresh    []*nameWatch
	settings *dnsSettings
}

// plan returns the watches cfg needs: those of the names the running
// config has too are kept, with their addresses; a new one is made for
// each other name and looked up once, all at the same time, so that the
// generation that brings a name in has its addresses. It starts no loop
// and changes nothing running: [nameSet.commit] does, once the generation
// is published. It is called under the gateway's apply lock.
func (s *nameSet) plan(ctx context.Context, cfg *config.Config, logger *slog.Logger, newLookup func(config.DNSConfig) lookupFunc) nameChange {
	names := resolvedNames(cfg)
	if len(names) == 0 {
		return nameChange{}
	}
	settings := s.settings
	if settings == nil || !equalDNS(settings.cfg, cfg.DNS) {
		settings = &dnsSettings{cfg: cfg.DNS, lookup: newLookup(cfg.DNS)}
	}
	running := s.current()
	nc := nameChange{watches: make(map[string]*nameWatch, len(names)), settings: settings}
	for _, name := range names {
		w, ok := running[name]
		if !ok {
			w = newNameWatch(name, settings, logger)
			nc.fresh = append(nc.fresh, w)
		}
		nc.watches[name] = w
	}
	var wg sync.WaitGroup
	for _, w := range nc.fresh {
		wg.Go(func() { w.resolve(ctx) })
	}
	wg.Wait()
	return nc
}

// equalDNS reports whether a and b configure lookups alike.
func equalDNS(a, b config.DNSConfig) bool {
	return slices.Equal(a.Resolvers, b.Resolvers) && a.Refresh == b.Refresh && a.Timeout == b.Timeout
}

// addresses returns the addresses of each name of nc, by name.
func (nc nameChange) addresses() map[string][]netip.Addr {
	addrs := make(map[string][]netip.Addr, len(nc.watches))
	for name, w := range nc.watches {
		addrs[name] = w.addresses()
	}
	return addrs
}

// commit puts nc into service once its generation is published: the new
// watches start their loops under ctx, calling changed on a change of
// their addresses, the kept ones take the new settings from their next
// lookup on, keeping their rhythm, and those whose name left are stopped.
// It returns the stopped watches, for the caller to wait on once it
// holds no lock a loop may wait for. It is called under the gateway's
// apply lock.
func (s *nameSet) commit(ctx context.Context, nc nameChange, changed func(context.Context, *nameWatch)) (stopped []*nameWatch) {
	for name, w := range s.current() {
		if nc.watches[name] != w {
			w.stop()
			stopped = append(stopped, w)
		}
	}
	for _, w := range nc.watches {
		w.settings.Store(nc.settings)
	}
	for _, w := range nc.fresh {
		w.start(ctx, changed)
	}
	s.settings = nc.settings
	s.watches.Store(&nc.watches)
	return stopped
}

// stopAll stops every watch, at shutdown, and returns them for the
// caller to wait on.
func (s *nameSet) stopAll() []*nameWatch {
	var all []*nameWatch
	for _, w := range s.current() {
		w.stop()
		all = append(all, w)
	}
	s.watches.Store(nil)
	return all
}

// waitAll waits for the loops of watches to stop.
func waitAll(watches []*nameWatch) {
	for _, w := range watches {
		w.wait()
	}
}

// ResolveNames looks up, once, the name of every resolved server of cfg,
// as a running gateway does: through the resolvers of cfg's dns (the
// nameservers of /etc/resolv.conf when it names none), A and AAAA
// together, within dns.timeout per resolver, all names at the same time.
// It returns what each answer gave, in config order: `gateway validate
// --resolve` reports a name without addresses as a problem.
func ResolveNames(ctx context.Context, cfg *config.Config) []ResolvedStatus {
	names := resolvedNames(cfg)
	settings := &dnsSettings{cfg: cfg.DNS, lookup: newDNSClient(cfg.DNS).lookup}
	out := make([]ResolvedStatus, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			w := newNameWatch(name, settings, slog.New(slog.DiscardHandler))
			w.resolve(ctx)
			out[i] = resolvedStatus(name, w)
		})
	}
	wg.Wait()
	return out
}

// collectResolutions sends gateway_dns_resolutions_total for every
// result of every name watched.
func collectResolutions(ch chan<- prometheus.Metric, watches map[string]*nameWatch) {
	for name, w := range watches {
		for i, result := range resolveResults {
			ch <- prometheus.MustNewConstMetric(descResolutions, prometheus.CounterValue, float64(w.counts[i].Load()), name, result)
		}
	}
}
