package reload

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
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

func TestRunFailsWhenNotifierCannotStart(t *testing.T) {
	errNoInotify := errors.New("too many open files")
	w := New(filepath.Join(t.TempDir(), "gateway.yaml"), func([]byte) {}, Options{})
	w.newNotifier = func() (notifier, error) { return nil, errNoInotify }
	err := w.Run(context.Background())
	if !errors.Is(err, errNoInotify) {
		t.Fatalf("Run returned %v; want an error wrapping %v", err, errNoInotify)
	}
}

func TestRunRefusesSecondCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	r := startWatcher(t, path, Options{})
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
	r := newRunning(path, Options{Initial: []byte("version: 1\n")})
	r.w.newNotifier = func() (notifier, error) {
		n, err := newFsnotifyNotifier()
		return erroringNotifier{notifier: n, errs: errs}, err
	}
	r.run(t)

	errs <- fsnotify.ErrEventOverflow
	r.expectLog(t, "reload: file watcher reported an error; still watching")
	r.expectNone(t)

	writeFile(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")
}
