package gateway

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsMountPoint(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	spaced := filepath.Join(dir, "my config.yaml")
	link := filepath.Join(dir, "link.yaml")
	for _, p := range []string{file, spaced} {
		if err := os.WriteFile(p, []byte("servers: [http://a]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	// Lines as the kernel writes them: ID, parent, device, root, mount
	// point, options, optional fields, "-", type, source, options.
	line := func(point string) string {
		return "1234 27 254:0 /var/lib/kubelet/pods/p/volumes/kubernetes.io~configmap/config/..2026_01_01/gateway.yaml " +
			point + " ro,relatime - ext4 /dev/vda rw\n"
	}
	base := "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
		"28 27 0:25 / " + dir + " rw - tmpfs tmpfs rw\n" // the directory is a mount: that is fine
	for _, tt := range []struct {
		name, mountinfo, path string
		want                  bool
	}{
		{"a file mounted on its own (subPath)", base + line(file), file, true},
		{"its directory mounted", base, file, false},
		{"a symbolic link to a mounted file", base + line(file), link, true},
		{"the link itself mounted", base + line(link), link, true},
		{"escaped spaces", base + line(`/tmp/x/my\040config.yaml`), "/tmp/x/my config.yaml", true},
		{"a real path with a space", base + line(filepath.Join(dir, `my\040config.yaml`)), spaced, true},
		{"another file", base + line(file), spaced, false},
		{"a prefix is not a match", base + line(file+".bak"), file, false},
		{"short lines", "1 2 3\n\n", file, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := isMountPoint([]byte(tt.mountinfo), tt.path); got != tt.want {
				t.Errorf("isMountPoint(%s) = %t, want %t", tt.path, got, tt.want)
			}
		})
	}
}

// TestIsMountPointOfThisProcess reads the process's own mount table: / is
// a mount point, a file of a temporary directory is not.
func TestIsMountPointOfThisProcess(t *testing.T) {
	data, err := os.ReadFile(mountInfo)
	if err != nil {
		t.Skipf("no mount table: %v", err)
	}
	if !isMountPoint(data, "/") {
		t.Error("/ is not a mount point")
	}
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	os.WriteFile(file, nil, 0o644)
	if isMountPoint(data, file) {
		t.Errorf("%s is a mount point", file)
	}
}

func FuzzUnescapeMountPath(f *testing.F) {
	f.Add(`/etc/my\040gateway/gateway.yaml`)
	f.Add(`\`)
	f.Add(`a\01`)
	f.Add(`\777\134`)
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescapeMountPath(s); len(got) > len(s) {
			t.Fatalf("unescapeMountPath(%q) = %q, longer than its input", s, got)
		}
	})
}
