package reload

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Log messages the tests wait for to know the watcher switched mode.
const (
	pollingMessage  = "reload: a directory of a watched path is missing; polling until it returns"
	watchingMessage = "reload: watching every directory again"
)

// testPollInterval keeps the polling fallback well inside deliveryBound.
const testPollInterval = 50 * time.Millisecond

func TestWatcherPollsWhileDirectoryIsRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	r, path := watchFile(t, dir, "version: 1\n", Options{PollInterval: testPollInterval})

	must(t, os.RemoveAll(dir))
	r.expectLog(t, pollingMessage)
	// Polling reads the path every interval but delivers only what
	// changed: the error once.
	r.expectErr(t, fs.ErrNotExist)
	r.expectNone(t)

	must(t, os.Mkdir(dir, 0o755))
	writeFile(t, path, "version: 2\n")
	r.expectSettled(t, "version: 2\n")
	r.expectLog(t, watchingMessage)

	// Back on events: an in-place write is seen.
	writeFile(t, path, "version: 3\n")
	r.expectOnce(t, "version: 3\n")
}

func TestWatcherPollsUntilDirectoryIsCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	path := filepath.Join(dir, "gateway.yaml")
	r := startWatcher(t, Options{PollInterval: testPollInterval}, path)
	r.expectLog(t, pollingMessage)
	r.expectErr(t, fs.ErrNotExist)
	r.expectNone(t)

	// The directory alone changes nothing that could be delivered.
	must(t, os.MkdirAll(dir, 0o755))
	r.expectLog(t, watchingMessage)
	r.expectNone(t)

	writeFile(t, path, "version: 1\n")
	r.expectSettled(t, "version: 1\n")
}

func TestWatcherSeesDirectoryReplacedQuickly(t *testing.T) {
	// The directory is replaced before the watcher's quiet period ends, so
	// it may never poll; the watch must still move to the new directory.
	dir := filepath.Join(t.TempDir(), "config")
	r, path := watchFile(t, dir, "version: 1\n", Options{PollInterval: testPollInterval})

	must(t, os.RemoveAll(dir))
	must(t, os.Mkdir(dir, 0o755))
	writeFile(t, path, "version: 2\n")
	r.expectSettled(t, "version: 2\n")

	writeFile(t, path, "version: 3\n")
	r.expectOnce(t, "version: 3\n")
}
