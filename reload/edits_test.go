package reload

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// edit replaces the content of the file at path the way one kind of editor
// or tool does.
type edit func(t *testing.T, path, content string)

// editInPlace rewrites the existing file, keeping its inode.
func editInPlace(t *testing.T, path, content string) {
	writeFile(t, path, content)
}

// truncateThenWrite truncates the file and writes it in two halves with a
// pause shorter than the debounce between them.
func truncateThenWrite(t *testing.T, path, content string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	defer f.Close()
	half := len(content) / 2
	_, err = f.WriteString(content[:half])
	must(t, err)
	time.Sleep(10 * time.Millisecond) // part of the edit: a slow writer
	_, err = f.WriteString(content[half:])
	must(t, err)
	must(t, f.Close())
}

// renameOver writes a temporary file in the same directory and renames it
// over the path (vim's default, most IDEs).
func renameOver(t *testing.T, path, content string) {
	tmp := path + ".swp"
	writeFile(t, tmp, content)
	must(t, os.Rename(tmp, path))
}

// backupThenWrite renames the original to a backup, writes a new file at the
// path and removes the backup (vim with backupcopy=no).
func backupThenWrite(t *testing.T, path, content string) {
	backup := path + "~"
	must(t, os.Rename(path, backup))
	writeFile(t, path, content)
	must(t, os.Remove(backup))
}

// removeAndRecreate deletes the file and creates it again.
func removeAndRecreate(t *testing.T, path, content string) {
	must(t, os.Remove(path))
	writeFile(t, path, content)
}

// sedInPlace mimics sed -i: a randomly named temporary file, written, given
// the original's mode, and renamed over the path.
func sedInPlace(t *testing.T, path, content string) {
	info, err := os.Stat(path)
	must(t, err)
	f, err := os.CreateTemp(filepath.Dir(path), "sed")
	must(t, err)
	_, err = f.WriteString(content)
	must(t, err)
	must(t, f.Chmod(info.Mode()))
	must(t, f.Close())
	must(t, os.Rename(f.Name(), path))
}

func TestWatcherDeliversEachEditOnce(t *testing.T) {
	tests := []struct {
		name string
		edit edit
	}{
		{"in-place write", editInPlace},
		{"truncate then write", truncateThenWrite},
		{"rename over", renameOver},
		{"backup then write", backupThenWrite},
		{"remove and recreate", removeAndRecreate},
		{"sed -i", sedInPlace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, path := watchFile(t, t.TempDir(), "version: 1\n", Options{})

			// Two rounds: the second proves the watch survives the first
			// (a rename or recreate leaves a new inode at the path).
			for _, content := range []string{"version: 2\nlisteners: []\n", "version: 3\nlisteners: []\n"} {
				tt.edit(t, path, content)
				latency := r.expectOnce(t, content)
				t.Logf("delivered %d bytes %v after the edit", len(content), latency)
			}
		})
	}
}

// TestWatcherFollowsSymlinkToAnotherDirectory watches a path that is a
// symbolic link into another directory: writes to the target and switching
// the link are both delivered.
func TestWatcherFollowsSymlinkToAnotherDirectory(t *testing.T) {
	linkDir, targetDir := t.TempDir(), t.TempDir()
	path := filepath.Join(linkDir, "gateway.yaml")
	first := filepath.Join(targetDir, "first.yaml")
	second := filepath.Join(targetDir, "second.yaml")
	writeFile(t, first, "a: 1\n")
	writeFile(t, second, "b: 2\n")
	must(t, os.Symlink(first, path))
	r := startWatcher(t, Options{}, path)
	r.expect(t, "a: 1\n")

	writeFile(t, first, "a: 2\n")
	r.expectOnce(t, "a: 2\n")

	tmp := filepath.Join(linkDir, "gateway.yaml.tmp")
	must(t, os.Symlink(second, tmp))
	must(t, os.Rename(tmp, path))
	r.expectOnce(t, "b: 2\n")

	// The watch moved with the link: the new target's edits are seen.
	writeFile(t, second, "b: 3\n")
	r.expectOnce(t, "b: 3\n")
}

// TestWatcherIgnoresNeighbourFiles saves the config while another file in
// the same directory is written every few milliseconds, as an access log
// beside the config would be: the save is still delivered in time, because
// the neighbour's events do not restart the quiet period.
func TestWatcherIgnoresNeighbourFiles(t *testing.T) {
	dir := t.TempDir()
	r, path := watchFile(t, dir, "version: 1\n", Options{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.Create(filepath.Join(dir, "access.log"))
		if err != nil {
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				f.WriteString("GET / 200\n")
			}
		}
	}()
	defer func() { close(stop); <-done }()
	renameOver(t, path, "version: 2\n")
	r.expectOnce(t, "version: 2\n")
	editInPlace(t, path, "version: 3\n")
	r.expectOnce(t, "version: 3\n")
}
