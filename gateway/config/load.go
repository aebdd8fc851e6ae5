package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxConfigBytes bounds the size of a config file. Real configs are a few
// kilobytes; the bound keeps a wrong or hostile file from costing much
// memory while it is parsed.
const maxConfigBytes = 1 << 20

// Load reads the config file at path and decodes it with [Decode]. The
// file's format follows its extension, as Decode describes.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Decode(path, data)
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
	sum := sha256.Sum256(data)
	c.Source = source
	c.Hash = hex.EncodeToString(sum[:])
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
