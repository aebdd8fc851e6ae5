package reload

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// errNotifierStopped is what a [Watcher] reports when its file-system
// notifier closes its channels without being asked to.
var errNotifierStopped = errors.New("reload: the file-system notifier stopped")

// loop is the state of one [Watcher.Run]: the notifier, the paths and what
// was last read from each, the debounce timer, the polling ticker and the
// retry timer. It is used only from Run's goroutine.
type loop struct {
	w *Watcher

	// n is the file-system notifier; nil when watching is off
	// (TriggerOnly) or failed. failure is why it failed, nil otherwise;
	// reported is the failure last passed to OnError.
	n        notifier
	failure  error
	reported error
	backoff  time.Duration
	retry    *time.Timer

	targets []*target
	watched []string // the directories being watched

	debounce *time.Timer
	pending  bool // debounce is armed and has not fired yet

	ticker *time.Ticker // non-nil while polling
}

// target is one watched path.
type target struct {
	path string
	// relevant holds the paths whose events concern this one (see
	// relevantPaths), as of the last watch.
	relevant map[string]bool
	// forced is set when an event concerned the path, or a trigger asked
	// for it, since its last read: the next read is delivered whatever it
	// finds.
	forced    bool
	triggered bool
	// read is set once the path was read; data and errText are what that
	// read found, so that a read caused by polling alone is delivered only
	// when it differs.
	read    bool
	data    []byte
	errText string
}

func newLoop(w *Watcher) *loop {
	l := &loop{w: w, debounce: time.NewTimer(time.Hour), retry: time.NewTimer(time.Hour)}
	l.debounce.Stop()
	l.retry.Stop()
	return l
}

// run starts the notifier, reads every path once after a first quiet
// period (so that a save under way when it starts is read finished), then
// reacts to events, errors, requests, the debounce timer, polling ticks and
// retries until ctx is done.
func (l *loop) run(ctx context.Context) {
	l.startNotifier()
	l.takeRequests()
	l.arm()
	ready := l.w.ready
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.w.kick:
			l.takeRequests()
		case ev, ok := <-l.events():
			if !ok {
				l.fail(errNotifierStopped)
				continue
			}
			// Whatever the kind of event, if it names a path a target
			// resolves through, it may have changed what the target
			// resolves to: re-resolve and read after the burst settles.
			// Events for other files in the same directories are ignored.
			if !l.mark(ev.Name) {
				continue
			}
			l.w.log.Debug("reload: file-system event", "event", ev)
			l.arm()
		case err, ok := <-l.errors():
			if !ok {
				l.fail(errNotifierStopped)
				continue
			}
			// Events may have been lost (for example on queue overflow), so
			// read again once things are quiet; what did not change is not
			// delivered.
			l.w.log.Debug("reload: the file-system notifier reported an error; still watching", "err", err)
			l.arm()
		case <-l.debounce.C:
			l.pending = false
			l.sync()
			if ready != nil {
				close(ready)
				ready = nil
			}
		case <-l.tick():
			// Re-establish watches at once so that events from now on
			// extend the quiet period; read after it.
			complete := l.watch()
			l.setPolling(!complete)
			if complete || !l.pending {
				l.arm()
			}
		case <-l.retry.C:
			if l.startNotifier() {
				l.setPolling(!l.watch())
				l.arm()
			}
		}
	}
}

// stop releases the notifier and the timers.
func (l *loop) stop() {
	l.debounce.Stop()
	l.retry.Stop()
	if l.ticker != nil {
		l.ticker.Stop()
	}
	l.closeNotifier()
}

// events and errors return the notifier's channels, or nil (never ready)
// when there is none.
func (l *loop) events() <-chan fsnotify.Event {
	if l.n == nil {
		return nil
	}
	return l.n.Events()
}

func (l *loop) errors() <-chan error {
	if l.n == nil {
		return nil
	}
	return l.n.Errors()
}

// startNotifier starts file-system notifications, unless watching is off,
// and reports whether they run. On failure it reports the error and arms
// the retry timer.
func (l *loop) startNotifier() bool {
	if l.w.triggerOnly {
		return false
	}
	n, err := l.w.newNotifier()
	if err != nil {
		l.fail(err)
		return false
	}
	l.n, l.failure, l.backoff = n, nil, 0
	l.report(nil)
	return true
}

// fail drops the notifier after err, reports err, polls meanwhile and
// arms the retry timer with the next backoff.
func (l *loop) fail(err error) {
	l.closeNotifier()
	l.failure = err
	l.report(err)
	l.backoff = min(max(2*l.backoff, retryMin), retryMax)
	l.retry.Reset(l.backoff)
	l.w.log.Debug("reload: retrying file-system notifications later", "in", l.backoff)
	l.setPolling(true)
}

// report passes a change of the notifications' state to OnError: a new
// error, or nil after an error.
func (l *loop) report(err error) {
	if err == nil && l.reported == nil || err != nil && l.reported != nil && err.Error() == l.reported.Error() {
		return
	}
	l.reported = err
	if l.w.onError != nil {
		l.w.onError(err)
		return
	}
	if err != nil {
		l.w.log.Warn("reload: file-system notifications failed; polling until they work again", "err", err)
	} else {
		l.w.log.Info("reload: file-system notifications work again")
	}
}

