package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// call is one round trip with a backend over one connection. Its head
// goes out first; a body, if any, is streamed by a goroutine the call
// owns while the response is read, so that a backend may answer before
// it has read the whole body (a 401 to an upload, a streaming echo) and
// that answer is relayed at once. A call knows nothing of the client: it
// takes the request head as bytes and the body as a [requestBody], and
// reads the response head into a [fasthttp.ResponseHeader] and its body
// through [call.resp].
//
// A bodyless request costs no goroutine and no allocation: the head goes
// out in one write and the response head comes back in one read.
type call struct {
	u    *upstream
	conn *upConn

	// The request body and the goroutine that sends it.
	body    requestBody
	size    int64 // -1: chunked
	sending bool  // the writer was started
	writer  sync.WaitGroup
	ended   atomic.Bool  // the writer has returned
	stop    atomic.Bool  // the call asked the writer to stop
	waiting atomic.Bool  // the writer waits for the client's next bytes
	written atomic.Int64 // body bytes the backend took
	seen    int64        // written, when a read last timed out
	sentAll bool         // the whole body, its last chunk included, went out
	sendErr error        // why the backend stopped taking the body
	bodyErr error        // why the client's body failed; not the backend's fault

	held     bool // the body is held back until the backend's 100 Continue
	headOnly bool // a HEAD request, whose answer has no body
	resp     bodyReader
	close    bool // the backend will not take another request on conn
	final    bool // a final response head was read
	headSeen bool // a response byte came back

	norm      []byte // a head with bare LFs, normalized
	normSrc   bytes.Reader
	normBufio *bufio.Reader
}

// requestBody is a request body as a round trip sends it.
type requestBody interface {
	io.Reader
	// trailer returns the trailer fields that ended a chunked body, as
	// "Name: value\r\n" lines, once Read returned io.EOF.
	trailer() []byte
	// interrupt makes a Read that waits for the client return at once.
	interrupt()
}

// interimSink takes the interim (1xx) responses a backend sends before
// its final one.
type interimSink interface {
	interim(h *fasthttp.ResponseHeader)
}

// Errors of a round trip besides those of the connection.
var (
	// errContinue ends [call.readHead] of a request whose body is held
	// back: the backend sent 100 Continue, or did not answer in time.
	errContinue = errors.New("continue")
	// errInvalidResponse is a response head the gateway cannot read.
	errInvalidResponse = errors.New("the backend's response was invalid")
)

// expectWait is how long a request that expects 100-continue waits for
// the backend's answer before its body is sent anyway (curl and HAProxy
// wait 1 s).
const expectWait = time.Second

// open starts the call on a connection of u: a pooled one, or a new one
// of its own for a tunnel. It writes head, the request line and header
// fields, at once: a body follows with [call.sendBody], and a backend may
// answer before it. A pooled connection the backend has closed while it
// was idle is found out before a request that could not be sent again
// goes over it: when once is set, it is replaced by a new one.
func (c *call) open(u *upstream, head []byte, tunnel, headOnly, once bool) error {
	c.u, c.headOnly = u, headOnly
	var err error
	if tunnel {
		c.conn, err = u.dialOwn()
	} else {
		c.conn, err = u.get()
		if err == nil && once && c.conn.reused && c.conn.dc.closedByPeer() {
			u.discard(c.conn)
			u.closeIdle()
			c.conn, err = u.get()
		}
	}
	if err != nil {
		return err
	}
	_, err = c.conn.dc.Write(head)
	return err
}

// sendBody starts the goroutine that sends body to the backend: size
// bytes, or chunked when size is negative. With hold, it waits until
// [call.release] instead, for a request that expects 100-continue.
func (c *call) sendBody(body requestBody, size int64, hold bool) {
	c.body, c.size, c.held = body, size, hold
	if !hold {
		c.release()
	}
}

// release starts sending a held body.
func (c *call) release() {
	c.held = false
	c.sending = true
	c.writer.Add(1)
	go c.write()
}

// bodyBuffers hold the pieces of request bodies on their way out, with
// room for the chunk framing around each.
var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, chunkRoom+32<<10+2)
	return &b
}}

