package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// MemoryLimitFromCgroup returns the memory limit of the cgroup the process
// runs in, in bytes, and whether there is one. Under cgroup v2 it reads
// memory.max of the process's cgroup and of every cgroup above it up to the
// mount point and keeps the smallest; under cgroup v1 it does the same with
// the memory controller's memory.limit_in_bytes. "max", v1's page-rounded
// "unlimited" value, missing files and unreadable ones all mean no limit.
//
// The Go runtime sizes GOMAXPROCS to the CPU quota by itself, but not the
// heap to the memory limit: a caller sets the soft limit below this one, so
// that the garbage collector works harder before the kernel's OOM killer
// acts.
//
//	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
//		if limit, ok := gateway.MemoryLimitFromCgroup(); ok {
//			debug.SetMemoryLimit(limit / 10 * 9)
//		}
//	}
func MemoryLimitFromCgroup() (int64, bool) {
	return memoryLimitUnder("/")
}

// unlimitedCgroupV1 is where cgroup v1 values start to mean "no limit":
// v1 reports unlimited as the largest page-aligned int64.
const unlimitedCgroupV1 = 1 << 62

// memoryLimitUnder is [MemoryLimitFromCgroup] with root in place of the
// file system root, so that tests can lay out /proc and /sys in a
// directory.
func memoryLimitUnder(root string) (int64, bool) {
	mount := filepath.Join(root, "sys", "fs", "cgroup")
	v2, v1 := cgroupPaths(filepath.Join(root, "proc", "self", "cgroup"))
	if limit, found := smallestLimit(mount, v2, "memory.max"); found {
		return limit, limit > 0
	}
	limit, _ := smallestLimit(filepath.Join(mount, "memory"), v1, "memory.limit_in_bytes")
	if limit <= 0 || limit >= unlimitedCgroupV1 {
		return 0, false
	}
	return limit, true
}

// smallestLimit returns the smallest positive limit in the files called
// name of the cgroup at rel below mount and of every cgroup above it up to
// mount itself (0 when none holds a number), and whether any such file was
// there at all.
func smallestLimit(mount, rel, name string) (limit int64, found bool) {
	dir := filepath.Join(mount, filepath.FromSlash(rel))
	if dir != mount && !strings.HasPrefix(dir, mount+string(filepath.Separator)) {
		dir = mount
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			found = true
			if v, ok := parseLimit(data); ok && (limit == 0 || v < limit) {
				limit = v
			}
		}
		if dir == mount {
			return limit, found
		}
		dir = filepath.Dir(dir)
	}
}

// cgroupPaths returns the process's cgroup v2 path and its cgroup v1
// memory controller path from the file /proc/self/cgroup (lines
// "0::PATH" and "N:memory:PATH"); each is "/" when the file does not say.
func cgroupPaths(file string) (v2, v1 string) {
	v2, v1 = "/", "/"
	data, err := os.ReadFile(file)
	if err != nil {
		return v2, v1
	}
	for line := range strings.Lines(string(data)) {
		fields := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(fields) != 3 || !strings.HasPrefix(fields[2], "/") {
			continue
		}
		switch {
		case fields[0] == "0" && fields[1] == "":
			v2 = fields[2]
		case slices.Contains(strings.Split(fields[1], ","), "memory"):
			v1 = fields[2]
		}
	}
	return v2, v1
}

// parseLimit parses a positive decimal byte count; "max" and anything
// else is no limit.
func parseLimit(data []byte) (int64, bool) {
	v, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}
