package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// Gateway is a running reverse proxy. What one config produces, its pools,
// their backends and the routes to them, is a generation, numbered from 1.
// When [Gateway.Apply] is given a new config, the next generation is built
// completely beside the running one and published with one atomic store,
// so a request finishes on the generation it started with and none is
// dropped.
type Gateway struct {
	logger *slog.Logger

	gen atomic.Pointer[generation]

	// mu serialises Apply and guards what only Apply touches.
	mu       sync.Mutex
	live     map[string]*backend
	number   uint64
	listener *listener
	retired  []*listener // earlier listeners whose connections still run
	closed   bool

	reloads   reloadLog
	tunnels   tunnelSet
	accessLog *accessLog
	admin     *adminServer
	metrics   *metrics
	draining  atomic.Bool
}

// Options configures a [Gateway].
type Options struct {
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
}

// New returns a gateway that serves nothing until the first successful
// [Gateway.Apply].
func New(opts Options) *Gateway {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{logger: logger, live: make(map[string]*backend), accessLog: new(accessLog)}
	g.metrics = newMetrics(g)
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

// Triggers name what caused a reload in its [ReloadRecord].
const (
	TriggerStart  = "start"
	TriggerWatch  = "watch"
	TriggerSignal = "signal"
)

// Load decodes data as the config file source and applies it: the very
// code path `gateway validate` checks files with, followed by
// [Gateway.Apply]. A config that does not decode is rejected and recorded
// like one that does not apply; the running generation keeps serving.
func (g *Gateway) Load(source string, data []byte, trigger string) (ReloadRecord, error) {
	start := time.Now()
	cfg, err := config.Decode(source, data)
	if err != nil {
		rec := ReloadRecord{Hash: hashOf(data), Trigger: trigger, Time: start, Result: ResultRejected, Error: err.Error()}
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
		rec := ReloadRecord{Trigger: trigger, Time: time.Now(), Result: ResultRejected, Error: err.Error()}
		g.record(rec)
		return rec, err
	}
	return g.Load(path, data, trigger)
}

// Apply builds the generation for cfg beside the running one and publishes
// it. Backends whose identity did not change are carried over with their
// health, counters, in-flight requests and connections; new ones start
// fresh and are probed at once; those that left stop probing and close
// their idle connections at once, and the others as their requests end. A
// listen address that changed is bound before anything is published, so a
// failure to bind rejects the whole config.
func (g *Gateway) Apply(cfg *config.Config, trigger string) (ReloadRecord, error) {
	return g.apply(cfg, trigger, time.Now())
}

func (g *Gateway) apply(cfg *config.Config, trigger string, start time.Time) (ReloadRecord, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rec := ReloadRecord{Hash: cfg.Hash, Trigger: trigger, Time: start}
	reject := func(err error) (ReloadRecord, error) {
		rec.Result, rec.Error, rec.Duration = ResultRejected, err.Error(), time.Since(start)
		g.record(rec)
		return rec, err
	}
	if g.closed {
		return reject(errors.New("the gateway is shutting down"))
	}
	prev := g.gen.Load()
	gen, next, retired, stats := build(cfg, g.number+1, prev, g.live, g.logger)

	var ln *listener
	if g.listener == nil || g.listener.changed(cfg) {
		var err error
		if ln, err = g.listen(cfg); err != nil {
			return reject(fmt.Errorf("%s: listen: %w", cfg.Source, err))
		}
	}
	logs, err := g.prepareAccessLog(cfg)
	if err != nil {
		if ln != nil {
			ln.close(g.listener)
		}
		return reject(err)
	}
	admin, err := g.prepareAdmin(cfg)
	if err != nil {
		if ln != nil {
			ln.close(g.listener)
		}
		g.discardAccessLog(logs)
		return reject(fmt.Errorf("%s: admin: %w", cfg.Source, err))
	}

	g.number++
	gen.loadedAt = time.Now()
	g.metrics.sync(gen)
	g.swapAccessLog(logs)
	g.gen.Store(gen)
	for key, b := range next {
		if _, carried := g.live[key]; !carried {
			b.start()
		}
	}
	g.live = next
	for _, b := range retired {
		b.retire()
	}
	if ln != nil {
		old := g.listener
		g.listener = ln
		ln.start()
		if old != nil {
			old.stopAccepting(ln)
			g.retired = append(stillServing(g.retired), old)
			if old.cfg.addr != ln.cfg.addr {
				g.logger.Info("listener moved", "listen", ln.view.Addr().String(), "from", old.view.Addr().String())
			} else {
				g.logger.Info("listener settings changed; the socket is kept", "listen", ln.view.Addr().String())
			}
		}
	}
	g.swapAdmin(admin)

	rec.Generation, rec.Result, rec.Duration = gen.number, ResultApplied, time.Since(start)
	rec.Carried, rec.Added, rec.Removed = stats.Carried, stats.Added, stats.Removed
	g.record(rec)
	return rec, nil
}

// Addr returns the address the public listener is bound to, or "" when
// there is none.
func (g *Gateway) Addr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.listener == nil {
		return ""
	}
	return g.listener.view.Addr().String()
}

// Ready reports whether the gateway has a config, a listener and is not
// draining: what /readyz answers.
func (g *Gateway) Ready() bool {
	return g.gen.Load() != nil && !g.draining.Load()
}

// Shutdown stops the gateway gracefully: it stops accepting connections,
// lets the requests in flight (upgraded connections included) finish until
// ctx is done, then closes what is left and stops every health checker.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.draining.Store(true)
	g.mu.Lock()
	g.closed = true
	listeners := append(g.retired, g.listener)
	g.retired, g.listener = nil, nil
	live := g.live
	g.live = map[string]*backend{}
	g.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(listeners))
	for i, ln := range listeners {
		if ln == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ln.shutdown(ctx)
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

// stillServing drops from retired the listeners whose last connection has closed:
// shutdown need not wait for them.
func stillServing(retired []*listener) []*listener {
	kept := retired[:0]
	for _, l := range retired {
		if l.srv.GetOpenConnectionsCount() > 0 {
			kept = append(kept, l)
		}
	}
	clear(retired[len(kept):])
	return kept
}
