package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Default timings used when the corresponding [Options] field is zero.
const (
	// DefaultDebounce is the quiet period after the last file-system event
	// before the file is read. It covers truncate-then-write saves and the
	// two halves of a rename while adding little to the reload latency.
	DefaultDebounce = 50 * time.Millisecond

	// DefaultPollInterval is how often the path is re-checked while a
	// directory it depends on is missing and cannot be watched.
	DefaultPollInterval = 250 * time.Millisecond
)

// Options tunes a [Watcher]. The zero value is ready to use.
type Options struct {
	// Debounce is the quiet period that must follow the last event in a
	// watched directory before the path is re-read. Zero or negative means
	// [DefaultDebounce]; values above 100ms only add latency.
	Debounce time.Duration

	// PollInterval is how often the path is re-checked while a directory it
	// depends on is missing (or cannot be watched). Zero or negative means
	// [DefaultPollInterval].
	PollInterval time.Duration

	// Initial is the content the caller is already running. Content
	// byte-identical to it is not delivered. When nil, whatever the path
	// holds when [Watcher.Run] starts is delivered.
	Initial []byte

	// Logger receives the watcher's diagnostics. Nil discards them.
	Logger *slog.Logger
}

// Watcher watches one config path and hands changed content to a callback.
//
// It watches the directories that decide what the path resolves to rather
// than the file itself; see the package documentation for why. Create one
// with [New] and start it with [Watcher.Run].
type Watcher struct {
	path         string
	onChange     func(data []byte)
	debounce     time.Duration
	pollInterval time.Duration
	initial      []byte
	log          *slog.Logger

	ready   chan struct{}
	started atomic.Bool

	// newNotifier starts the file-system notifier; tests replace it.
	newNotifier func() (notifier, error)
}

// New returns a [Watcher] for path that calls onChange with the file's full
// content each time it changes. The content slice belongs to onChange. New
// does not touch the file system; [Watcher.Run] does the watching.
func New(path string, onChange func(data []byte), opts Options) *Watcher {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	} else {
		path = filepath.Clean(path)
	}
	w := &Watcher{
		path:         path,
		onChange:     onChange,
		debounce:     opts.Debounce,
		pollInterval: opts.PollInterval,
		initial:      opts.Initial,
		log:          opts.Logger,
		ready:        make(chan struct{}),
		newNotifier:  newFsnotifyNotifier,
	}
	if w.debounce <= 0 {
		w.debounce = DefaultDebounce
	}
	if w.pollInterval <= 0 {
		w.pollInterval = DefaultPollInterval
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("path", path)
	return w
}

// Path returns the absolute path the watcher watches.
func (w *Watcher) Path() string { return w.path }

// Ready returns a channel that is closed once [Watcher.Run] has set up its
// watches and finished the initial read (delivering the content if it
// differs from [Options.Initial]). Every change made after that is seen.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx is done and returns nil then, or an error if the
// watch can never be set up (for example when the file-system notifier
// cannot be created). A missing file or directory is not an error: Run waits,
// polling if need be, until it appears.
//
// onChange is called from Run's goroutine, one call at a time, in order;
// while it runs, further changes wait. All goroutines Run starts have stopped
// when it returns. Run may be called once per [Watcher].
func (w *Watcher) Run(ctx context.Context) (err error) {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("reload: Run called twice on the same Watcher; create a new one with New")
	}
	n, err := w.newNotifier()
	if err != nil {
		return fmt.Errorf("reload: start watching %s: %w", w.path, err)
	}
	defer func() {
		if closeErr := n.Close(); closeErr != nil {
			w.log.Warn("reload: closing the file watcher failed", "err", closeErr)
		}
	}()
	l := newLoop(w, n)
	defer l.stop()
	return l.run(ctx)
}
