package gateway

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// accessEntry is what one access log line says about a request.
type accessEntry struct {
	start    time.Time
	duration time.Duration
	client   netip.Addr
	method   []byte
	host     []byte
	path     []byte
	status   int
	bytes    int64
	pool     string
	backend  string
	// route is the label of the route the request matched, "" for none.
	route string
	// err says what broke the response off, when something did.
	err string
}

// accessTimeFormat is RFC 3339 in UTC with milliseconds.
const accessTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// appendJSON appends e to b as one JSON object and a newline:
//
//	{"time":"2025-01-02T03:04:05.678Z","client":"192.0.2.1","method":"GET","host":"example.com","path":"/a?b=c","status":200,"bytes":512,"duration_ms":1.234,"pool":"web","backend":"http://10.0.0.1:8080","route":"api"}
//
// A response broken off after its head adds "error" at the end.
func (e *accessEntry) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.start.UTC().AppendFormat(b, accessTimeFormat)
	b = append(b, `","client":"`...)
	if e.client.IsValid() {
		b = e.client.AppendTo(b)
	}
	b = append(b, `","method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, e.host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.duration)/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, `,"pool":`...)
	b = appendJSONString(b, e.pool)
	b = append(b, `,"backend":`...)
	b = appendJSONString(b, e.backend)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, e.route)
	if e.err != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, e.err)
	}
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s to b as a quoted JSON string, escaped as
// encoding/json escapes it: quotes, backslashes, control characters and
// the line and paragraph separators are escaped, and each byte that is not
// valid UTF-8 becomes U+FFFD.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
