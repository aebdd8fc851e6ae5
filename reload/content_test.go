package reload

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWatcherSkipsIdenticalContent(t *testing.T) {
	r, path := watchFile(t, t.TempDir(), "version: 1\n", Options{})

	// The running content, written again: nothing to deliver.
	writeFile(t, path, "version: 1\n")
	r.expectNone(t)

	writeFile(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")

	// The content last delivered, written again: nothing to deliver.
	writeFile(t, path, "version: 2\n")
	r.expectNone(t)

	// A chmod is an event but not a change.
	must(t, os.Chmod(path, 0o600))
	r.expectNone(t)

	// Going back to earlier content is a change.
	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")
}

func TestWatcherInitialContent(t *testing.T) {
	tests := []struct {
		name    string
		initial []byte
		want    string // delivered at start; empty for none
	}{
		{name: "initial equals file", initial: []byte("version: 1\n")},
		{name: "initial differs from file", initial: []byte("version: 0\n"), want: "version: 1\n"},
		{name: "no initial", initial: nil, want: "version: 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			writeFile(t, path, "version: 1\n")
			r := startWatcher(t, path, Options{Initial: tt.initial})
			if tt.want == "" {
				r.expectNone(t)
				return
			}
			r.expectOnce(t, tt.want)
		})
	}
}

func TestWatcherWaitsForMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	r := startWatcher(t, path, Options{})
	r.expectNone(t)

	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")

	// Removed again: nothing is delivered, and the next content is.
	must(t, os.Remove(path))
	r.expectNone(t)
	writeFile(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")
}

func TestWatcherSkipsEmptyFile(t *testing.T) {
	r, path := watchFile(t, t.TempDir(), "version: 1\n", Options{})

	writeFile(t, path, "")
	r.expectNone(t)

	// The running content coming back after the empty file is not a change.
	writeFile(t, path, "version: 1\n")
	r.expectNone(t)

	writeFile(t, path, "")
	r.expectNone(t)
	writeFile(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")
}

func TestWatcherStartsWithEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, "")
	r := startWatcher(t, path, Options{})
	r.expectNone(t)

	writeFile(t, path, "version: 1\n")
	r.expectOnce(t, "version: 1\n")
}
