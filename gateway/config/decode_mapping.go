package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// mapEntry is one key of a mapping with its value.
type mapEntry struct {
	key string
	// at is the key's node, where problems with the key are reported.
	at    *yaml.Node
	value *yaml.Node
}

// entries returns the keys and values of the mapping n in file order,
// reporting duplicate keys. YAML merge keys ("<<: *defaults") are
// expanded in place; keys written in the mapping itself win over merged
// ones. expected describes the mapping for the problem reported when n is
// something else, in which case ok is false.
func (d *decoder) entries(n *yaml.Node, path, expected string) (es []mapEntry, ok bool) {
	m := d.ofKind(n, yaml.MappingNode, path, expected)
	if m == nil {
		return nil, false
	}
	return d.mappingEntries(m, path, 0), true
}

// mappingEntries lists the entries of the mapping m, which merge keys at
// the given depth of merging led to.
func (d *decoder) mappingEntries(m *yaml.Node, path string, merges int) []mapEntry {
	type pair struct {
		key  *yaml.Node // followed
		at   *yaml.Node
		body *yaml.Node
	}
	pairs := make([]pair, 0, len(m.Content)/2)
	written := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := d.follow(m.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.add(m.Content[i], path, "", "keys must be strings, got "+kindOf(k))
			continue
		}
		pairs = append(pairs, pair{k, m.Content[i], m.Content[i+1]})
		if k.ShortTag() == tagMerge {
			continue
		}
		if first, dup := written[k.Value]; dup {
			d.add(m.Content[i], keyPath(path, k.Value), "", fmt.Sprintf("duplicate key; it is first set at line %d, column %d", first.Line, first.Column))
			continue
		}
		written[k.Value] = m.Content[i]
	}

	var out []mapEntry
	have := map[string]bool{}
	for _, p := range pairs {
		if p.key.ShortTag() != tagMerge {
			if written[p.key.Value] == p.at {
				out = append(out, mapEntry{key: p.key.Value, at: p.at, value: p.body})
				have[p.key.Value] = true
			}
			continue
		}
		for _, e := range d.mergedEntries(p.body, path, merges) {
			if written[e.key] == nil && !have[e.key] {
				out = append(out, e)
				have[e.key] = true
			}
		}
	}
	return out
}

// mergedEntries lists the entries a merge key's value brings in: a
// mapping's, or those of a list of mappings, earlier ones winning.
func (d *decoder) mergedEntries(n *yaml.Node, path string, merges int) []mapEntry {
	const bad = "a merge key (<<) takes a mapping or a list of mappings"
	if merges >= maxNesting {
		d.add(n, path, "", "merge keys nest too deeply")
		return nil
	}
	v := d.follow(n)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.mappingEntries(v, path, merges+1)
	case yaml.SequenceNode:
		var out []mapEntry
		for _, item := range v.Content {
			m := d.follow(item)
			if m == nil {
				continue
			}
			if m.Kind != yaml.MappingNode {
				d.add(item, path, "", bad+", got a list holding "+kindOf(m))
				continue
			}
			out = append(out, d.mappingEntries(m, path, merges+1)...)
		}
		return out
	}
	d.add(n, path, scalarValue(v), bad+", got "+kindOf(v))
	return nil
}

// sequence returns the list n resolves to, or reports that path expects
// something else, described by expected, and returns nil.
func (d *decoder) sequence(n *yaml.Node, path, expected string) *yaml.Node {
	list := d.follow(n)
	if list == nil {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		d.typeError(n, list, path, expected)
		return nil
	}
	return list
}

// fields returns the entries of the mapping n by key, reporting every key
// that is not among known. ok is false when n is not a mapping.
func (d *decoder) fields(n *yaml.Node, path, expected string, known ...string) (f map[string]mapEntry, ok bool) {
	es, ok := d.entries(n, path, expected)
	if !ok {
		return nil, false
	}
	f = make(map[string]mapEntry, len(es))
	for _, e := range es {
		if !isKnown(e.key, known) {
			d.add(e.at, keyPath(path, e.key), "", unknownKey(e.key, known))
			continue
		}
		f[e.key] = e
	}
	return f, true
}

// isKnown reports whether key is one of known.
func isKnown(key string, known []string) bool {
	for _, k := range known {
		if k == key {
			return true
		}
	}
	return false
}

// unknownKey is the message for key, which is not one of known.
func unknownKey(key string, known []string) string {
	if s := closestName(key, known); s != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, s)
	}
	return fmt.Sprintf("unknown key %q; known keys are %s", key, strings.Join(known, ", "))
}

// typeError reports that the value n, which resolves to v, is not what
// path expects.
func (d *decoder) typeError(n, v *yaml.Node, path, expected string) {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == tagNull {
		d.add(n, path, "", "missing value; expected "+expected)
		return
	}
	d.add(n, path, scalarValue(v), "expected "+expected+", got "+kindOf(v))
}
