package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// maxConfigBytes bounds the size of a config file. Real configs are a few
// kilobytes; the bound keeps a wrong or hostile file from costing much
// memory while it is parsed.
const maxConfigBytes = 1 << 20

// Load reads the config file at path and decodes it with [Decode]. The
// file's format follows its extension, as Decode describes. A file that
// cannot be read is a [*ConfigError] too, with one [Problem] that names the
// file once and the cause ("cannot read: no such file or directory"); the
// error wraps the cause, so errors.Is(err, fs.ErrNotExist) tells a missing
// file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		cause := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			cause = pe.Err // the path is said by the problem's File
		}
		return nil, &ConfigError{File: path, Problems: []Problem{{File: path, Message: "cannot read: " + cause.Error()}}, cause: err}
	}
	return Decode(path, data)
}

// Hash returns the hex SHA-256 of a config file's content: the
// [Config.Hash] of the config decoded from it, and the name logs, metrics
// and the admin endpoints give that content.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Equal reports whether c and o configure the gateway alike: every setting
// and the source are equal, whatever bytes they were decoded from. Two
// files that differ only in comments, formatting, key order or spelled-out
// defaults are equal configs with different hashes.
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	a, b := *c, *o
	a.Hash, b.Hash = "", ""
	a.keys, b.keys = nil, nil // where keys are written is not a setting
	return reflect.DeepEqual(a, b)
}

// Decode parses and validates a YAML or JSON config. source names where
// data came from; it picks the format by extension (".yaml", ".yml" or
// ".json") and appears in every [Problem]. Without a known extension, data
// is JSON when its first non-space byte is '{' and YAML otherwise.
//
// Decode fills every field the file leaves out with its default and sets
// [Config.Source] and [Config.Hash]. When the content is wrong in any way
// it returns a [*ConfigError] listing every problem with its line, column
// and key path.
func Decode(source string, data []byte) (*Config, error) {
	d := &decoder{file: source}
	if len(data) > maxConfigBytes {
		d.add(nil, "", "", fmt.Sprintf("the file is %d bytes; a config may be at most %d", len(data), maxConfigBytes))
		return nil, d.err()
	}
	root := d.parse(data, isJSON(source, data))
	var c *Config
	if root != nil {
		c = d.config(root)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	if c == nil {
		// Every path to a nil config records a problem; this is a guard.
		return nil, &ConfigError{File: source, Problems: []Problem{{File: source, Message: "the config could not be read"}}}
	}
	c.Source = source
	c.Hash = Hash(data)
	return c, nil
}

// isJSON reports whether a config named source holding data is JSON.
func isJSON(source string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(source)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}

// utf8BOM is the byte order mark some editors put at the start of a file.
const utf8BOM = "\xEF\xBB\xBF"
