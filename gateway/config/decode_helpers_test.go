package config

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// wantProblem is one expected problem of a config: its exact path, a
// substring of its message and, when at is set, its position: that of the
// first occurrence of at in the file, or of the quote just before it.
type wantProblem struct {
	path string
	msg  string
	at   string
	// jat, when set, replaces at in the JSON version of the file; "-"
	// skips the check there.
	jat string
}

// yamlToJSON rewrites a YAML config as JSON with the same keys in the same
// order, duplicates included. A list or mapping of scalars is written on
// one line, others with one item per line.
func yamlToJSON(t testing.TB, src string) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("case YAML does not parse: %v", err)
	}
	var b strings.Builder
	writeJSON(t, &b, &doc, "")
	b.WriteByte('\n')
	return b.String()
}

// writeJSON writes n as JSON, indenting nested lines by indent.
func writeJSON(t testing.TB, b *strings.Builder, n *yaml.Node, indent string) {
	t.Helper()
	switch n.Kind {
	case yaml.DocumentNode:
		writeJSON(t, b, n.Content[0], indent)
	case yaml.AliasNode:
		writeJSON(t, b, n.Alias, indent)
	case yaml.MappingNode:
		var items []func()
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i].Value, n.Content[i+1]
			items = append(items, func() {
				writeScalar(t, b, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key})
				b.WriteString(": ")
				writeJSON(t, b, value, indent+"  ")
			})
		}
		writeItems(b, "{", "}", items, allScalars(n.Content), indent)
	case yaml.SequenceNode:
		var items []func()
		for _, c := range n.Content {
			items = append(items, func() { writeJSON(t, b, c, indent+"  ") })
		}
		writeItems(b, "[", "]", items, allScalars(n.Content), indent)
	default:
		writeScalar(t, b, n)
	}
}

// writeItems writes the items of a list or mapping between open and
// close, on one line when inline.
func writeItems(b *strings.Builder, open, close string, items []func(), inline bool, indent string) {
	b.WriteString(open)
	for i, item := range items {
		switch {
		case inline && i > 0:
			b.WriteString(", ")
		case !inline && i > 0:
			b.WriteString(",\n" + indent + "  ")
		case !inline:
			b.WriteString("\n" + indent + "  ")
		}
		item()
	}
	if !inline && len(items) > 0 {
		b.WriteString("\n" + indent)
	}
	b.WriteString(close)
}

// allScalars reports whether every node in ns is a scalar.
func allScalars(ns []*yaml.Node) bool {
	for _, n := range ns {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n.Kind != yaml.ScalarNode {
			return false
		}
	}
	return true
}

// writeScalar writes a YAML scalar as the JSON value of the same kind.
func writeScalar(t testing.TB, b *strings.Builder, n *yaml.Node) {
	t.Helper()
	switch n.ShortTag() {
	case "!!str":
		q, _ := json.Marshal(n.Value)
		b.Write(q)
	case "!!int", "!!float", "!!bool":
		if !json.Valid([]byte(n.Value)) {
			t.Fatalf("case YAML scalar %q has no JSON spelling", n.Value)
		}
		b.WriteString(n.Value)
	case "!!null":
		b.WriteString("null")
	default:
		t.Fatalf("case YAML scalar %q tagged %s has no JSON spelling", n.Value, n.ShortTag())
	}
}

// positionOf returns the line and column of the first occurrence of
// marker in src, or of the quote just before it.
func positionOf(t *testing.T, src, marker string) (line, col int) {
	t.Helper()
	i := strings.Index(src, marker)
	if i < 0 {
		t.Fatalf("marker %q not in file", marker)
	}
	if i > 0 && (src[i-1] == '"' || src[i-1] == '\'') {
		i--
	}
	before := src[:i]
	line = strings.Count(before, "\n") + 1
	col = utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return line, col
}

// decodeProblems decodes src as file and returns its problems, failing
// the test when the error is not a *ConfigError.
func decodeProblems(t *testing.T, file, src string) []Problem {
	t.Helper()
	c, err := Decode(file, []byte(src))
	if err == nil {
		t.Fatalf("Decode succeeded; want problems\nconfig: %+v\nfile:\n%s", c, src)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Decode error is %T, want *ConfigError: %v", err, err)
	}
	if c != nil {
		t.Errorf("Decode returned a config with its error")
	}
	if ce.File != file {
		t.Errorf("ConfigError.File = %q, want %q", ce.File, file)
	}
	return ce.Problems
}

// checkProblems compares the problems of src with want, one to one in
// order.
func checkProblems(t *testing.T, file, src string, want []wantProblem) {
	t.Helper()
	got := decodeProblems(t, file, src)
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s\nfile:\n%s", len(got), len(want), (&ConfigError{Problems: got}).Error(), src)
		return
	}
	for i, w := range want {
		g := got[i]
		if g.File != file {
			t.Errorf("problem %d: File = %q, want %q", i, g.File, file)
		}
		if g.Path != w.path || !strings.Contains(g.Message, w.msg) {
			t.Errorf("problem %d:\n got  %s\n want path %q, message containing %q", i, g.Error(), w.path, w.msg)
		}
		at := w.at
		if w.jat != "" && strings.HasSuffix(file, ".json") {
			at = w.jat
		}
		if at != "" && at != "-" {
			line, col := positionOf(t, src, at)
			if g.Line != line || g.Col != col {
				t.Errorf("problem %d (%s) at %d:%d, want %d:%d (%q)", i, g.Error(), g.Line, g.Col, line, col, at)
			}
		}
	}
}

// mustParseURL parses a URL the test knows to be valid.
func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mustDecode decodes a config the test expects to be valid.
func mustDecode(t *testing.T, file, src string) *Config {
	t.Helper()
	c, err := Decode(file, []byte(src))
	if err != nil {
		t.Fatalf("Decode(%s): %v\nfile:\n%s", file, err, src)
	}
	return c
}