// closeNotifier closes the notifier, if any.
func (l *loop) closeNotifier() {
	if l.n == nil {
		return
	}
	if err := l.n.Close(); err != nil {
		l.w.log.Debug("reload: closing the file-system notifier failed", "err", err)
	}
	l.n = nil
}

// takeRequests applies what Watch and Trigger asked for: new paths are
// watched and read after a quiet period, and delivered whatever they hold
// unless watching is off; every path is, after a trigger.
func (l *loop) takeRequests() {
	paths, triggered := l.w.requests()
	changed := len(paths) != len(l.targets)
	kept := make([]*target, 0, len(paths))
	for _, p := range paths {
		i := slices.IndexFunc(l.targets, func(t *target) bool { return t.path == p })
		if i >= 0 {
			kept = append(kept, l.targets[i])
			continue
		}
		kept = append(kept, &target{path: p, forced: !l.w.triggerOnly})
		changed = true
	}
	l.targets = kept
	if triggered {
		for _, t := range l.targets {
			t.forced, t.triggered = true, true
		}
	}
	if changed {
		l.setPolling(!l.watch())
	}
	if changed || triggered {
		l.arm()
	}
}

// arm (re)starts the quiet period.
func (l *loop) arm() {
	l.debounce.Reset(l.w.debounce)
	l.pending = true
}

// tick returns the polling channel, or nil (never ready) when not polling.
func (l *loop) tick() <-chan time.Time {
	if l.ticker == nil {
		return nil
	}
	return l.ticker.C
}

// setPolling starts or stops the polling ticker, logging transitions.
func (l *loop) setPolling(on bool) {
	switch {
	case on && l.ticker == nil:
		l.ticker = time.NewTicker(l.w.pollInterval)
		if l.failure == nil {
			l.w.log.Warn("reload: a directory of a watched path is missing; polling until it returns",
				"interval", l.w.pollInterval)
		}
	case !on && l.ticker != nil:
		l.ticker.Stop()
		l.ticker = nil
		l.w.log.Info("reload: watching every directory again")
	}
}

// sync re-resolves the paths, updates the watches, and reads every path,
// delivering what it finds (see [loop.read]).
func (l *loop) sync() {
	l.setPolling(!l.watch())
	for _, t := range l.targets {
		l.read(t)
	}
}

// watch makes the notifier watch exactly the directories the paths
// currently depend on. It reports false when some of them could not be
// watched, or file-system notifications fail, in which case the caller
// polls.
func (l *loop) watch() bool {
	var dirs []string
	complete := true
	for _, t := range l.targets {
		t.relevant = relevantPaths(t.path)
		d, ok := watchDirs(t.path)
		complete = complete && ok
		for _, dir := range d {
			if !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
	}
	l.watched = dirs
	if l.n == nil {
		return l.w.triggerOnly
	}
	wanted := make(map[string]bool, len(dirs))
	for _, dir := range dirs {
		// Adding an already watched directory is cheap and re-attaches the
		// watch if the directory was replaced by a new one of the same name.
		if err := l.n.Add(dir); err != nil {
			l.w.log.Debug("reload: cannot watch directory", "dir", dir, "err", err)
			complete = false
			continue
		}
		wanted[dir] = true
	}
	for _, dir := range l.n.WatchList() {
		if wanted[dir] {
			continue
		}
		// The directory may already be gone, which drops its watch anyway.
		if err := l.n.Remove(dir); err != nil {
			l.w.log.Debug("reload: cannot stop watching directory", "dir", dir, "err", err)
		}
	}
	return complete
}

// read reads t and delivers what it finds if an event or a trigger asked
// for it, or, when only polling did, if it differs from the last read. An
// empty file is never delivered: it is taken to be half written.
func (l *loop) read(t *target) {
	data, err := os.ReadFile(t.path)
	errText := ""
	if err != nil {
		data, errText = nil, err.Error()
	}
	changed := !t.read || errText != t.errText || !bytes.Equal(data, t.data)
	forced, triggered := t.forced, t.triggered
	t.read, t.data, t.errText, t.forced, t.triggered = true, data, errText, false, false
	if !forced && (!changed || l.w.triggerOnly) {
		return
	}
	if err == nil && len(data) == 0 {
		l.w.log.Debug("reload: file is empty; waiting for content", "path", t.path)
		return
	}
	l.w.log.Debug("reload: read", "path", t.path, "bytes", len(data), "err", err, "triggered", triggered)
	l.w.onRead(Read{Path: t.path, Data: bytes.Clone(data), Err: err, Triggered: triggered})
}

// mark forces the next read of every target an event for name concerns:
// one that resolves through name, or all of them when name is a watched
// directory. It reports whether any was concerned.
func (l *loop) mark(name string) bool {
	name = filepath.Clean(name)
	all := slices.Contains(l.watched, name)
	any := false
	for _, t := range l.targets {
		if all || t.relevant[name] {
			t.forced, any = true, true
		}
	}
	return any
}
