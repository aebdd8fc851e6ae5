package reload

import (
	"os"
	"path/filepath"
	"slices"
)

// maxSymlinkHops bounds how many symbolic links watchDirs follows, matching
// the limit after which Linux reports ELOOP.
const maxSymlinkHops = 40

// watchDirs returns the real (symlink-free) directories whose entries decide
// what path resolves to: the directory holding path itself and, when path is
// a symbolic link, the directory holding each link target along the chain.
// For a Kubernetes ConfigMap mount, dir/gateway.yaml -> ..data/gateway.yaml
// and dir/..data -> ..2026_11_24_10_00_00.123, that is dir and the current
// timestamped directory.
//
// complete is false when a directory the chain passes through cannot be
// resolved (it is missing or unreadable); the caller cannot rely on events
// for that part of the chain and must poll. A missing or non-link final
// element ends the chain normally: its directory is watched, so its creation
// is seen.
func watchDirs(path string) (dirs []string, complete bool) {
	current := path
	for range maxSymlinkHops {
		dir, err := filepath.EvalSymlinks(filepath.Dir(current))
		if err != nil {
			return dirs, false
		}
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
		target, err := os.Readlink(current)
		if err != nil {
			// Not a symbolic link, or not there yet: the chain ends here.
			return dirs, true
		}
		if !filepath.IsAbs(target) {
			// The kernel resolves a relative target against the directory
			// that holds the link, so join it to that directory's real path.
			target = filepath.Join(dir, target)
		}
		current = target
	}
	// A symlink loop: reading the path fails with ELOOP and is reported
	// there; the directories seen so far are still worth watching, because
	// fixing the loop happens in one of them.
	return dirs, true
}

// relevantPaths returns the paths whose events can change what path
// resolves to or contains: each element of its symlink chain, under its
// written and its real directory, and every link a relative target passes
// through (the `..data` of a ConfigMap's `..data/gateway.yaml`). Events for
// other files in the watched directories, a log written beside the config
// say, are not relevant and must not hold up a reload.
func relevantPaths(path string) map[string]bool {
	set := make(map[string]bool)
	current := filepath.Clean(path)
	for range maxSymlinkHops {
		set[current] = true
		dir := filepath.Dir(current)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			set[filepath.Join(real, filepath.Base(current))] = true
			dir = real
		}
		target, err := os.Readlink(current)
		if err != nil {
			return set
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		for p := filepath.Dir(target); p != dir && p != filepath.Dir(p); p = filepath.Dir(p) {
			set[p] = true
		}
		current = filepath.Clean(target)
	}
	return set
}
