package reload

import (
	"os"
	"path/filepath"
	"testing"
)

// configMapVolume lays out a directory the way the kubelet mounts a
// ConfigMap holding one key, gateway.yaml:
//
//	dir/gateway.yaml -> ..data/gateway.yaml
//	dir/..data       -> <timestamp dir>
//	dir/<timestamp dir>/gateway.yaml
type configMapVolume struct {
	dir     string
	current string // name of the timestamped directory ..data points to
}

// newConfigMapVolume creates the layout in a fresh temporary directory with
// content as the first version.
func newConfigMapVolume(t *testing.T, content string) *configMapVolume {
	v := &configMapVolume{dir: t.TempDir()}
	v.current = v.writeVersion(t, "..2026_11_24_10_00_00.123", content)
	must(t, os.Symlink(v.current, filepath.Join(v.dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "gateway.yaml"), v.path()))
	return v
}

// path is the path the gateway is given: dir/gateway.yaml.
func (v *configMapVolume) path() string { return filepath.Join(v.dir, "gateway.yaml") }

// writeVersion creates a timestamped directory holding content.
func (v *configMapVolume) writeVersion(t *testing.T, name, content string) string {
	must(t, os.Mkdir(filepath.Join(v.dir, name), 0o755))
	writeFile(t, filepath.Join(v.dir, name, "gateway.yaml"), content)
	return name
}

// update publishes content the way the kubelet's atomic writer does: a new
// timestamped directory, a temporary ..data_tmp link to it renamed over
// ..data, then removal of the old directory.
func (v *configMapVolume) update(t *testing.T, timestamp, content string) {
	next := v.writeVersion(t, timestamp, content)
	tmpLink := filepath.Join(v.dir, "..data_tmp")
	must(t, os.Symlink(next, tmpLink))
	must(t, os.Rename(tmpLink, filepath.Join(v.dir, "..data")))
	must(t, os.RemoveAll(filepath.Join(v.dir, v.current)))
	v.current = next
}

func TestWatcherFollowsConfigMapUpdates(t *testing.T) {
	v := newConfigMapVolume(t, "version: 1\n")
	r := startWatcher(t, Options{}, v.path())
	r.expect(t, "version: 1\n")

	// Several updates: each one moves the watch to a new timestamped
	// directory and deletes the one watched before.
	updates := []struct{ timestamp, content string }{
		{"..2026_11_24_10_05_00.456", "version: 2\n"},
		{"..2026_11_24_10_10_00.789", "version: 3\n"},
		{"..2026_11_24_10_15_00.012", "version: 4\n"},
	}
	for _, u := range updates {
		v.update(t, u.timestamp, u.content)
		latency := r.expectOnce(t, u.content)
		t.Logf("ConfigMap update %s delivered %v after the swap", u.timestamp, latency)
	}

	// An update that republishes the same content is delivered once too:
	// whether it is new is for the caller to decide.
	v.update(t, "..2026_11_24_10_20_00.345", "version: 4\n")
	r.expectOnce(t, "version: 4\n")
}
