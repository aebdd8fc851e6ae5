package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// loop is the state of one [Watcher.Run]: the notifier, the debounce timer,
// the polling ticker and the hash of the content last delivered. It is used
// only from Run's goroutine.
type loop struct {
	w *Watcher
	n notifier

	// lastHash is the [Hash] of the content last delivered, or of
	// [Options.Initial]; empty when nothing is known to be running.
	lastHash string

	debounce *time.Timer
	pending  bool // debounce is armed and has not fired yet

	ticker *time.Ticker // non-nil while polling

	// relevant holds the paths whose events matter (see relevantPaths)
	// and watched the directories being watched, both as of the last
	// watch.
	relevant map[string]bool
	watched  []string
}

func newLoop(w *Watcher, n notifier) *loop {
	l := &loop{w: w, n: n, debounce: time.NewTimer(w.debounce)}
	l.debounce.Stop()
	if w.initial != nil {
		l.lastHash = Hash(w.initial)
	}
	return l
}

// run performs the initial watch and read, then reacts to events, errors,
// the debounce timer and polling ticks until ctx is done.
func (l *loop) run(ctx context.Context) error {
	l.sync()
	close(l.w.ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-l.n.Events():
			if !ok {
				return fmt.Errorf("reload: watching %s: the file watcher stopped unexpectedly", l.w.path)
			}
			// Whatever the kind of event, if it names a path the config
			// resolves through it may have changed what the path resolves
			// to: re-resolve after the burst settles. Events for other files
			// in the same directories are ignored.
			if !l.matters(ev.Name) {
				continue
			}
			l.w.log.Debug("reload: file-system event", "event", ev)
			l.arm()
		case err, ok := <-l.n.Errors():
			if !ok {
				return fmt.Errorf("reload: watching %s: the file watcher stopped unexpectedly", l.w.path)
			}
			// Events may have been lost (for example on queue overflow), so
			// re-read once things are quiet.
			l.w.log.Warn("reload: file watcher reported an error; still watching", "err", err)
			l.arm()
		case <-l.debounce.C:
			l.pending = false
			l.sync()
		case <-l.tick():
			// Re-establish watches at once so that events from now on
			// extend the quiet period; read after it.
			complete := l.watch()
			l.setPolling(!complete)
			if complete || !l.pending {
				l.arm()
			}
		}
	}
}

// stop releases the timer and ticker.
func (l *loop) stop() {
	l.debounce.Stop()
	if l.ticker != nil {
		l.ticker.Stop()
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
		l.w.log.Warn("reload: a directory of the config path is missing; polling until it returns",
			"interval", l.w.pollInterval)
	case !on && l.ticker != nil:
		l.ticker.Stop()
		l.ticker = nil
		l.w.log.Info("reload: config directory is back; watching it again")
	}
}

// sync re-resolves the path, updates the watches, and delivers the content
// if it changed.
func (l *loop) sync() {
	l.setPolling(!l.watch())
	l.deliver()
}

// watch makes the notifier watch exactly the directories the path currently
// depends on. It reports false when some of them could not be watched, in
// which case the caller polls.
func (l *loop) watch() bool {
	dirs, complete := watchDirs(l.w.path)
	l.relevant, l.watched = relevantPaths(l.w.path), dirs
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

// deliver reads the path and calls onChange if the content is non-empty and
// differs from what was last delivered (or is running initially).
func (l *loop) deliver() {
	data, err := os.ReadFile(l.w.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.w.log.Debug("reload: config file is missing; waiting for it")
		return
	case err != nil:
		l.w.log.Warn("reload: cannot read config file; waiting for the next change", "err", err)
		return
	case len(data) == 0:
		l.w.log.Debug("reload: config file is empty; waiting for content")
		return
	}
	hash := Hash(data)
	if hash == l.lastHash {
		l.w.log.Debug("reload: config content unchanged", "sha256", hash)
		return
	}
	l.lastHash = hash
	l.w.log.Info("reload: config content changed", "sha256", hash, "bytes", len(data))
	l.w.onChange(data)
}

// matters reports whether an event for name can concern the config: it
// names a path the config resolves through, or a watched directory itself.
func (l *loop) matters(name string) bool {
	name = filepath.Clean(name)
	return l.relevant[name] || slices.Contains(l.watched, name)
}
