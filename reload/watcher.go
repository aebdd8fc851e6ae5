package reload

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Default timings used when the corresponding [Options] field is zero.
const (
	// DefaultDebounce is the quiet period after the last file-system event
	// (or [Watcher.Trigger]) before the files are read. It covers
	// truncate-then-write saves and the two halves of a rename while adding
	// little to the reload latency.
	DefaultDebounce = 50 * time.Millisecond

	// DefaultPollInterval is how often the paths are re-checked while a
	// directory they depend on is missing, or while file-system
	// notifications fail.
	DefaultPollInterval = 250 * time.Millisecond
)

// How long a [Watcher] waits before it tries again to start file-system
// notifications that failed: retryMin after the first failure, doubling
// up to retryMax.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// Options tunes a [Watcher]. The zero value is ready to use.
type Options struct {
	// Debounce is the quiet period that must follow the last event in a
	// watched directory, or the last [Watcher.Trigger], before the paths are
	// read. Zero or negative means [DefaultDebounce]; values above 100ms
	// only add latency.
	Debounce time.Duration

	// PollInterval is how often the paths are re-checked while a directory
	// they depend on is missing (or cannot be watched), and while
	// file-system notifications fail. Zero or negative means
	// [DefaultPollInterval].
	PollInterval time.Duration

	// TriggerOnly turns file-system watching off: the paths are delivered
	// only after a [Watcher.Trigger], never because they changed or were
	// added.
	TriggerOnly bool

	// OnError, when not nil, is called from Run's goroutine with the error
	// when the file-system notifications stop working (they cannot be
	// started, or stop), and with nil once they work again. Meanwhile the
	// Watcher polls every PollInterval and tries to start them again, after
	// 1s at first and up to every 30s, for as long as it runs.
	OnError func(err error)

	// Logger receives the watcher's diagnostics: a directory that went
	// missing and came back, at warn and info level, and the rest at debug
	// level. Failures of file-system notifications are logged at warn level
	// only when OnError is nil. Nil discards them.
	Logger *slog.Logger
}

// Read is what a [Watcher] found at one of its paths after a quiet period.
type Read struct {
	// Path is the path as given to [Watcher.Watch], made absolute.
	Path string
	// Data is the file's whole content; it belongs to the callback. It is
	// nil when Err is set, and never empty otherwise.
	Data []byte
	// Err is why the file could not be read: it is missing, a directory,
	// unreadable, or its symbolic links loop.
	Err error
	// Triggered reports that a [Watcher.Trigger] asked for this read.
	Triggered bool
}

// Watcher watches a set of files and hands what they hold to a callback
// after each change, and whenever it is asked to.
//
// It watches the directories that decide what each path resolves to rather
// than the files themselves; see the package documentation for why. Create
// one with [New], tell it what to watch with [Watcher.Watch] and start it
// with [Watcher.Run].
type Watcher struct {
	onRead       func(Read)
	debounce     time.Duration
	pollInterval time.Duration
	triggerOnly  bool
	onError      func(error)
	log          *slog.Logger

	// mu guards the requests that Watch and Trigger leave for Run's
	// goroutine, which kick wakes.
	mu        sync.Mutex
	paths     []string
	triggered bool
	kick      chan struct{}

	ready   chan struct{}
	started atomic.Bool

	// newNotifier starts the file-system notifier; tests replace it.
	newNotifier func() (notifier, error)
}

// New returns a [Watcher] that calls onRead with what it reads. It watches
// nothing until [Watcher.Watch] names paths, and does not touch the file
// system before [Watcher.Run].
func New(onRead func(Read), opts Options) *Watcher {
	w := &Watcher{
		onRead:       onRead,
		debounce:     opts.Debounce,
		pollInterval: opts.PollInterval,
		triggerOnly:  opts.TriggerOnly,
		onError:      opts.OnError,
		log:          opts.Logger,
		kick:         make(chan struct{}, 1),
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
	return w
}

// Watch makes paths the set of files the Watcher watches, replacing the
// set it had; relative paths are taken from the working directory. A path
// new to the set is read after a quiet period and delivered, whatever it
// holds (unless [Options.TriggerOnly] is set). Watch may be
// called at any time, from any goroutine, onRead included.
func (w *Watcher) Watch(paths ...string) {
	abs := make([]string, 0, len(paths))
	for _, p := range paths {
		if a, err := filepath.Abs(p); err == nil {
			p = a
		} else {
			p = filepath.Clean(p)
		}
		if !slices.Contains(abs, p) {
			abs = append(abs, p)
		}
	}
	w.mu.Lock()
	w.paths = abs
	w.mu.Unlock()
	w.wake()
}

// Trigger asks for every path to be read and delivered after a quiet
// period, as if each had changed: what a SIGHUP asks for. Triggers that
// come before the quiet period ends make one read, and so do file-system
// events in the same period; its [Read]s are marked Triggered. Trigger never
// blocks, and may be called from any goroutine.
func (w *Watcher) Trigger() {
	w.mu.Lock()
	w.triggered = true
	w.mu.Unlock()
	w.wake()
}

// wake tells Run's goroutine that Watch or Trigger left a request.
func (w *Watcher) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// requests takes what Watch and Trigger asked for since the last call.
func (w *Watcher) requests() (paths []string, triggered bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	triggered, w.triggered = w.triggered, false
	return w.paths, triggered
}

// Ready returns a channel that is closed once [Watcher.Run] has set up its
// watches and finished the first read of every path, which follows a first
// quiet period. Every change made after that is seen.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx is done and then returns nil. A missing file or
// directory is not an error: Run polls, if need be, until it appears; and
// if file-system notifications cannot be started or stop, Run reports it
// to [Options.OnError], polls, and tries again to start them.
//
// onRead is called from Run's goroutine, one call at a time, in order;
// while it runs, further changes wait. All goroutines Run starts have
// stopped when it returns. Run may be called once per [Watcher]; a second
// call returns an error.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("reload: Run called twice on the same Watcher; create a new one with New")
	}
	l := newLoop(w)
	defer l.stop()
	l.run(ctx)
	return nil
}