// write sends the body, piece by piece as the client's arrive, and ends
// as soon as the last byte of a sized body or the last chunk went out. It
// runs in its own goroutine, which [call.end] joins.
func (c *call) write() {
	defer c.writer.Done()
	defer c.ended.Store(true)
	bp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bp)
	buf := *bp
	w := c.conn.dc
	chunked := c.size < 0
	for chunked || c.written.Load() < c.size {
		c.waiting.Store(true)
		n, err := c.body.Read(buf[chunkRoom : len(buf)-2])
		c.waiting.Store(false)
		if n > 0 {
			out := buf[chunkRoom : chunkRoom+n]
			if chunked {
				out = frameChunk(buf, n)
			}
			if _, werr := w.Write(out); werr != nil {
				c.sendErr = werr
				return
			}
			c.written.Add(int64(n))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if !c.stop.Load() {
				// The client's body failed: end the round trip.
				c.bodyErr = err
				w.abort()
			}
			return
		}
	}
	if chunked {
		last := append(append(append(buf[:0], "0\r\n"...), c.body.trailer()...), "\r\n"...)
		if _, err := w.Write(last); err != nil {
			c.sendErr = err
			return
		}
	}
	c.sentAll = true
}

// mayWaitAgain reports whether a read of the backend that timed out may
// wait once more: while the body is being sent, the backend is not
// silent as long as it takes some of it, nor while the client is slow to
// send the next piece (the client's own body timeout bounds that).
func (c *call) mayWaitAgain() bool {
	if !c.sending || c.ended.Load() {
		return false
	}
	n := c.written.Load()
	progressed := n != c.seen
	c.seen = n
	return progressed || c.waiting.Load()
}

// readHead reads response heads into h until a final one, which it leaves
// there, its body ready in c.resp. An interim head other than 100 and
// 101 goes to sink; 100 Continue is dropped, or, while the body is held,
// ends readHead with errContinue, as does a wait of expectWait without
// an answer. A 101 is final for an upgrade request and invalid for any
// other.
func (c *call) readHead(h *fasthttp.ResponseHeader, sink interimSink, upgrade bool) error {
	dc := c.conn.dc
	pinned := c.held
	if pinned {
		if err := dc.readBy(time.Now().Add(expectWait)); err != nil {
			return err
		}
		defer dc.unpin()
	}
	for {
		if err := c.readOneHead(h); err != nil {
			var ne net.Error
			if !pinned || !errors.As(err, &ne) || !ne.Timeout() || dc.isAborted() {
				return err
			}
			pinned = false
			dc.unpin()
			if !c.headSeen {
				return errContinue
			}
			// Part of a head came in time: wait for the rest as for any.
			continue
		}
		switch code := h.StatusCode(); {
		case code == fasthttp.StatusContinue:
			if c.held {
				return errContinue
			}
			continue
		case code == fasthttp.StatusSwitchingProtocols:
			if !upgrade {
				return errInvalidResponse
			}
		case code < 200:
			sink.interim(h)
			continue
		}
		c.final = true
		c.frame(h)
		return nil
	}
}

