package gateway

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mountInfo is the file in which Linux lists the mounts the process sees.
const mountInfo = "/proc/self/mountinfo"

// warnIfMountPoint logs a warning when the config file at path is a
// mount point of its own, as a Kubernetes subPath mount or a single-file
// bind mount makes it: such a file keeps what it held when the container
// started, so no edit of its source ever reaches the gateway. Where the
// mount table cannot be read, it says nothing.
func (g *Gateway) warnIfMountPoint(path string) {
	data, err := os.ReadFile(mountInfo)
	if err != nil || !isMountPoint(data, path) {
		return
	}
	g.logger.Warn("the config file is a mount point of its own, as a Kubernetes subPath mount or a single-file bind mount makes it: "+
		"it never sees a change of its source, so no edit will be applied; mount the directory that holds it instead (the whole ConfigMap, without subPath) and point --config at the file inside",
		"config", path)
}

// isMountPoint reports whether path, an absolute path, or the file its
// symbolic links lead to, is the mount point of a mount of mountinfo,
// the content of /proc/self/mountinfo.
func isMountPoint(mountinfo []byte, path string) bool {
	paths := []string{filepath.Clean(path)}
	if real, err := filepath.EvalSymlinks(path); err == nil && real != paths[0] {
		paths = append(paths, real)
	}
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// ID, parent ID, major:minor, root, mount point, ...
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		point := unescapeMountPath(f[4])
		for _, p := range paths {
			if point == p {
				return true
			}
		}
	}
	return false
}

// unescapeMountPath undoes the octal escapes (\040 for a space, \011,
// \012, \134) with which the kernel writes a path in mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
