package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile config from costing much time or memory.
const (
	// maxNesting bounds how deeply mappings and lists may nest; a valid
	// config needs six levels.
	maxNesting = 32
	// maxVisits bounds how many values the decoder looks at, counting a
	// value again each time an alias repeats it.
	maxVisits = 1 << 18
	// maxProblems bounds how many problems one [ConfigError] lists.
	maxProblems = 100
	// maxValueLen bounds how much of an offending value a [Problem] quotes.
	maxValueLen = 80
)

// decoder walks a config's tree of [yaml.Node] values, which both YAML
// and JSON files are parsed into, building a [Config] and collecting a
// [Problem] for everything wrong on the way.
type decoder struct {
	file     string
	problems []Problem
	visits   int
	// keys locates the keys that name files; see [Config.Problem].
	keys map[string]keyAt
}

// parse turns data into the tree the decoder walks, or returns nil after
// recording why it cannot.
func (d *decoder) parse(data []byte, isJSON bool) *yaml.Node {
	if isJSON {
		return d.parseJSON(data)
	}
	return d.parseYAML(data)
}

// add records a problem at n's position; n may be nil for the whole file.
func (d *decoder) add(n *yaml.Node, path, value, message string) {
	p := Problem{File: d.file, Path: path, Message: message}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	if len(value) > maxValueLen {
		cut := maxValueLen
		for cut > 0 && !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut] + "..."
	}
	p.Value = value
	d.problems = append(d.problems, p)
}

// addf records a problem whose message is formatted, at n's position,
// quoting n's value when n is a scalar.
func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	d.add(n, path, scalarValue(n), fmt.Sprintf(format, args...))
}

// err returns the problems found so far as a [*ConfigError], in file
// order, or nil when there are none.
func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	problems := slices.Clone(d.problems)
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	if len(problems) > maxProblems {
		more := len(problems) - maxProblems
		problems = append(problems[:maxProblems], Problem{File: d.file, Message: fmt.Sprintf("%d more problems not shown", more)})
	}
	return &ConfigError{File: d.file, Problems: problems}
}

// follow returns n with any alias resolved, counting the visit against the
// decoder's budget. It returns nil when n is nil or the budget is spent,
// which callers take as "nothing to decode".
func (d *decoder) follow(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	d.visits++
	if d.visits > maxVisits {
		if d.visits == maxVisits+1 {
			d.add(n, "", "", fmt.Sprintf("the config expands to more than %d values; look for aliases that repeat large blocks", maxVisits))
		}
		return nil
	}
	for hops := 0; n.Kind == yaml.AliasNode; hops++ {
		if n.Alias == nil || hops == maxNesting {
			d.add(n, "", "", "alias does not lead to a value")
			return nil
		}
		n = n.Alias
	}
	return n
}

// ofKind returns n, with any alias resolved, when it is of kind. When it
// is not, it reports that path expects something else, described by
// expected, and returns nil.
func (d *decoder) ofKind(n *yaml.Node, kind yaml.Kind, path, expected string) *yaml.Node {
	v := d.follow(n)
	if v != nil && v.Kind != kind {
		d.typeError(n, v, path, expected)
		return nil
	}
	return v
}

// items returns the items of the list n. When n is no list it reports
// that path expects one, described by expected, and returns false; so it
// does for an empty list, with ifEmpty as the message, unless ifEmpty is
// "".
func (d *decoder) items(n *yaml.Node, path, expected, ifEmpty string) ([]*yaml.Node, bool) {
	list := d.ofKind(n, yaml.SequenceNode, path, expected)
	if list == nil {
		return nil, false
	}
	if len(list.Content) == 0 && ifEmpty != "" {
		d.add(n, path, "", ifEmpty)
		return nil, false
	}
	return list.Content, true
}

// scalarValue returns n's value when n is a scalar, for quoting in a
// [Problem], and "" otherwise.
func scalarValue(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == tagNull {
		return ""
	}
	return n.Value
}

// YAML's short tags for the scalar kinds a config uses.
const (
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagBool  = "!!bool"
	tagNull  = "!!null"
	tagMerge = "!!merge"
)

// kindOf names the kind of value n holds, as in "got a list".
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case tagStr:
			return "a string"
		case tagInt:
			return "an integer"
		case tagFloat:
			return "a number"
		case tagBool:
			return "a boolean"
		case tagNull:
			return "null"
		default:
			return "a value tagged " + tag
		}
	}
	return "an unknown kind of value"
}

// keyPath returns the key path of key inside the value at path.
func keyPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// itemPath returns the key path of item i of the list at path.
func itemPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
