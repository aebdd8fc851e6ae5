package gateway

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemoryLimitUnder(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"no cgroup files", nil, 0, false},
		{"v2 limit at the mount", map[string]string{
			"sys/fs/cgroup/memory.max": "536870912\n",
		}, 536870912, true},
		{"v2 unlimited", map[string]string{
			"sys/fs/cgroup/memory.max": "max\n",
		}, 0, false},
		{"v2 nested cgroup of the process", map[string]string{
			"proc/self/cgroup":                           "0::/kubepods/pod1/ctr\n",
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max":     "268435456\n",
			"sys/fs/cgroup/kubepods/memory.max":          "1073741824\n",
		}, 268435456, true},
		{"v2 path escaping the mount is ignored", map[string]string{
			"proc/self/cgroup":         "0::/../../etc\n",
			"sys/fs/cgroup/memory.max": "1048576\n",
		}, 1048576, true},
		{"v2 unlimited does not fall back to v1", map[string]string{
			"sys/fs/cgroup/memory.max":                   "max\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "1048576\n",
		}, 0, false},
		{"v1 limit", map[string]string{
			"proc/self/cgroup":                           "12:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "134217728\n",
		}, 134217728, true},
		{"v1 nested cgroup of the process", map[string]string{
			"proc/self/cgroup":                                   "4:memory:/api/abc\n0::/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":         "9223372036854771712\n",
			"sys/fs/cgroup/memory/api/memory.limit_in_bytes":     "201326592\n",
			"sys/fs/cgroup/memory/api/abc/memory.limit_in_bytes": "9223372036854771712\n",
		}, 201326592, true},
		{"v1 unlimited", map[string]string{
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0, false},
		{"garbage", map[string]string{
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "lots\n",
		}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tt.files {
				path := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := memoryLimitUnder(root)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("memoryLimitUnder = %d, %t; want %d, %t", got, ok, tt.want, tt.ok)
			}
		})
	}
}