// readOneHead reads one response head into h. A head whose lines end in
// a bare LF, which RFC 9112 lets a recipient accept, is read through a
// copy that ends them in CRLF; the usual head is parsed where it lies.
func (c *call) readOneHead(h *fasthttp.ResponseHeader) error {
	br := c.conn.br
	n := 1
	for {
		b, err := br.Peek(n)
		if len(b) > 0 {
			c.headSeen = true
		}
		if err != nil {
			if err == bufio.ErrBufferFull {
				return errInvalidResponse
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && c.mayWaitAgain() {
				continue
			}
			return err
		}
		b, _ = br.Peek(br.Buffered())
		end, status, bare, ok := headEnd(b)
		if !ok {
			n = len(b) + 1
			continue
		}
		if !validStatusLine(b[status:end]) {
			return errInvalidResponse
		}
		if !bare {
			if h.Read(br) != nil {
				return errInvalidResponse
			}
			return nil
		}
		c.norm = normalizeLF(c.norm[:0], b[:end])
		if c.normBufio == nil {
			c.normBufio = bufio.NewReaderSize(&c.normSrc, 2*backendReadBuffer)
		}
		c.normSrc.Reset(c.norm)
		c.normBufio.Reset(&c.normSrc)
		err = h.Read(c.normBufio)
		br.Discard(end)
		if err != nil {
			return errInvalidResponse
		}
		return nil
	}
}

// headEnd finds the empty line that ends the response head at the start
// of b, after any empty lines before it, and returns the length of the
// head with it, where its status line starts, and whether a line of it
// ends in a bare LF.
func headEnd(b []byte) (end, status int, bareLF, ok bool) {
	status = -1
	for start := 0; ; {
		i := bytes.IndexByte(b[start:], '\n')
		if i < 0 {
			return 0, 0, false, false
		}
		i += start
		cr := i > start && b[i-1] == '\r'
		bareLF = bareLF || !cr
		empty := i == start || cr && i == start+1
		if empty && status >= 0 {
			return i + 1, status, bareLF, true
		}
		if !empty && status < 0 {
			status = start
		}
		start = i + 1
	}
}

// validStatusLine reports whether a response head starts with an HTTP/1.x
// status line with a status code from 100 to 599.
func validStatusLine(head []byte) bool {
	return len(head) >= 12 && bytes.HasPrefix(head, []byte("HTTP/1.")) && '0' <= head[7] && head[7] <= '9' &&
		head[8] == ' ' && '1' <= head[9] && head[9] <= '5' && '0' <= head[10] && head[10] <= '9' &&
		'0' <= head[11] && head[11] <= '9' && (len(head) == 12 || head[12] == ' ' || head[12] == '\r' || head[12] == '\n')
}

// normalizeLF appends head to dst with every bare LF made a CRLF.
func normalizeLF(dst, head []byte) []byte {
	for i, c := range head {
		if c == '\n' && (i == 0 || head[i-1] != '\r') {
			dst = append(dst, '\r')
		}
		dst = append(dst, c)
	}
	return dst
}

// frame reads from the final head h how its body is framed.
func (c *call) frame(h *fasthttp.ResponseHeader) {
	code := h.StatusCode()
	c.close = h.ConnectionClose()
	switch size := h.ContentLength(); {
	case c.headOnly || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified ||
		code == fasthttp.StatusSwitchingProtocols:
		c.resp.reset(c.conn.br, bodyNone, 0)
	case size == -1:
		c.resp.reset(c.conn.br, bodyChunked, 0)
	case size >= 0:
		c.resp.reset(c.conn.br, bodyLength, int64(size))
	default:
		c.resp.reset(c.conn.br, bodyToClose, 0)
		c.close = true
	}
	c.resp.stalled = c
}

// stopWriter stops a body writer still running, because the backend
// answered and stopped reading or the client went away, and joins it.
func (c *call) stopWriter() {
	if !c.sending {
		return
	}
	if !c.ended.Load() {
		c.stop.Store(true)
		c.conn.dc.abort()
		c.body.interrupt()
	}
	c.writer.Wait()
	c.sending = false
}

// end finishes the call: its body writer is stopped and joined, and the
// connection goes back to the pool when it can carry another request, or
// is closed.
func (c *call) end() {
	if c.conn == nil {
		c.reset()
		return
	}
	c.stopWriter()
	// Bytes left over after the response are the backend's mistake, and
	// would be read as the next response.
	reusable := c.final && !c.close && c.resp.done() && !c.held && (c.body == nil || c.sentAll) &&
		!c.conn.dc.isAborted() && c.conn.br.Buffered() == 0
	if reusable {
		c.u.put(c.conn)
	} else {
		c.u.discard(c.conn)
	}
	c.reset()
}

// reset clears c for the next call.
func (c *call) reset() {
	c.u, c.conn, c.body, c.size = nil, nil, nil, 0
	c.sending, c.sentAll, c.held, c.headOnly = false, false, false, false
	c.ended.Store(false)
	c.stop.Store(false)
	c.waiting.Store(false)
	c.written.Store(0)
	c.seen, c.sendErr, c.bodyErr = 0, nil, nil
	c.close, c.final, c.headSeen = false, false, false
	c.resp.reset(nil, bodyNone, 0)
	c.resp.stalled = nil
}
