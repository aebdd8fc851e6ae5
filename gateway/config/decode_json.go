package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// parseJSON parses data as a single JSON value and returns it as the same
// tree of [yaml.Node] values a YAML file gives, each carrying the line and
// column where it starts, so one walker serves both formats. It returns
// nil after recording why it cannot.
func (d *decoder) parseJSON(data []byte) *yaml.Node {
	// Positions count from after a byte order mark, which is invisible.
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	r := &jsonReader{data: data, dec: json.NewDecoder(bytes.NewReader(data)), line: 1, col: 1}
	r.dec.UseNumber()
	root, err := r.value(1)
	if err == nil {
		err = r.end()
	}
	if err == nil {
		return root
	}
	var je *jsonError
	if errors.As(err, &je) && je.empty {
		d.add(nil, "", "", "the file is empty")
		return nil
	}
	p := Problem{File: d.file, Message: err.Error()}
	if errors.As(err, &je) {
		p.Line, p.Col = r.position(je.offset)
	}
	d.problems = append(d.problems, p)
	return nil
}

// jsonError is a problem in JSON text at a byte offset.
type jsonError struct {
	offset int
	msg    string
	empty  bool
}

// Error returns the problem's message.
func (e *jsonError) Error() string { return e.msg }

// jsonReader turns the token stream of a [json.Decoder] into a tree of
// [yaml.Node] values and tracks line and column as offsets grow.
type jsonReader struct {
	data []byte
	dec  *json.Decoder
	// off, line and col are the last position computed; positions are
	// asked for in increasing order, so each is found by scanning on.
	off, line, col int
}

// value reads one JSON value nested depth levels deep.
func (r *jsonReader) value(depth int) (*yaml.Node, error) {
	start := r.tokenStart()
	if depth > maxNesting {
		return nil, &jsonError{offset: start, msg: fmt.Sprintf("values nest more than %d levels deep", maxNesting)}
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, r.syntaxError(err, start)
	}
	n := &yaml.Node{}
	n.Line, n.Column = r.position(start)
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.Kind, n.Tag, n.Style = yaml.MappingNode, "!!map", yaml.FlowStyle
			return n, r.members(n, depth)
		case '[':
			n.Kind, n.Tag, n.Style = yaml.SequenceNode, "!!seq", yaml.FlowStyle
			return n, r.elements(n, depth)
		}
		return nil, &jsonError{offset: start, msg: fmt.Sprintf("invalid JSON: unexpected %q", rune(t))}
	case string:
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, tagStr, t, yaml.DoubleQuotedStyle
	case json.Number:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, tagInt, t.String()
		if strings.ContainsAny(n.Value, ".eE") {
			n.Tag = tagFloat
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, tagBool, fmt.Sprint(t)
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, tagNull, "null"
	}
	return n, nil
}

// members reads an object's keys and values after its '{'.
func (r *jsonReader) members(n *yaml.Node, depth int) error {
	for r.dec.More() {
		key, err := r.value(depth + 1)
		if err != nil {
			return err
		}
		val, err := r.value(depth + 1)
		if err != nil {
			return err
		}
		n.Content = append(n.Content, key, val)
	}
	return r.closing()
}

// elements reads an array's values after its '['.
func (r *jsonReader) elements(n *yaml.Node, depth int) error {
	for r.dec.More() {
		val, err := r.value(depth + 1)
		if err != nil {
			return err
		}
		n.Content = append(n.Content, val)
	}
	return r.closing()
}

// closing reads the '}' or ']' that ends an object or array.
func (r *jsonReader) closing() error {
	start := r.tokenStart()
	if _, err := r.dec.Token(); err != nil {
		return r.syntaxError(err, start)
	}
	return nil
}

// end checks that nothing but space follows the top-level value.
func (r *jsonReader) end() error {
	start := r.tokenStart()
	_, err := r.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return r.syntaxError(err, start)
	}
	return &jsonError{offset: start, msg: "invalid JSON: unexpected data after the top-level value"}
}

// tokenStart returns the offset where the next token starts: the decoder's
// offset is the end of the previous token, which may be followed by space
// and a ',' or ':' separator.
func (r *jsonReader) tokenStart() int {
	off := int(r.dec.InputOffset())
	for off < len(r.data) {
		switch r.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// syntaxError turns an error of the JSON decoder into a [jsonError];
// start is where the token being read began. The offsets in the token
// reader's errors are not all counted from the same place, so a syntax
// error is located by checking the whole text again.
func (r *jsonReader) syntaxError(err error, start int) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) && len(bytes.TrimSpace(r.data)) == 0:
		return &jsonError{offset: start, empty: true}
	case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if errors.As(json.Unmarshal(r.data, new(json.RawMessage)), &se) {
			off := int(se.Offset) - 1 // the offset counts the offending byte
			if off >= len(r.data)-1 && strings.HasPrefix(se.Error(), "unexpected end") {
				off = len(r.data)
			}
			return &jsonError{offset: off, msg: "invalid JSON: " + se.Error()}
		}
		return &jsonError{offset: start, msg: "invalid JSON: " + err.Error()}
	}
	return &jsonError{offset: start, msg: "invalid JSON: " + err.Error()}
}

// position returns the line and column, counting from 1, of the byte at
// off. Columns count characters, as the YAML parser's do.
func (r *jsonReader) position(off int) (line, col int) {
	off = max(0, min(off, len(r.data)))
	if off < r.off {
		r.off, r.line, r.col = 0, 1, 1
	}
	for r.off < off {
		c, size := utf8.DecodeRune(r.data[r.off:])
		if c == '\n' {
			r.line, r.col = r.line+1, 1
		} else {
			r.col++
		}
		r.off += size
	}
	return r.line, r.col
}
