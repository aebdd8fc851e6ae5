package gateway

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// RunOptions configures [Run].
type RunOptions struct {
	// Config is the path of the config file.
	Config string
	// Watch reloads the file whenever it changes. Without it the file is
	// read again only when Reload asks.
	Watch bool
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// Reload receives SIGHUP: each value asks for the file to be read
	// again after the same quiet period as a change (so a signal that
	// lands in the middle of a save reads the finished file); values that
	// arrive before the read make no more reads. During a drain they are
	// logged and ignored.
	Reload <-chan os.Signal
	// Stop receives SIGTERM and SIGINT. The first one drains, as
	// cancelling Run's context does; a second one during the drain stops
	// at once and Run returns [ErrInterrupted].
	Stop <-chan os.Signal
	// NewWatcher makes the watcher of the config file; the gateway command
	// makes a [github.com/gatewayhq/gateway/reload.Watcher]. It is
	// required.
	NewWatcher func(WatcherConfig) Watcher
	// Ready, when not nil, is called once the gateway serves the config.
	Ready func(*Gateway)
}

// Watcher watches files for [Run] and hands what it reads to
// [WatcherConfig.OnRead].
type Watcher interface {
	// Watch makes paths the set of files watched; a path new to the set
	// is read once (when the file system is watched).
	Watch(paths ...string)
	// Trigger asks for every path to be read after the quiet period, its
	// reads marked [FileRead.Triggered].
	Trigger()
	// Run watches until ctx is done.
	Run(ctx context.Context) error
}

// WatcherConfig is what [Run] asks of the [Watcher] that
// [RunOptions.NewWatcher] makes.
type WatcherConfig struct {
	// Events is false when the file system is not to be watched: the
	// files are then read only after Trigger (run --watch=false).
	Events bool
	// OnRead is called with each read, one at a time.
	OnRead func(FileRead)
	// OnError is called with the error when the watcher cannot watch (it
	// goes on trying), and with nil when it can again.
	OnError func(error)
}

// FileRead is what a [Watcher] read at one of its paths.
type FileRead struct {
	// Path is the file's absolute path.
	Path string
	// Data is the file's content; nil when Err is set.
	Data []byte
	// Err is why the file could not be read.
	Err error
	// Triggered reports that a trigger (SIGHUP) asked for the read.
	Triggered bool
}

// ErrInterrupted is what [Run] returns when a second stop signal ended the
// drain before the requests in flight finished; the command exits with
// status 1.
var ErrInterrupted = errors.New("gateway: a second signal stopped the drain")

