package reload

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

func TestRunStopsAllGoroutinesOnCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	r, path := watchFile(t, t.TempDir(), "version: 1\n", Options{})
	// Leave a debounce pending and the notifier busy when cancelling.
	writeFile(t, path, "version: 2\n")
	r.stop()

	// The goroutine that ran Run may take a moment to exit after sending.
	deadline := time.Now().Add(stopBound)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Run returned; %d before\n%s",
				runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunRefusesSecondCall(t *testing.T) {
	r := startWatcher(t, Options{}, filepath.Join(t.TempDir(), "gateway.yaml"))
	if err := r.w.Run(context.Background()); err == nil {
		t.Fatal("second Run returned nil; want an error")
	}
}

// erroringNotifier is a real notifier whose Errors channel the test feeds.
type erroringNotifier struct {
	notifier
	errs chan error
}

func (n erroringNotifier) Errors() <-chan error { return n.errs }

func TestWatcherKeepsWatchingAfterNotifierError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "version: 1\n")
	errs := make(chan error)
	r := newRunning(Options{})
	r.w.newNotifier = func() (notifier, error) {
		n, err := newFsnotifyNotifier()
		return erroringNotifier{notifier: n, errs: errs}, err
	}
	r.w.Watch(path)
	r.run(t)
	r.expect(t, "version: 1\n")

	// Events may have been lost: the file is read again, and not
	// delivered since nothing changed.
	errs <- fsnotify.ErrEventOverflow
	r.expectNone(t)

	writeFile(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")
}

// fakeNotifier is a notifier that watches nothing: its channels carry what
// the test sends, and closing it closes them.
type fakeNotifier struct {
	events chan fsnotify.Event
	errs   chan error
	once   sync.Once
}

func newFakeNotifier() *fakeNotifier {
	return &fakeNotifier{events: make(chan fsnotify.Event), errs: make(chan error)}
}

func (n *fakeNotifier) Add(string) error               { return nil }
func (n *fakeNotifier) Remove(string) error            { return nil }
func (n *fakeNotifier) WatchList() []string            { return nil }
func (n *fakeNotifier) Events() <-chan fsnotify.Event  { return n.events }
func (n *fakeNotifier) Errors() <-chan error           { return n.errs }
func (n *fakeNotifier) stopUnasked()                   { n.once.Do(func() { close(n.events) }) }
func (n *fakeNotifier) Close() error                   { n.stopUnasked(); return nil }
func (n *fakeNotifier) send(t *testing.T, name string) { n.events <- fsnotify.Event{Name: name} }

// TestWatcherReportsAndRetriesNotifierFailures checks that a notifier that
// cannot start, or stops, is reported to OnError once per failure, that
// changes are still delivered by polling meanwhile, that the watcher tries
// again with backoff, and that recovery is reported with nil.
func TestWatcherReportsAndRetriesNotifierFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gateway.yaml")
		writeFile(t, path, "version: 1\n")
		errTooMany := errors.New("too many open files")

		var mu sync.Mutex
		var reports []error
		var attempts []time.Time
		var current *fakeNotifier
		failing := true
		reads := make(chan Read, 16)
		w := New(func(r Read) { reads <- r }, Options{OnError: func(err error) {
			mu.Lock()
			reports = append(reports, err)
			mu.Unlock()
		}})
		w.newNotifier = func() (notifier, error) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, time.Now())
			if failing {
				return nil, errTooMany
			}
			current = newFakeNotifier()
			return current, nil
		}
		w.Watch(path)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		start := time.Now()

		next := func() Read {
			t.Helper()
			synctest.Wait()
			select {
			case r := <-reads:
				return r
			default:
				t.Fatal("nothing delivered")
				return Read{}
			}
		}
		expectNothing := func() {
			t.Helper()
			synctest.Wait()
			select {
			case r := <-reads:
				t.Fatalf("unexpected delivery %q (error %v)", r.Data, r.Err)
			default:
			}
		}
		<-w.Ready()
		if r := next(); string(r.Data) != "version: 1\n" {
			t.Fatalf("first read %q, %v", r.Data, r.Err)
		}

		// Failing: a change is delivered by polling, once.
		writeFile(t, path, "version: 2\n")
		time.Sleep(DefaultPollInterval + DefaultDebounce)
		if r := next(); string(r.Data) != "version: 2\n" {
			t.Fatalf("while failing, read %q, %v", r.Data, r.Err)
		}
		time.Sleep(3 * DefaultPollInterval)
		expectNothing()

		// Retries back off: 1s, 2s, 4s after the failures.
		time.Sleep(7*time.Second - time.Since(start) + time.Millisecond)
		mu.Lock()
		if len(attempts) != 4 {
			t.Fatalf("%d attempts in 7s, want 4 (at 0s, 1s, 3s, 7s)", len(attempts))
		}
		for i, want := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second} {
			if got := attempts[i].Sub(start); got != want {
				t.Errorf("attempt %d at %v, want %v", i, got, want)
			}
		}
		failing = false
		mu.Unlock()

		// The next attempt works: recovery is reported with nil, and
		// events are followed again.
		time.Sleep(8*time.Second + time.Millisecond)
		synctest.Wait()
		mu.Lock()
		if len(reports) != 2 || !errors.Is(reports[0], errTooMany) || reports[1] != nil {
			t.Fatalf("reports %v, want [%v <nil>]", reports, errTooMany)
		}
		n := current
		mu.Unlock()
		expectNothing()
		writeFile(t, path, "version: 3\n")
		n.send(t, path)
		time.Sleep(DefaultDebounce + time.Millisecond)
		if r := next(); string(r.Data) != "version: 3\n" {
			t.Fatalf("after recovery, read %q, %v", r.Data, r.Err)
		}

		// A notifier that stops on its own is a failure too.
		n.stopUnasked()
		synctest.Wait()
		mu.Lock()
		if len(reports) != 3 || !errors.Is(reports[2], errNotifierStopped) {
			t.Fatalf("reports %v, want a third: %v", reports, errNotifierStopped)
		}
		mu.Unlock()
		time.Sleep(retryMin + time.Millisecond)
		synctest.Wait()
		mu.Lock()
		if len(reports) != 4 || reports[3] != nil {
			t.Fatalf("reports %v, want recovery after %v", reports, retryMin)
		}
		mu.Unlock()

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v", err)
		}
	})
}
