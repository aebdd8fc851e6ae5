package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
)

// How a response body is framed (RFC 9112, section 6.3).
const (
	bodyNone    uint8 = iota // none: a HEAD request's answer, 1xx, 204, 304
	bodyLength               // Content-Length bytes
	bodyChunked              // chunked transfer coding, then trailer fields
	bodyToClose              // everything until the backend closes
)

// The ways a response body can break off, as the access log and the
// gateway's log name them.
var (
	errBodyCut     = errors.New("backend closed before the end of the body")
	errBodyTimeout = errors.New("backend timeout mid-body")
	errBodyInvalid = errors.New("backend sent a malformed chunked body")
)

// Limits of the chunked framing a backend may send.
const (
	maxChunkLine   = 4 << 10  // a chunk size line, extensions included
	maxTrailerSize = 16 << 10 // the whole trailer section
)

// bodyReader reads a response body off a backend connection and undoes
// its framing. It returns io.EOF once the body has ended where its
// framing says, and one of [errBodyCut], [errBodyTimeout],
// [errBodyInvalid] or [errAborted] when it broke off; both stick.
type bodyReader struct {
	br   *bufio.Reader
	mode uint8
	// left is what remains of a Content-Length body, or of the current
	// chunk; a chunked body reads a chunk size line when it is 0 and
	// sizeNext is set, or the CRLF after a chunk's data otherwise.
	left     int64
	sizeNext bool
	err      error
	// trailer holds a chunked body's trailer fields as "Name: value\r\n"
	// lines once the body ended.
	trailer []byte
	// stalled decides whether a read that timed out may wait again;
	// partial is set when the timeout cut a line of the framing in two,
	// which cannot be read again.
	stalled interface{ mayWaitAgain() bool }
	partial bool
}

// reset prepares r for a body framed by mode, of size bytes for
// bodyLength.
func (r *bodyReader) reset(br *bufio.Reader, mode uint8, size int64) {
	r.br, r.mode, r.left, r.sizeNext, r.err, r.partial = br, mode, size, true, nil, false
	r.trailer = r.trailer[:0]
	if mode == bodyNone || mode == bodyLength && size == 0 {
		r.err = io.EOF
	}
	if mode == bodyChunked {
		r.left = 0
	}
}

// done reports whether the body was read to its end.
func (r *bodyReader) done() bool { return r.err == io.EOF }

// Read reads body bytes into p.
func (r *bodyReader) Read(p []byte) (int, error) {
	if len(p) == 0 && r.err == nil {
		return 0, nil
	}
	for r.err == nil {
		n, err := r.read(p)
		if n > 0 {
			return n, nil
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !r.partial && r.stalled != nil && r.stalled.mayWaitAgain() {
			continue
		}
		r.err = r.failure(err)
	}
	return 0, r.err
}

// failure names what a read error means for the body.
func (r *bodyReader) failure(err error) error {
	var ne net.Error
	switch {
	case err == io.EOF && r.mode == bodyToClose:
		return io.EOF
	case errors.Is(err, errAborted):
		return errAborted
	case errors.As(err, &ne) && ne.Timeout():
		return errBodyTimeout
	case err == errBodyInvalid || err == bufio.ErrBufferFull:
		return errBodyInvalid
	}
	return errBodyCut
}

// read is one step of Read: some body bytes, or none and a step of the
// chunked framing, or an error.
func (r *bodyReader) read(p []byte) (int, error) {
	switch r.mode {
	case bodyToClose:
		if len(p) == 0 {
			return 0, nil
		}
		return r.br.Read(p)
	case bodyLength:
		n, err := r.br.Read(p[:min(int64(len(p)), r.left)])
		r.left -= int64(n)
		if r.left == 0 {
			r.err = io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	// Chunked.
	if r.left > 0 {
		n, err := r.br.Read(p[:min(int64(len(p)), r.left)])
		r.left -= int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if !r.sizeNext {
		// The CRLF (or, leniently, the bare LF) that ends a chunk's data.
		c, err := r.br.ReadByte()
		if err == nil && c == '\r' {
			c, err = r.br.ReadByte()
		}
		switch {
		case err == io.EOF:
			return 0, io.ErrUnexpectedEOF
		case err != nil:
			return 0, err
		case c != '\n':
			return 0, errBodyInvalid
		}
		r.sizeNext = true
		return 0, nil
	}
	line, err := r.br.ReadSlice('\n')
	if err != nil {
		r.partial = len(line) > 0
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err == bufio.ErrBufferFull {
			err = errBodyInvalid
		}
		return 0, err
	}
	if len(line) > maxChunkLine {
		return 0, errBodyInvalid
	}
	size, ok := parseChunkSize(line)
	if !ok {
		return 0, errBodyInvalid
	}
	r.sizeNext = false
	if size > 0 {
		r.left = size
		return 0, nil
	}
	if err := r.readTrailer(); err != nil {
		return 0, err
	}
	r.err = io.EOF
	return 0, nil
}

// readTrailer reads the trailer section that ends a chunked body, up to
// and including its empty line, into r.trailer.
func (r *bodyReader) readTrailer() error {
	for {
		line, err := r.br.ReadSlice('\n')
		if err != nil {
			r.partial = true
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		if len(line) == 0 {
			return nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) || len(r.trailer)+len(line) > maxTrailerSize {
			return errBodyInvalid
		}
		r.trailer = append(append(r.trailer, line...), '\r', '\n')
	}
}

// parseChunkSize parses a chunk size line, "1a2b;name=value\r\n", and
// reports whether it is well formed. The size is hexadecimal, at most 15
// digits; extensions are ignored.
func parseChunkSize(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto ext
		}
		if i == 15 {
			return 0, false
		}
		size = size<<4 | int64(d)
	}
ext:
	if i == 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(line[i:], " \t")
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	for _, c := range rest {
		if c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	return size, true
}

// isToken reports whether b is a field name: one or more token characters
// (RFC 9110, section 5.6.2).
func isToken(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0) {
			return false
		}
	}
	return len(b) > 0
}

// chunkRoom is what the largest chunk size line the gateway writes takes:
// up to 15 hexadecimal digits and CRLF.
const chunkRoom = 17

// frameChunk turns buf[chunkRoom-?:chunkRoom+n] into one chunk: it writes
// the size line of the n data bytes at buf[chunkRoom:] just before them,
// appends CRLF after them (buf must have room for it) and returns the
// chunk.
func frameChunk(buf []byte, n int) []byte {
	start := chunkRoom - 2
	buf[start], buf[start+1] = '\r', '\n'
	for v := n; ; v >>= 4 {
		start--
		buf[start] = hexDigits[v&0xf]
		if v < 16 {
			break
		}
	}
	end := chunkRoom + n
	buf[end], buf[end+1] = '\r', '\n'
	return buf[start : end+2]
}
