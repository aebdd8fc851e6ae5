package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzChunkedBody reads arbitrary bytes as a chunked response body. The
// reader never panics and never hands on more than it read; it ends in
// io.EOF or one of its own errors; and where Go's chunked reader decodes
// a body without trailer fields, it decodes the same bytes.
func FuzzChunkedBody(f *testing.F) {
	for _, seed := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5\nhello\n0\n\n",
		"3;ext=1\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
		"a\r\n0123456789\r\n5\r\n01234\r\n0\r\n\r\n",
		"fffffffffffffff\r\nx",
		"zz\r\n",
		"5\r\nhel",
		"0\r\nBad Trailer\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r bodyReader
		r.reset(bufio.NewReaderSize(bytes.NewReader(in), 16), bodyChunked, 0)
		got, err := io.ReadAll(&r)
		switch {
		case err == nil:
			if !r.done() {
				t.Fatalf("ReadAll ended without the body's end")
			}
		case errors.Is(err, errBodyCut), errors.Is(err, errBodyInvalid):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if len(got) > len(in) {
			t.Fatalf("decoded %d bytes out of %d", len(got), len(in))
		}
		if err == nil && len(r.trailer) > 0 && !bytes.HasSuffix(r.trailer, []byte("\r\n")) {
			t.Fatalf("trailer %q does not end in CRLF", r.trailer)
		}
		// Go's reader stops after the last chunk's size line; it accepts
		// no trailer fields, and reads a chunk's CRLF strictly.
		want, werr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in)))
		if werr == nil && !bytes.Contains(in, []byte("\n\n")) && end0(in) {
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("decoded %q, %v; Go's reader decodes %q", got, err, want)
			}
		}
	})
}

// end0 reports whether in ends with a last chunk and an empty trailer
// section, "0\r\n\r\n", as the inputs Go's reader is compared on must.
func end0(in []byte) bool {
	return bytes.HasSuffix(in, []byte("\r\n0\r\n\r\n")) || bytes.Equal(in, []byte("0\r\n\r\n"))
}

// FuzzResponseHead reads arbitrary bytes as a response head and checks
// that ending its lines in a bare LF changes nothing: the head written
// with CRLF and with LF parse alike, or fail alike.
func FuzzResponseHead(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-A\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 2x0 Nope\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if bytes.Count(in, []byte("\r")) != bytes.Count(in, []byte("\r\n")) {
			return // a bare CR has no LF form to compare with
		}
		crlf := readHeadOf(in)
		lf := readHeadOf(bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n")))
		if crlf != lf {
			t.Fatalf("with CRLF: %q\nwith LF:   %q", crlf, lf)
		}
	})
}

// readHeadOf reads the first response head of in as a round trip does
// and describes the outcome.
func readHeadOf(in []byte) string {
	c := call{conn: &upConn{br: bufio.NewReaderSize(bytes.NewReader(in), backendReadBuffer)}}
	var h fasthttp.ResponseHeader
	if err := c.readOneHead(&h); err != nil {
		if err == errInvalidResponse {
			return "invalid"
		}
		return "error"
	}
	return string(h.Header())
}

// FuzzOriginForm checks that a request target always goes to a backend in
// origin form: starting with "/" (or the "*" of OPTIONS), without a
// fragment, and an origin-form target unchanged up to its fragment.
func FuzzOriginForm(f *testing.F) {
	for _, seed := range []string{"/a/../b?c=%2F#frag", "http://h/p?q", "https://h:8443", "http://h?q", "*", "h", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got := string(originForm(nil, []byte(target)))
		if !strings.HasPrefix(got, "/") && got != "*" && !strings.HasPrefix(target, "*") {
			t.Fatalf("originForm(%q) = %q, not in origin form", target, got)
		}
		if strings.Contains(got, "#") {
			t.Fatalf("originForm(%q) = %q keeps a fragment", target, got)
		}
		if want, _, _ := strings.Cut(target, "#"); strings.HasPrefix(target, "/") && got != want {
			t.Fatalf("originForm(%q) = %q, want %q", target, got, want)
		}
	})
}
