package gateway

import (
	"io"
	"sync"
)

// A chunked response body comes from the backend in the chunks the
// backend chose, often a few KiB each, and fasthttp writes and flushes
// every piece it reads to the client: one system call per backend chunk.
// An exchange instead gathers what has already arrived into larger chunks
// and writes them whenever its next read of the backend would wait for the
// network, so the client gets fewer, larger writes and no byte later than
// it would have: the read-until-it-would-block of an event loop.

// gatherSize is how much of a chunked body an exchange gathers at most
// before it writes a chunk: a little less than the server's write buffer,
// so that a chunk and its framing leave in one write.
const gatherSize = serverWriteBuffer - 1<<10

var gatherBuffers = sync.Pool{New: func() any {
	b := make([]byte, gatherSize)
	return &b
}}

// SupportsBodyWriteTo tells fasthttp that [exchange.WriteTo] may stand in
// for Read: it is true for a body the server writes in chunks (chunked or
// delimited by the backend's close) over a connection that can tell when
// a read would wait.
func (ex *exchange) SupportsBodyWriteTo() bool {
	c := &ex.call
	return c.conn != nil && c.conn.dc.tellsWaits() && (c.resp.mode == bodyChunked || c.resp.mode == bodyToClose)
}

// WriteTo relays the body to w, fasthttp's chunk writer, gathering chunks
// as told at the top of this file.
func (ex *exchange) WriteTo(w io.Writer) (int64, error) {
	bp := gatherBuffers.Get().(*[]byte)
	ex.gathered, ex.out, ex.written, ex.outErr = (*bp)[:0], w, 0, nil
	dc := ex.call.conn.dc
	dc.tellWaits(ex)
	defer func() {
		dc.tellWaits(nil)
		ex.gathered, ex.out = nil, nil
		gatherBuffers.Put(bp)
	}()
	for {
		off := len(ex.gathered)
		n, err := ex.Read(ex.gathered[off:cap(ex.gathered)])
		if len(ex.gathered) != off {
			// beforeWait wrote what was gathered while the read went on.
			copy(ex.gathered[:n], ex.gathered[off:off+n])
			ex.gathered = ex.gathered[:n]
		} else {
			ex.gathered = ex.gathered[:off+n]
		}
		if err != nil || len(ex.gathered) == cap(ex.gathered) {
			ex.beforeWait()
		}
		switch {
		case ex.outErr != nil:
			return ex.written, ex.outErr
		case err == io.EOF:
			return ex.written, nil
		case err != nil:
			return ex.written, err
		}
	}
}

// beforeWait writes what ex has gathered to the client.
func (ex *exchange) beforeWait() {
	if len(ex.gathered) == 0 || ex.outErr != nil {
		return
	}
	n, err := ex.out.Write(ex.gathered)
	ex.written += int64(n)
	ex.outErr = err
	ex.gathered = ex.gathered[:0]
}
