package config

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDecodeJSONProblems checks problems only JSON can have, with their
// exact lines and columns.
func TestDecodeJSONProblems(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []Problem
	}{
		{"empty", "", []Problem{{Message: "the file is empty"}}},
		{"only space", "  \n", []Problem{{Message: "the file is empty"}}},
		{"trailing comma", `{"servers": ["http://a"],}`,
			[]Problem{{Line: 1, Col: 26, Message: "invalid JSON: invalid character '}' looking for beginning of object key string"}}},
		{"missing colon", "{\n  \"servers\" [\"http://a\"]}",
			[]Problem{{Line: 2, Col: 13, Message: "invalid JSON: invalid character '[' after object key"}}},
		{"unclosed object", `{"servers": ["http://a"]`,
			[]Problem{{Line: 1, Col: 25, Message: "invalid JSON: unexpected end of JSON input"}}},
		{"unclosed string", "{\"servers\": [\"http://a\n",
			[]Problem{{Line: 1, Col: 23, Message: "invalid JSON: invalid character '\\n' in string literal"}}},
		{"bad literal", `{"servers": ["http://a"], "listen": tru}`,
			[]Problem{{Line: 1, Col: 40, Message: "invalid JSON: invalid character '}' in literal true (expecting 'e')"}}},
		{"text after the object", `{"servers": ["http://a"]} x`,
			[]Problem{{Line: 1, Col: 27, Message: "invalid JSON: invalid character 'x' after top-level value"}}},
		{"two objects", "{\"servers\": [\"http://a\"]}\n{}",
			[]Problem{{Line: 2, Col: 1, Message: "invalid JSON: unexpected data after the top-level value"}}},
		{"top level is a list", `["http://a"]`,
			[]Problem{{Line: 1, Col: 1, Message: "expected a mapping of settings at the top level, got a list"}}},
		{"deep nesting", `{"x": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `, "servers": ["http://a"]}`,
			[]Problem{{Line: 1, Col: 38, Message: "values nest more than 32 levels deep"}}},
		{"float for an integer", `{"servers": ["http://a"], "maxConnections": 10.0}`,
			[]Problem{{Line: 1, Col: 45, Path: "maxConnections", Value: "10.0", Message: "expected an integer, got a number"}}},
		{"exponent for a size", `{"servers": ["http://a"], "maxBodySize": 1e3}`,
			[]Problem{{Line: 1, Col: 42, Path: "maxBodySize", Value: "1e3", Message: `expected a size such as "128MiB" or a number of bytes, got a number`}}},
		{"null", `{"servers": ["http://a"], "healthCheck": null}`,
			[]Problem{{Line: 1, Col: 42, Path: "healthCheck", Message: "missing value; expected a mapping of health check settings"}}},
		{"columns count characters", `{"accessLog": "日本語", "listen": true, "servers": ["http://a"]}`,
			[]Problem{{Line: 1, Col: 32, Path: "listen", Value: "true", Message: `expected an address such as ":8080" or "127.0.0.1:8080", or a port number, got a boolean`}}},
		{"byte order mark", "\xEF\xBB\xBF{\"servers\": [\"http://a\"], \"listen\": true}",
			[]Problem{{Line: 1, Col: 37, Path: "listen", Value: "true", Message: `expected an address such as ":8080" or "127.0.0.1:8080", or a port number, got a boolean`}}},
		{"duplicate key", "{\n  \"servers\": [\"http://a\"],\n  \"servers\": [\"http://b\"]\n}",
			[]Problem{{Line: 3, Col: 3, Path: "servers", Message: "duplicate key; it is first set at line 2, column 3"}}},
		{"merge key is an ordinary key", `{"servers": ["http://a"], "<<": {}}`,
			[]Problem{{Line: 1, Col: 27, Path: "<<", Message: `unknown key "<<"; known keys are`}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeProblems(t, "config.json", tc.src)
			if len(got) == 1 && len(tc.want) == 1 && strings.HasPrefix(got[0].Message, tc.want[0].Message) {
				tc.want[0].Message = got[0].Message // a prefix is enough for long lists of keys
			}
			for i := range tc.want {
				tc.want[i].File = "config.json"
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got problems\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

// TestDecodeJSONPositions checks that the JSON reader gives every value
// the line and column where it starts.
func TestDecodeJSONPositions(t *testing.T) {
	src := "{\n  \"a\": [1, \"x\",\n    {\"é\": true}],\n\t\"b\":null }"
	d := &decoder{file: "t.json"}
	root := d.parseJSON([]byte(src))
	if root == nil {
		t.Fatal(d.err())
	}
	type pos struct {
		value     string
		line, col int
	}
	var got []pos
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		got = append(got, pos{n.Value, n.Line, n.Column})
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	want := []pos{
		{"", 1, 1}, {"a", 2, 3}, {"", 2, 8}, {"1", 2, 9}, {"x", 2, 12},
		{"", 3, 5}, {"é", 3, 6}, {"true", 3, 11}, {"b", 4, 2}, {"null", 4, 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("positions\n%v\nwant\n%v", got, want)
	}
}
