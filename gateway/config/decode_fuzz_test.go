package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeYAML checks that no YAML input makes Decode panic, and that
// every config it accepts is usable.
func FuzzDecodeYAML(f *testing.F) {
	addConfigSeeds(f, ".yaml")
	for _, tc := range append(problemCases, tlsProblemCases...) {
		f.Add([]byte(tc.yaml))
	}
	f.Add([]byte("servers: &s [*s]\n"))
	f.Add([]byte("a: &a {b: 1}\nhealthCheck: {<<: [*a, *a]}\nservers: [http://a]\n"))
	f.Add([]byte("servers: [http://a]\n---\n"))
	f.Add([]byte("servers: [" + strings.Repeat("[", 50) + "]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, "fuzz.yaml", data)
	})
}

// FuzzDecodeJSON checks that no JSON input makes Decode panic, and that
// every config it accepts is usable.
func FuzzDecodeJSON(f *testing.F) {
	addConfigSeeds(f, ".json")
	for _, tc := range append(problemCases, tlsProblemCases...) {
		f.Add([]byte(yamlToJSON(f, tc.yaml)))
	}
	f.Add([]byte(`{"servers": ["http://a"]} {}`))
	f.Add([]byte(`{"servers": ["http://a"], "listen": 1e999}`))
	f.Add([]byte("\xEF\xBB\xBF{\"servers\": [\"http://a\"]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, "fuzz.json", data)
	})
}

// addConfigSeeds adds the example configs with extension ext as seeds.
func addConfigSeeds(f *testing.F, ext string) {
	files, err := filepath.Glob("testdata/config/*" + ext)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed configs: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkDecoded decodes data and checks the outcome: either a
// *ConfigError listing problems in the file, or a config whose pools all
// have servers and whose routes all name a pool.
func checkDecoded(t *testing.T, source string, data []byte) {
	c, err := Decode(source, data)
	if err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) || c != nil || len(ce.Problems) == 0 {
			t.Fatalf("Decode = %v, %v; want a *ConfigError alone", c, err)
		}
		for _, p := range ce.Problems {
			if p.File != source || p.Message == "" || p.Line < 0 || p.Col < 0 {
				t.Fatalf("malformed problem %#v", p)
			}
		}
		return
	}
	if c.Source != source || len(c.Hash) != 64 || len(c.Pools) == 0 || len(c.Routes) == 0 {
		t.Fatalf("config without source, hash, pools or routes: %+v", c)
	}
	pools := map[string]bool{}
	for _, p := range c.Pools {
		if pools[p.Name] || !isPoolName(p.Name) || len(p.Servers) == 0 {
			t.Fatalf("bad pool %+v", p)
		}
		pools[p.Name] = true
		for _, s := range p.Servers {
			if s.URL == nil || (s.URL.Scheme != "http" && s.URL.Scheme != "https") || s.URL.Host == "" || s.Weight < 0 {
				t.Fatalf("bad server %+v in pool %s", s, p.Name)
			}
		}
		if p.HealthCheck.Interval <= 0 || p.HealthCheck.Timeout <= 0 || len(p.HealthCheck.ExpectStatus) == 0 {
			t.Fatalf("bad health check %+v in pool %s", p.HealthCheck, p.Name)
		}
	}
	for _, r := range c.Routes {
		if !pools[r.Pool] {
			t.Fatalf("route %+v names no pool", r)
		}
	}
	if tc := c.TLS; tc != nil && (tc.Listen == "" || len(tc.Certificates) == 0 || tc.Listen == c.Listen ||
		tc.ClientCA == "" && tc.ClientAuth != "" || tc.RedirectHTTP && c.Listen == "") {
		t.Fatalf("bad tls %+v beside listen %q", tc, c.Listen)
	}
	// The file form of every config it accepts decodes, to a config of the
	// same form.
	data = c.JSON()
	back, err := Decode(source, data)
	if err != nil {
		t.Fatalf("the JSON form does not decode: %v\n%s", err, data)
	}
	if again := back.JSON(); !bytes.Equal(again, data) {
		t.Fatalf("the JSON form decodes to another config:\n%s\n%s", data, again)
	}
}
