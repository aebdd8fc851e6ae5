package reload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Bounds shared by the tests: a change must be delivered within
// deliveryBound of the edit finishing, and a further quietPeriod without a
// delivery shows that it was delivered exactly once. deliveryBound is ten
// times the quarter second the product promises, so that a loaded machine
// fails no test on time alone; the figures themselves are logged by
// TestSaveToCallbackLatency.
const (
	deliveryBound = 2500 * time.Millisecond
	quietPeriod   = 300 * time.Millisecond
	stopBound     = 5 * time.Second
)

// running is a [Watcher] for a test, with the reads it delivered and the
// log messages it produced.
type running struct {
	w    *Watcher
	got  chan Read
	logs chan string

	// stop cancels Run and checks that it returns nil promptly. It is set
	// by run, safe to call more than once, and called when the test ends.
	stop func()
}

// newRunning returns a watcher that records its deliveries and, unless
// opts has a logger, its log messages. It is not started yet.
func newRunning(opts Options) *running {
	r := &running{got: make(chan Read, 16), logs: make(chan string, 256)}
	if opts.Logger == nil {
		opts.Logger = slogMessages(r.logs)
	}
	r.w = New(func(rd Read) { r.got <- rd }, opts)
	return r
}

// startWatcher runs a watcher of paths until the test ends and waits until
// it is ready. The first read of each path is left for the test to expect.
func startWatcher(t *testing.T, opts Options, paths ...string) *running {
	t.Helper()
	r := newRunning(opts)
	r.w.Watch(paths...)
	r.run(t)
	return r
}

// watchFile creates dir (if needed) holding gateway.yaml with content and
// runs a watcher of it, past its first read. It returns the watcher and
// the file's path.
func watchFile(t *testing.T, dir, content string, opts Options) (*running, string) {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, content)
	r := startWatcher(t, opts, path)
	r.expect(t, content)
	return r, path
}

// run starts r.w, sets r.stop and waits until the watcher is ready.
func (r *running) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.w.Run(ctx) }()
	r.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v; want nil after cancel", err)
			}
		case <-time.After(stopBound):
			t.Errorf("Run did not return within %v of cancel", stopBound)
		}
	})
	t.Cleanup(r.stop)
	select {
	case <-r.w.Ready():
	case err := <-done:
		t.Fatalf("Run returned %v before it was ready", err)
	case <-time.After(stopBound):
		t.Fatalf("watcher not ready within %v", stopBound)
	}
}

// next waits for the next delivery, failing unless it arrives within
// deliveryBound, and returns it and how long it took.
func (r *running) next(t *testing.T, what string) (Read, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case got := <-r.got:
		return got, time.Since(start)
	case <-time.After(deliveryBound):
		t.Fatalf("%s not delivered within %v", what, deliveryBound)
		return Read{}, 0
	}
}

// expect waits for the next delivery, fails unless it is the content want
// and arrives within deliveryBound, and returns how long it took.
func (r *running) expect(t *testing.T, want string) time.Duration {
	t.Helper()
	got, took := r.next(t, fmt.Sprintf("%q", want))
	if got.Err != nil || !bytes.Equal(got.Data, []byte(want)) {
		t.Fatalf("delivered %q (error %v); want %q", got.Data, got.Err, want)
	}
	return took
}

// expectErr waits for the next delivery and fails unless it is a read
// error matching target.
func (r *running) expectErr(t *testing.T, target error) {
	t.Helper()
	got, _ := r.next(t, fmt.Sprintf("an error %v", target))
	if !errors.Is(got.Err, target) || got.Data != nil {
		t.Fatalf("delivered %q with error %v; want an error matching %v", got.Data, got.Err, target)
	}
}

// expectOnce is expect followed by expectNone: want is delivered exactly once.
func (r *running) expectOnce(t *testing.T, want string) time.Duration {
	t.Helper()
	latency := r.expect(t, want)
	r.expectNone(t)
	return latency
}

// expectSettled waits for want, the path read missing before it
// allowed, then fails if anything but want again is delivered within
// quietPeriod. It is for directories removed and created
// again: their events can reach the watcher after the read that found
// the new file, and each asks for a read of its own.
func (r *running) expectSettled(t *testing.T, want string) {
	t.Helper()
	// A machine slow enough to let the quiet period pass in the middle
	// of the change has the path read missing first.
	for {
		got, _ := r.next(t, fmt.Sprintf("%q", want))
		if errors.Is(got.Err, fs.ErrNotExist) {
			continue
		}
		if got.Err != nil || string(got.Data) != want {
			t.Fatalf("delivered %q (error %v); want %q", got.Data, got.Err, want)
		}
		break
	}
	for {
		select {
		case got := <-r.got:
			if got.Err != nil || string(got.Data) != want {
				t.Fatalf("delivered %q (error %v) after %q", got.Data, got.Err, want)
			}
		case <-time.After(quietPeriod):
			return
		}
	}
}

// expectNone fails if anything is delivered within quietPeriod.
func (r *running) expectNone(t *testing.T) {
	t.Helper()
	select {
	case got := <-r.got:
		t.Fatalf("unexpected delivery %q (error %v)", got.Data, got.Err)
	case <-time.After(quietPeriod):
	}
}

// expectLog waits until a log message equal to msg is recorded.
func (r *running) expectLog(t *testing.T, msg string) {
	t.Helper()
	deadline := time.After(stopBound)
	for {
		select {
		case got := <-r.logs:
			if got == msg {
				return
			}
		case <-deadline:
			t.Fatalf("log message %q not seen within %v", msg, stopBound)
		}
	}
}

// messageHandler is a [slog.Handler] that sends the message of each record
// at [slog.LevelInfo] or above to a channel, dropping messages when the
// channel is full.
type messageHandler struct{ messages chan<- string }

func (h messageHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h messageHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h messageHandler) WithGroup(string) slog.Handler                { return h }
func (h messageHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.messages <- r.Message:
	default:
	}
	return nil
}

// slogMessages returns a logger that sends its messages to messages.
func slogMessages(messages chan<- string) *slog.Logger {
	return slog.New(messageHandler{messages})
}

// writeFile writes content to path, failing the test on error.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// must fails the test if err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
