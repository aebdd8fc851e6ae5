package config

import (
	"errors"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// invalidSize is the problem with a byte size that cannot be read; it
// says how one is written.
const invalidSize = `invalid size; use a number of bytes, or a number followed by KiB, MiB, GiB (or k, m, g) for powers of 1024 or KB, MB, GB for powers of 1000, such as "128MiB"`

// sizeUnit maps the suffixes a byte size may carry to their multipliers.
func sizeUnit(suffix string) (int64, bool) {
	switch suffix {
	case "":
		return 1, true
	case "k", "KiB":
		return 1 << 10, true
	case "m", "MiB":
		return 1 << 20, true
	case "g", "GiB":
		return 1 << 30, true
	case "KB":
		return 1e3, true
	case "MB":
		return 1e6, true
	case "GB":
		return 1e9, true
	}
	return 0, false
}

// parseSize parses a byte size such as "128MiB", "10m", "5 GB" or "1024".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits == 0 {
		return 0, errors.New(invalidSize)
	}
	mult, ok := sizeUnit(strings.TrimSpace(s[digits:]))
	if !ok {
		return 0, errors.New(invalidSize)
	}
	n, err := strconv.ParseInt(s[:digits], 10, 64)
	if err != nil || n > (1<<63-1)/mult {
		return 0, errors.New("size out of range")
	}
	return n * mult, nil
}

// size decodes a byte size: an integer number of bytes, or a string that
// [parseSize] reads.
func (d *decoder) size(n *yaml.Node, path string) (int64, bool) {
	const expected = `a size such as "128MiB" or a number of bytes`
	v := d.scalar(n, path, expected)
	if v == nil {
		return 0, false
	}
	switch v.ShortTag() {
	case tagInt:
		return d.integer(n, path, 0, 1<<63-1)
	case tagStr:
		if strings.HasPrefix(strings.TrimSpace(v.Value), "-") {
			d.addf(n, path, "must not be negative")
			return 0, false
		}
		b, err := parseSize(v.Value)
		if err != nil {
			d.addf(n, path, "%v", err)
			return 0, false
		}
		return b, true
	}
	d.typeError(n, v, path, expected)
	return 0, false
}
