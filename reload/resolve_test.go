package reload

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWatchDirs(t *testing.T) {
	root := t.TempDir()
	// Real paths: the temporary directory itself may sit behind a link.
	root, err := filepath.EvalSymlinks(root)
	must(t, err)
	join := func(elem ...string) string { return filepath.Join(append([]string{root}, elem...)...) }
	for _, dir := range []string{"etc", "other", "cm/..2026_11_24_10_00_00.123"} {
		must(t, os.MkdirAll(join(dir), 0o755))
	}
	writeFile(t, join("etc", "plain.yaml"), "a: 1\n")
	writeFile(t, join("other", "real.yaml"), "a: 1\n")
	writeFile(t, join("cm", "..2026_11_24_10_00_00.123", "gateway.yaml"), "a: 1\n")
	must(t, os.Symlink(join("other", "real.yaml"), join("etc", "absolute.yaml")))
	must(t, os.Symlink("../other/real.yaml", join("etc", "relative.yaml")))
	must(t, os.Symlink(join("other", "missing.yaml"), join("etc", "dangling.yaml")))
	must(t, os.Symlink(join("gone", "x.yaml"), join("etc", "into-missing-dir.yaml")))
	must(t, os.Symlink("loop-b.yaml", join("etc", "loop-a.yaml")))
	must(t, os.Symlink("loop-a.yaml", join("etc", "loop-b.yaml")))
	must(t, os.Symlink("..2026_11_24_10_00_00.123", join("cm", "..data")))
	must(t, os.Symlink("..data/gateway.yaml", join("cm", "gateway.yaml")))

	tests := []struct {
		name         string
		path         string
		wantDirs     []string
		wantComplete bool
	}{
		{"plain file", join("etc", "plain.yaml"), []string{join("etc")}, true},
		{"missing file", join("etc", "missing.yaml"), []string{join("etc")}, true},
		{"missing directory", join("gone", "x.yaml"), nil, false},
		{"absolute link", join("etc", "absolute.yaml"), []string{join("etc"), join("other")}, true},
		{"relative link", join("etc", "relative.yaml"), []string{join("etc"), join("other")}, true},
		{"dangling link", join("etc", "dangling.yaml"), []string{join("etc"), join("other")}, true},
		{"link into missing directory", join("etc", "into-missing-dir.yaml"), []string{join("etc")}, false},
		{"link loop", join("etc", "loop-a.yaml"), []string{join("etc")}, true},
		{"config map", join("cm", "gateway.yaml"),
			[]string{join("cm"), join("cm", "..2026_11_24_10_00_00.123")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dirs, complete := watchDirs(tt.path)
			if !slices.Equal(dirs, tt.wantDirs) || complete != tt.wantComplete {
				t.Errorf("watchDirs(%s) = %q, %v; want %q, %v",
					tt.path, dirs, complete, tt.wantDirs, tt.wantComplete)
			}
		})
	}
}
