package reload

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWatcherDeliversEverySettledRead checks that every burst of events
// concerning the file delivers what it holds once, identical or not:
// whether content is new is for the caller, who knows what is running, to
// decide.
func TestWatcherDeliversEverySettledRead(t *testing.T) {
	r, path := watchFile(t, t.TempDir(), "version: 1\n", Options{})

	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")

	writeFile(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")

	// A chmod is an event too: a touch asks for a read.
	must(t, os.Chmod(path, 0o600))
	r.expectOnce(t, "version: 2\n")

	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")
}

func TestWatcherFirstReadIsDelivered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "version: 1\n")
	r := startWatcher(t, Options{}, path)
	r.expectOnce(t, "version: 1\n")
}

// TestWatcherReportsReadErrors checks that a path that cannot be read is
// delivered as an error, at start and after the events that made it so,
// and its content once it can be read again.
func TestWatcherReportsReadErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	r := startWatcher(t, Options{}, path)
	r.expectErr(t, fs.ErrNotExist)
	r.expectNone(t)

	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")

	must(t, os.Remove(path))
	r.expectErr(t, fs.ErrNotExist)
	r.expectNone(t)

	must(t, os.Mkdir(path, 0o755))
	r.expectErr(t, syscall.EISDIR)
	// What happens inside the directory is no concern of the path.
	writeFile(t, filepath.Join(path, "other"), "x")
	r.expectNone(t)

	must(t, os.Remove(filepath.Join(path, "other")))
	must(t, os.Remove(path))
	writeFile(t, path, "version: 2\n")
	// A machine slow enough to let the quiet period pass between the
	// removal and the write has the watcher read the path missing first.
	if got, _ := r.next(t, "the path after its directory went"); got.Err != nil {
		if !errors.Is(got.Err, fs.ErrNotExist) {
			t.Fatalf("delivered error %v; want the content, or first that the path is missing", got.Err)
		}
		r.expectOnce(t, "version: 2\n")
	} else if string(got.Data) != "version: 2\n" {
		t.Fatalf("delivered %q; want %q", got.Data, "version: 2\n")
	} else {
		r.expectNone(t)
	}
}

func TestWatcherSkipsEmptyFile(t *testing.T) {
	r, path := watchFile(t, t.TempDir(), "version: 1\n", Options{})

	writeFile(t, path, "")
	r.expectNone(t)

	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")

	writeFile(t, path, "")
	r.expectNone(t)
	writeFile(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")
}

func TestWatcherStartsWithEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "")
	r := startWatcher(t, Options{}, path)
	r.expectNone(t)

	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")
}

// TestWatcherTriggerReadsAfterQuietPeriod checks that Trigger reads every
// path after the same quiet period as an event, that a burst of triggers
// makes one read marked Triggered, and that a trigger during a slow
// in-place write reads the finished file, not the half written one.
func TestWatcherTriggerReadsAfterQuietPeriod(t *testing.T) {
	r, path := watchFile(t, t.TempDir(), "version: 1\n", Options{})

	for range 100 {
		r.w.Trigger()
	}
	got, _ := r.next(t, "the triggered read")
	if !got.Triggered || string(got.Data) != "version: 1\n" {
		t.Fatalf("triggered read: %+v", got)
	}
	r.expectNone(t)

	// A write in three parts, each pause shorter than the quiet period,
	// with a trigger after the first part.
	content := "version: 2\nlisteners: []\npools: {}\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	defer f.Close()
	third := len(content) / 3
	for i, part := range []string{content[:third], content[third : 2*third], content[2*third:]} {
		_, err := f.WriteString(part)
		must(t, err)
		if i == 0 {
			r.w.Trigger()
		}
		if i < 2 {
			time.Sleep(DefaultDebounce / 3) // part of the edit: a slow writer
		}
	}
	must(t, f.Close())
	got, _ = r.next(t, "the finished file")
	if !got.Triggered || string(got.Data) != content {
		t.Fatalf("read during a slow write: %q (triggered %v), want the finished %q", got.Data, got.Triggered, content)
	}
	r.expectNone(t)
}

func TestWatcherTriggerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "version: 1\n")
	r := startWatcher(t, Options{TriggerOnly: true}, path)
	r.expectNone(t)

	writeFile(t, path, "version: 2\n")
	r.expectNone(t)

	r.w.Trigger()
	got, _ := r.next(t, "the triggered read")
	if !got.Triggered || string(got.Data) != "version: 2\n" {
		t.Fatalf("triggered read: %+v", got)
	}
	r.expectNone(t)
}

// TestWatcherWatchesSeveralPaths checks that each path's changes deliver
// that path only, that Watch reads a path it adds once, and that a path it
// drops is no longer delivered.
func TestWatcherWatchesSeveralPaths(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b, c := filepath.Join(dirA, "gateway.yaml"), filepath.Join(dirB, "cert.pem"), filepath.Join(dirA, "key.pem")
	writeFile(t, a, "a1")
	writeFile(t, b, "b1")
	writeFile(t, c, "c1")
	r := startWatcher(t, Options{}, a, b)
	first := map[string]string{}
	for range 2 {
		got, _ := r.next(t, "the first reads")
		first[got.Path] = string(got.Data)
	}
	if first[a] != "a1" || first[b] != "b1" {
		t.Fatalf("first reads %v", first)
	}
	r.expectNone(t)

	writeFile(t, b, "b2")
	if got, _ := r.next(t, "b's change"); got.Path != b || string(got.Data) != "b2" {
		t.Fatalf("delivered %s %q, want %s b2", got.Path, got.Data, b)
	}
	r.expectNone(t)

	r.w.Watch(a, c)
	if got, _ := r.next(t, "the added path"); got.Path != c || string(got.Data) != "c1" {
		t.Fatalf("delivered %s %q, want %s c1", got.Path, got.Data, c)
	}
	r.expectNone(t)
	writeFile(t, b, "b3")
	r.expectNone(t)
	writeFile(t, c, "c2")
	if got, _ := r.next(t, "c's change"); got.Path != c || string(got.Data) != "c2" {
		t.Fatalf("delivered %s %q, want %s c2", got.Path, got.Data, c)
	}
	r.expectNone(t)
}
