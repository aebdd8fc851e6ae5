package config

import (
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// scalar returns the scalar n resolves to, or reports that path expects
// something else, described by expected, and returns nil.
func (d *decoder) scalar(n *yaml.Node, path, expected string) *yaml.Node {
	v := d.follow(n)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() == tagNull {
		d.typeError(n, v, path, expected)
		return nil
	}
	return v
}

// str decodes a string.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	v := d.scalar(n, path, "a string")
	if v == nil {
		return "", false
	}
	if v.ShortTag() != tagStr {
		d.typeError(n, v, path, "a string")
		return "", false
	}
	return v.Value, true
}

// integer decodes an integer between lo and hi inclusive.
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	v := d.scalar(n, path, "an integer")
	if v == nil {
		return 0, false
	}
	if v.ShortTag() != tagInt {
		d.typeError(n, v, path, "an integer")
		return 0, false
	}
	i, err := parseYAMLInt(v.Value)
	if err != nil {
		d.addf(n, path, "integer out of range; it must be between %d and %d", lo, hi)
		return 0, false
	}
	return i, d.inRange(n, path, i, lo, hi)
}

// parseYAMLInt parses an integer as YAML writes one: decimal, or with a 0x,
// 0o or 0b prefix, with '_' allowed between digits.
func parseYAMLInt(s string) (int64, error) {
	return strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
}

// inRange reports whether i is between lo and hi, recording a problem
// when it is not.
func (d *decoder) inRange(n *yaml.Node, path string, i, lo, hi int64) bool {
	switch {
	case i < lo && lo == 0:
		d.addf(n, path, "must not be negative")
	case i < lo:
		d.addf(n, path, "must be at least %d", lo)
	case i > hi:
		d.addf(n, path, "must be at most %d", hi)
	default:
		return true
	}
	return false
}

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	const expected = "true or false"
	v := d.scalar(n, path, expected)
	if v == nil {
		return false, false
	}
	switch {
	case v.ShortTag() != tagBool:
		d.typeError(n, v, path, expected)
		return false, false
	case v.Value != "true" && v.Value != "false":
		d.addf(n, path, "write a boolean as true or false, in lowercase")
		return false, false
	}
	return v.Value == "true", true
}

// durationHint shows how a duration is written.
const durationHint = `use a duration such as "2s" or "100ms"`

// duration decodes a duration written as a Go duration string. It must
// not be negative, and must be above zero unless zeroOK.
func (d *decoder) duration(n *yaml.Node, path string, zeroOK bool) (time.Duration, bool) {
	v := d.scalar(n, path, `a duration such as "2s"`)
	if v == nil {
		return 0, false
	}
	switch v.ShortTag() {
	case tagStr:
	case tagInt, tagFloat:
		d.addf(n, path, "a number is not a duration; %s", durationHint)
		return 0, false
	default:
		d.typeError(n, v, path, `a duration such as "2s"`)
		return 0, false
	}
	t, err := time.ParseDuration(v.Value)
	if err != nil {
		d.addf(n, path, "invalid duration; %s", durationHint)
		return 0, false
	}
	switch {
	case t < 0:
		d.addf(n, path, "must not be negative")
		return 0, false
	case t == 0 && !zeroOK:
		d.addf(n, path, "must be longer than 0s")
		return 0, false
	}
	return t, true
}

// setChecked decodes key of f, when present, into dst as a string that
// check approves: check returns what is wrong with it, or "". It reports
// false when the key holds a problem.
func (d *decoder) setChecked(f map[string]mapEntry, path, key string, dst *string, check func(string) string) bool {
	e, ok := f[key]
	if !ok {
		return true
	}
	p := keyPath(path, key)
	s, ok := d.str(e.value, p)
	if !ok {
		return false
	}
	if msg := check(s); msg != "" {
		d.addf(e.value, p, "%s", msg)
		return false
	}
	*dst = s
	return true
}

// setInt decodes key of f, when present, into dst, which must be between
// lo and hi. It reports false when the key holds a problem.
func (d *decoder) setInt(f map[string]mapEntry, path, key string, dst *int, lo, hi int) bool {
	if e, ok := f[key]; ok {
		if i, ok := d.integer(e.value, keyPath(path, key), int64(lo), int64(hi)); ok {
			*dst = int(i)
			return true
		}
		return false
	}
	return true
}

// setBool decodes key of f, when present, into dst. It reports false
// when the key holds a problem.
func (d *decoder) setBool(f map[string]mapEntry, path, key string, dst *bool) bool {
	if e, ok := f[key]; ok {
		if b, ok := d.boolean(e.value, keyPath(path, key)); ok {
			*dst = b
			return true
		}
		return false
	}
	return true
}

// setDuration decodes key of f, when present, into dst; zeroOK allows
// 0s. It reports false when the key holds a problem.
func (d *decoder) setDuration(f map[string]mapEntry, path, key string, dst *time.Duration, zeroOK bool) bool {
	if e, ok := f[key]; ok {
		if t, ok := d.duration(e.value, keyPath(path, key), zeroOK); ok {
			*dst = t
			return true
		}
		return false
	}
	return true
}
