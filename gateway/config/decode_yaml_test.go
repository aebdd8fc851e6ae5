package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDecodeYAMLProblems checks problems only YAML can have, with their
// exact lines and columns.
func TestDecodeYAMLProblems(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []Problem
	}{
		{"empty", "", []Problem{{Message: "the file is empty"}}},
		{"only a comment", "# nothing yet\n", []Problem{{Message: "the file is empty"}}},
		{"only a document marker", "---\n", []Problem{{Message: "the file is empty"}}},
		{"two documents", "servers: [http://a]\n---\nservers: [http://b]\n",
			[]Problem{{Line: 2, Col: 1, Message: "the file holds more than one YAML document; a config is a single document"}}},
		{"unclosed list", "servers: [http://a\n",
			[]Problem{{Line: 1, Col: 1, Message: "invalid YAML: did not find expected ',' or ']'"}}},
		{"tab indentation", "servers:\n\t- http://a\n",
			[]Problem{{Line: 2, Col: 1, Message: "invalid YAML: found character that cannot start any token"}}},
		{"bad indentation", "servers: [http://a]\nlisten: 80\n  admin: 9\n",
			[]Problem{{Line: 3, Col: 3, Message: "invalid YAML: mapping values are not allowed in this context"}}},
		{"unknown anchor", "servers: *nope\n",
			[]Problem{{Message: "invalid YAML: unknown anchor 'nope' referenced"}}},
		{"syntax error in a second document", "servers: [http://a]\n---\n[\n",
			[]Problem{{Line: 3, Col: 1, Message: "invalid YAML: did not find expected node content"}}},
		{"duplicate key", "listen: 80\nservers: [http://a]\nlisten: 81\n",
			[]Problem{{Line: 3, Col: 1, Path: "listen", Message: "duplicate key; it is first set at line 1, column 1"}}},
		{"list as a key", "? [a]\n: 1\nservers: [http://a]\n",
			[]Problem{{Line: 1, Col: 3, Message: "keys must be strings, got a list"}}},
		{"custom tag", "servers: [!host http://a]\n",
			[]Problem{{Line: 1, Col: 11, Path: "servers[0]", Value: "http://a", Message: "expected a string, got a value tagged !host"}}},
		{"capitalised boolean", "servers: [http://a]\nhealthCheck: {enabled: True}\n",
			[]Problem{{Line: 2, Col: 24, Path: "healthCheck.enabled", Value: "True", Message: "write a boolean as true or false, in lowercase"}}},
		{"yes is not a boolean", "servers: [http://a]\npassive: {on5xx: yes}\n",
			[]Problem{{Line: 2, Col: 18, Path: "passive.on5xx", Value: "yes", Message: "expected true or false, got a string"}}},
		{"empty value", "servers: [http://a]\nadmin:\n",
			[]Problem{{Line: 2, Col: 7, Path: "admin", Message: `missing value; expected an address such as ":8080" or "127.0.0.1:8080", or a port number`}}},
		{"merge of a scalar", "servers: [http://a]\nhealthCheck: {<<: 5}\n",
			[]Problem{{Line: 2, Col: 19, Path: "healthCheck", Value: "5", Message: "a merge key (<<) takes a mapping or a list of mappings, got an integer"}}},
		{"merge of a list of scalars", "servers: [http://a]\nhealthCheck: {<<: [5]}\n",
			[]Problem{{Line: 2, Col: 20, Path: "healthCheck", Message: "a merge key (<<) takes a mapping or a list of mappings, got a list holding an integer"}}},
		{"alias that contains itself", "servers: &s [*s]\n",
			[]Problem{{Line: 1, Col: 14, Path: "servers[0]", Message: "expected a URL or a mapping with url, weight and resolve, got a list"}}},
		{"deep nesting", "servers: [http://a]\nx: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n",
			[]Problem{{Line: 2, Col: 35, Message: "values nest more than 32 levels deep"}}},
		{"problem in an aliased block", `pools:
  a:
    servers: [http://a]
    healthCheck: &hc {interval: 0s}
  b:
    servers: [http://b]
    healthCheck: *hc
routes:
  - {pathPrefix: /a, pool: a}
  - {pool: b}
`, []Problem{
			{Line: 4, Col: 33, Path: "pools.a.healthCheck.interval", Value: "0s", Message: "must be longer than 0s"},
			{Line: 4, Col: 33, Path: "pools.b.healthCheck.interval", Value: "0s", Message: "must be longer than 0s"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.want {
				tc.want[i].File = "config.yaml"
			}
			got := decodeProblems(t, "config.yaml", tc.src)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got problems\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

// TestDecodeYAMLAliasesAndMerges checks that aliases and merge keys are
// followed: explicit keys win over merged ones, earlier merges over later.
func TestDecodeYAMLAliasesAndMerges(t *testing.T) {
	c := mustDecode(t, "config.yaml", `pools:
  api:
    <<: &defaults
      connectTimeout: 5s
      healthCheck: {path: /healthz}
    servers: &two [http://a, http://b]
  web:
    <<: [{idleTimeout: 7s, connectTimeout: 4s}, *defaults]
    connectTimeout: 1s
    servers: *two
routes:
  - {pathPrefix: /api, pool: api}
  - {pool: web}
`)
	api, web := c.Pools[0], c.Pools[1]
	if api.ConnectTimeout != 5*time.Second || api.HealthCheck.Path != "/healthz" || len(api.Servers) != 2 {
		t.Errorf("api = %+v", api)
	}
	if web.ConnectTimeout != time.Second || web.IdleTimeout != 7*time.Second || web.HealthCheck.Path != "/healthz" || len(web.Servers) != 2 {
		t.Errorf("web = %+v", web)
	}
}

// TestDecodeYAMLIntegers checks the ways YAML writes integers.
func TestDecodeYAMLIntegers(t *testing.T) {
	for src, want := range map[string]int{"0x10": 16, "0o17": 15, "1_000": 1000, "+5": 5} {
		c := mustDecode(t, "config.yaml", "servers: [http://a]\nmaxConnections: "+src+"\n")
		if c.MaxConnections != want {
			t.Errorf("maxConnections: %s = %d, want %d", src, c.MaxConnections, want)
		}
	}
}

// TestDecodeYAMLAliasBomb checks that merge keys which repeat a block
// exponentially are stopped by the decoder's budget, quickly.
func TestDecodeYAMLAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("servers: [http://a]\nl0: &l0 {a: 1}\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "l%d: &l%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	b.WriteString("healthCheck: {<<: *l9}\n")
	got := decodeProblems(t, "config.yaml", b.String())
	found := false
	for _, p := range got {
		found = found || strings.HasPrefix(p.Message, "the config expands to more than 262144 values")
	}
	if !found {
		t.Errorf("no budget problem among\n%s", (&ConfigError{Problems: got}).Error())
	}
}