// Run serves the config file until ctx is cancelled or a stop signal
// arrives, then drains: /readyz turns 503, the listeners stop accepting,
// and the requests in flight get the config's shutdownTimeout to finish.
// Meanwhile it reloads the file whenever it changes (with Watch) and
// whenever Reload asks, and, by the same rules, each TLS file the running
// config names (a certificate, a key, a CA file), which the watcher
// watches beside it. It returns nil after a drain, [ErrInterrupted]
// after a second stop signal, and the error of the first load when the
// file cannot be served at all.
//
// Whether a read needs applying is decided against the config that runs,
// never against the last bytes read: content found by watching that is
// byte for byte the running config is skipped unless the last attempt was
// rejected; a file that cannot be read is a rejected attempt, recorded
// once for as long as the error stays the same; everything else is loaded
// with [Gateway.Load], which records an equal config as unchanged. So the
// gateway ends up serving the file's final content after any sequence of
// saves and signals, and a rejected config saved again is tried again.
func Run(ctx context.Context, opts RunOptions) error {
	if opts.NewWatcher == nil {
		return errors.New("gateway: RunOptions.NewWatcher is nil")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := New(Options{Logger: logger})
	if _, err := g.LoadFile(opts.Config, TriggerStart); err != nil {
		g.Shutdown(context.Background())
		return err
	}
	attrs := []any{"config", opts.Config, "watch", opts.Watch}
	if addr := g.Addr(); addr != "" {
		attrs = append(attrs, "listen", addr)
	}
	if addr := g.TLSAddr(); addr != "" {
		attrs = append(attrs, "tls.listen", addr)
	}
	if addr := g.AdminAddr(); addr != "" {
		attrs = append(attrs, "admin", addr)
	}
	logger.Info("serving", attrs...)

	configPath, err := filepath.Abs(opts.Config)
	if err != nil {
		configPath = filepath.Clean(opts.Config)
	}
	g.warnIfMountPoint(configPath)
	g.watchStarted(opts.Watch)
	var w Watcher
	w = opts.NewWatcher(WatcherConfig{
		Events: opts.Watch,
		OnRead: func(r FileRead) {
			if r.Path == configPath {
				g.reloadRead(opts.Config, r)
			} else {
				g.certificateRead(r)
			}
			w.Watch(g.watchedPaths(configPath)...)
		},
		OnError: g.watchFailed,
	})
	w.Watch(g.watchedPaths(configPath)...)
	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	watcherDone := make(chan error, 1)
	go func() { watcherDone <- w.Run(watchCtx) }()
	if opts.Ready != nil {
		opts.Ready(g)
	}

	cause := "context cancelled"
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case sig := <-opts.Stop:
			cause = sig.String()
			break wait
		case <-opts.Reload:
			w.Trigger()
		}
	}

	// Drain. No read is applied from here on: the watcher stops first.
	stopWatching()
	if err := <-watcherDone; err != nil {
		logger.Warn("config watcher", "error", err)
	}
	timeout := g.ShutdownTimeout()
	logger.Info("shutting down", "signal", cause, "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(sctx) }()
	ignored := false
	for {
		select {
		case err := <-done:
			if err != nil {
				logger.Warn("shutdown timed out; connections closed", "error", err)
			}
			logger.Info("stopped")
			return nil
		case sig := <-opts.Reload:
			if !ignored {
				logger.Info("reload signal during shutdown; ignored", "signal", sig.String())
				ignored = true
			}
		case sig := <-opts.Stop:
			logger.Warn("second signal: exiting now", "signal", sig.String())
			cancel()
			<-done
			return ErrInterrupted
		}
	}
}

// watchedPaths returns the files whose changes reload the gateway: the
// config file, and every TLS file the running config names.
func (g *Gateway) watchedPaths(configPath string) []string {
	paths := []string{configPath}
	if st := g.tls.Load(); st != nil {
		paths = append(paths, st.files()...)
	}
	return paths
}

// reloadRead takes what the watcher read at the config file, named source
// in records and messages, and reloads it if it needs to: see [Run].
func (g *Gateway) reloadRead(source string, r FileRead) {
	trigger := TriggerWatch
	if r.Triggered {
		trigger = TriggerSignal
	}
	last, _ := g.reloads.last(configSource)
	if r.Err != nil {
		if trigger == TriggerWatch && !last.ok() && last.Hash == "" && last.Error == r.Err.Error() {
			return // the same read error again: recorded once
		}
		g.readFailed(r.Err, trigger)
		return
	}
	if trigger == TriggerWatch && last.ok() && config.Hash(r.Data) == g.RunningHash() {
		return // a touch, or a save without changes
	}
	g.Load(source, r.Data, trigger)
}

// watchState is what /status and the metrics say of the config watcher.
type watchState struct {
	mu       sync.Mutex
	status   WatchStatus
	failures uint64
}

// The states of [WatchStatus.State].
const (
	WatchOff      = "off"
	WatchWatching = "watching"
	WatchFailing  = "failing"
)

// watchStarted records that the run loop watches the config file, or
// only reads it on SIGHUP.
func (g *Gateway) watchStarted(on bool) {
	state := WatchOff
	if on {
		state = WatchWatching
	}
	g.watch.set(state, nil)
}

// watchFailed records that the watcher cannot watch, with err, or can
// again, with nil: logged at error level, on /status and in the metrics.
func (g *Gateway) watchFailed(err error) {
	if err != nil {
		g.watch.set(WatchFailing, err)
		g.logger.Error("config watcher failed; changes are found by polling until it works again", "error", err)
		return
	}
	g.watch.set(WatchWatching, nil)
	g.logger.Info("config watcher works again")
}

// set records a state, counting a failure.
func (w *watchState) set(state string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.status = WatchStatus{State: state, Since: &now}
	if err != nil {
		w.status.Error = err.Error()
		w.failures++
	}
}

// get returns the state and the count of failures.
func (w *watchState) get() (WatchStatus, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	if s.State == "" {
		s.State = WatchOff
	}
	return s, w.failures
}
