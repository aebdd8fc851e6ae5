package gateway

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// hopHeaders are the hop-by-hop headers a proxy must not forward (RFC 9110
// section 7.6.1), besides those the Connection header names. Trailer is
// not one of them: it announces the trailer fields, which pass.
var hopHeaders = []string{
	fasthttp.HeaderConnection, "Keep-Alive", fasthttp.HeaderProxyConnection,
	fasthttp.HeaderProxyAuthenticate, fasthttp.HeaderProxyAuthorization,
	fasthttp.HeaderTE, fasthttp.HeaderTransferEncoding, fasthttp.HeaderUpgrade,
}

// stripHopByHop deletes the hop-by-hop headers of a response header,
// including every header its Connection header names. One pass over the
// header finds whether there is any; only then are they deleted, so the
// usual response costs no deletion. scratch is reused and returned.
func stripHopByHop(h *fasthttp.ResponseHeader, scratch []byte) []byte {
	for k := range h.All() {
		if isHopByHop(k) {
			return deleteHopByHop(h, scratch)
		}
	}
	return scratch
}

// isHopByHop reports whether name is one of [hopHeaders].
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2, 7, 10, 16, 17, 18, 19:
		for _, hop := range hopHeaders {
			if equalFoldString(name, hop) {
				return true
			}
		}
	}
	return false
}

// equalFoldString reports whether b and s are equal under ASCII case
// folding, without converting either.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if x, y := b[i]|0x20, s[i]|0x20; x != y || (x < 'a' || x > 'z') && b[i] != s[i] {
			return false
		}
	}
	return true
}

// deleteHopByHop deletes the hop-by-hop headers of a request or response
// header, including every header its Connection header names. scratch is
// reused and returned.
func deleteHopByHop(h interface {
	Peek(string) []byte
	Del(string)
	DelBytes([]byte)
}, scratch []byte) []byte {
	if conn := h.Peek(fasthttp.HeaderConnection); len(conn) > 0 {
		scratch = append(scratch[:0], conn...)
		for tok := range bytes.SplitSeq(scratch, []byte(",")) {
			tok = bytes.TrimSpace(tok)
			if len(tok) > 0 && !bytes.EqualFold(tok, []byte("close")) && !bytes.EqualFold(tok, []byte("keep-alive")) {
				h.DelBytes(tok)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	return scratch
}

// hasToken reports whether the comma-separated list v holds tok, ASCII
// case ignored, parameters after a ";" ignored.
func hasToken(v []byte, tok string) bool {
	for part := range bytes.SplitSeq(v, []byte(",")) {
		if i := bytes.IndexByte(part, ';'); i >= 0 {
			part = part[:i]
		}
		if equalFoldString(bytes.TrimSpace(part), tok) {
			return true
		}
	}
	return false
}
