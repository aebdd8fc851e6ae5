package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestProblemError checks how a problem is printed with and without each
// of its parts.
func TestProblemError(t *testing.T) {
	cases := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "gw.yaml", Line: 3, Col: 7, Path: "pools.api.servers[1].weight", Value: "-3", Message: "must not be negative"},
			`gw.yaml:3:7: pools.api.servers[1].weight: must not be negative (got "-3")`},
		{Problem{File: "gw.yaml", Line: 3, Col: 7, Path: "routes[0].pool", Message: `no pool named "apii"`},
			`gw.yaml:3:7: routes[0].pool: no pool named "apii"`},
		{Problem{File: "gw.yaml", Line: 2, Message: "invalid YAML: found character that cannot start any token"},
			"gw.yaml:2: invalid YAML: found character that cannot start any token"},
		{Problem{File: "gw.yaml", Message: "the file is empty"}, "gw.yaml: the file is empty"},
		{Problem{File: "gw.json", Line: 1, Col: 1, Message: "no servers: set servers or pools"}, "gw.json:1:1: no servers: set servers or pools"},
		{Problem{Path: "listen", Value: "a\"b", Message: "invalid address"}, `listen: invalid address (got "a\"b")`},
		{Problem{Line: 4, Col: 2, Message: "m"}, "4:2: m"},
	}
	for _, tc := range cases {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("Error() = %s\nwant      %s", got, tc.want)
		}
	}
}

// TestConfigErrorError checks that a ConfigError prints one problem a
// line, in file order.
func TestConfigErrorError(t *testing.T) {
	_, err := Decode("gw.yaml", []byte("servers: [ftp://a]\nlisten: [1]\n"))
	want := `gw.yaml:1:11: servers[0]: the scheme must be http or https (got "ftp://a")
gw.yaml:2:9: listen: expected an address such as ":8080" or "127.0.0.1:8080", or a port number, got a list`
	if err == nil || err.Error() != want {
		t.Errorf("Error() =\n%v\nwant\n%s", err, want)
	}
}

// TestDecodeProblemLimit checks that a file with very many problems
// lists the first hundred and counts the rest.
func TestDecodeProblemLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("servers: [http://a]\n")
	for i := range 150 {
		fmt.Fprintf(&b, "unknown%d: 1\n", i)
	}
	got := decodeProblems(t, "gw.yaml", b.String())
	if len(got) != 101 {
		t.Fatalf("got %d problems, want 101", len(got))
	}
	if got[99].Path != "unknown99" || got[100] != (Problem{File: "gw.yaml", Message: "50 more problems not shown"}) {
		t.Errorf("last problems = %+v, %+v", got[99], got[100])
	}
}

// TestDecodeLongValue checks that a long offending value is shortened in
// the problem, on a character boundary.
func TestDecodeLongValue(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := decodeProblems(t, "gw.yaml", "servers: [http://a]\nlisten: "+long+"\n")
	if want := long[:80] + "..."; len(got) != 1 || got[0].Value != want {
		t.Errorf("problems = %+v, want one with value %q", got, want)
	}
}

// TestDecodeTooLarge checks that a file over the size limit is refused
// without being parsed.
func TestDecodeTooLarge(t *testing.T) {
	data := []byte("servers: [http://a]\n" + strings.Repeat("#", maxConfigBytes))
	got := decodeProblems(t, "gw.yaml", string(data))
	want := fmt.Sprintf("the file is %d bytes; a config may be at most 1048576", len(data))
	if len(got) != 1 || got[0].Message != want {
		t.Errorf("problems = %+v", got)
	}
}

// TestDecodeFormat checks how the format is chosen: by extension, else by
// the first non-space byte. The file is valid YAML but not valid JSON.
func TestDecodeFormat(t *testing.T) {
	const src = ` {"servers": ["http://a"],}`
	for source, isJSON := range map[string]bool{
		"gw.json": true, "gw.JSON": true, "gw": true, "": true, "gw.conf": true,
		"gw.yaml": false, "gw.yml": false, "gw.YAML": false,
	} {
		_, err := Decode(source, []byte(src))
		if gotJSON := err != nil && strings.Contains(err.Error(), "invalid JSON"); gotJSON != isJSON {
			t.Errorf("Decode(%q): %v; want JSON: %v", source, err, isJSON)
		}
	}
	if _, err := Decode("gw", []byte("# a YAML file\nservers: [http://a]\n")); err != nil {
		t.Errorf("YAML without an extension: %v", err)
	}
}

// TestLoad checks that Load reads a file, names it in problems, and
// reports a file it cannot read as one problem that names the file once and
// wraps the cause.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("servers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.File != bad || ce.Problems[0].File != bad {
		t.Errorf("Load(bad) = %v", err)
	}
	for _, tt := range []struct {
		path  string
		cause error
		want  string
	}{
		{filepath.Join(dir, "missing.yaml"), fs.ErrNotExist, filepath.Join(dir, "missing.yaml") + ": cannot read: no such file or directory"},
		{dir, syscall.EISDIR, dir + ": cannot read: is a directory"},
	} {
		_, err = Load(tt.path)
		if !errors.Is(err, tt.cause) || err.Error() != tt.want || strings.Count(err.Error(), tt.path) != 1 {
			t.Errorf("Load(%s) = %v, want %q wrapping %v", tt.path, err, tt.want, tt.cause)
		}
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].File != tt.path {
			t.Errorf("Load(%s) = %#v, want a ConfigError with one problem naming the file", tt.path, err)
		}
	}
}

// TestConfigEqual checks that configs that differ only in how the file
// says them are equal, and any setting makes them differ.
func TestConfigEqual(t *testing.T) {
	base := "listen: 127.0.0.1:8080\npools:\n  p:\n    servers: [http://10.0.0.1:80]\n"
	decode := func(source, text string) *Config {
		t.Helper()
		c, err := Decode(source, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := decode("a.yaml", base)
	for _, tt := range []struct {
		name   string
		source string
		text   string
		equal  bool
	}{
		{"same bytes", "a.yaml", base, true},
		{"comments and spacing", "a.yaml", "# the api\n" + strings.ReplaceAll(base, ": ", ":   ") + "\n\n", true},
		{"a default spelled out", "a.yaml", base + "shutdownTimeout: 30s\n", true},
		{"flow and block style", "a.yaml", "listen: 127.0.0.1:8080\npools:\n  p:\n    servers:\n      - http://10.0.0.1:80\n", true},
		{"another file", "b.yaml", base, false},
		{"a setting", "a.yaml", base + "shutdownTimeout: 5s\n", false},
		{"a server", "a.yaml", strings.Replace(base, "10.0.0.1", "10.0.0.2", 1), false},
		{"a health-check field", "a.yaml", base + "healthCheck: {path: /healthz}\n", false},
	} {
		b := decode(tt.source, tt.text)
		if got := a.Equal(b); got != tt.equal {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.equal)
		}
		if (a.Hash == b.Hash) != (tt.text == base) {
			t.Errorf("%s: hashes %s and %s", tt.name, a.Hash, b.Hash)
		}
	}
}
