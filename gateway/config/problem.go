package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a config, located in its file.
type Problem struct {
	// File is the config's source, usually its path.
	File string `json:"file"`
	// Line and Col locate the problem, counting from 1; both are 0 when
	// the problem concerns the file as a whole.
	Line int `json:"line"`
	Col  int `json:"col"`
	// Path is the key path of the offending value, such as
	// "pools.api.servers[1].weight"; empty for the top level.
	Path string `json:"path"`
	// Value is the offending scalar as written, or empty.
	Value string `json:"value"`
	// Message says what is wrong and, where it can, how to fix it.
	Message string `json:"message"`
}

// Error formats p as "FILE:LINE:COL: PATH: MESSAGE", followed by
// ` (got "VALUE")` when p has a Value. Parts that are empty or zero are
// left out.
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteByte(':')
		if p.Col > 0 {
			b.WriteString(strconv.Itoa(p.Col))
			b.WriteByte(':')
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Value != "" {
		fmt.Fprintf(&b, " (got %q)", p.Value)
	}
	return b.String()
}

// ConfigError lists every problem found in one config file. [Decode] and
// [Load] report all problems at once, ordered by position, rather than
// stopping at the first.
type ConfigError struct {
	// File is the config's source, usually its path.
	File string
	// Problems holds the problems in file order; it is never empty.
	Problems []Problem

	// cause is the error that made the file unreadable, for Unwrap.
	cause error
}

// Unwrap returns the error that kept [Load] from reading the file, or nil
// when the file was read and its content is what is wrong.
func (e *ConfigError) Unwrap() error { return e.cause }

// Error formats e with one problem per line.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 0 {
		return e.File + ": invalid config"
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}
