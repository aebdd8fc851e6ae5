package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML parses data as a single YAML document and returns its root
// value, or nil after recording why it cannot.
func (d *decoder) parseYAML(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(nil, "", "", "the file is empty")
		} else {
			d.addYAMLError(err, data)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.addYAMLError(err, data)
		return nil
	default:
		d.add(&extra, "", "", "the file holds more than one YAML document; a config is a single document")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.add(nil, "", "", "the file is empty")
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == tagNull && root.Value == "" {
		d.add(nil, "", "", "the file is empty")
		return nil
	}
	if deep := tooDeep(root); deep != nil {
		d.add(deep, "", "", fmt.Sprintf("values nest more than %d levels deep", maxNesting))
		return nil
	}
	return root
}

// addYAMLError records a YAML syntax error. The parser's errors read
// "yaml: line N: MESSAGE" and give no column; the line is kept.
func (d *decoder) addYAMLError(err error, data []byte) {
	msg, _ := strings.CutPrefix(err.Error(), "yaml: ")
	p := Problem{File: d.file}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				p.Line, p.Col, msg = line, lineStart(data, line), after
			}
		}
	}
	p.Message = "invalid YAML: " + msg
	d.problems = append(d.problems, p)
}

// tooDeep returns the first value in the tree under root that nests more
// than maxNesting levels deep, or nil. It does not follow aliases, which
// the decoder counts against its budget instead.
func tooDeep(root *yaml.Node) *yaml.Node {
	type level struct {
		n     *yaml.Node
		depth int
	}
	stack := []level{{root, 1}}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top.depth > maxNesting {
			return top.n
		}
		for _, c := range top.n.Content {
			stack = append(stack, level{c, top.depth + 1})
		}
	}
	return nil
}

// lineStart returns the column of the first character of line (from 1)
// that is not a space: the YAML parser reports a syntax error's line only,
// and this points at where that line's content begins.
func lineStart(data []byte, line int) int {
	for n := 1; n < line; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return 1
		}
		data = data[i+1:]
	}
	for col, c := range data {
		if c != ' ' || col == len(data)-1 {
			return col + 1
		}
	}
	return 1
}
