package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// loopbackPair returns the two ends of a loopback TCP connection.
func loopbackPair(t *testing.T) (near, far net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	near, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	far = <-accepted
	if far == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { near.Close(); far.Close() })
	return near, far
}

// pieceReader reads at most max bytes at a time, as a backend's chunks
// come out of a chunked body.
type pieceReader struct {
	r   io.Reader
	max int
}

func (p pieceReader) Read(b []byte) (int, error) { return p.r.Read(b[:min(len(b), p.max)]) }

// gatheringExchange returns an exchange relaying, as a body that ends
// with the connection, what comes over dc in pieces of 1000 bytes.
func gatheringExchange(dc *deadlineConn) *exchange {
	ex := &exchange{}
	br := bufio.NewReaderSize(pieceReader{dc, 1000}, 4096)
	ex.call.conn = &upConn{dc: dc, br: br}
	ex.call.resp.reset(br, bodyToClose, 0)
	return ex
}

// chunkRecorder records the chunks an exchange writes.
type chunkRecorder struct {
	mu     sync.Mutex
	chunks []int
	data   bytes.Buffer
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = append(c.chunks, len(p))
	return c.data.Write(p)
}

func (c *chunkRecorder) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data.Len()
}

// timeoutOf returns a [sharedTimeout] that holds d.
func timeoutOf(d time.Duration) *sharedTimeout {
	var t sharedTimeout
	t.set(d)
	return &t
}

func TestGatherJoinsWhatHasArrived(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel is asked what a socket holds on Linux only")
	}
	near, far := loopbackPair(t)
	payload := bytes.Repeat([]byte("0123456789"), gatherSize/10+500) // a full chunk and 5000 bytes
	if _, err := far.Write(payload); err != nil {
		t.Fatal(err)
	}
	far.Close()
	dc := newDeadlineConn(near, timeoutOf(time.Minute))
	// Wait until the kernel holds the whole payload, so that no read waits.
	for deadline := time.Now().Add(5 * time.Second); !dc.readable(); {
		if time.Now().After(deadline) {
			t.Fatal("the payload never arrived")
		}
		runtime.Gosched()
	}
	ex := gatheringExchange(dc)
	var rec chunkRecorder
	n, err := ex.WriteTo(&rec)
	if err != nil || n != int64(len(payload)) || !bytes.Equal(rec.data.Bytes(), payload) {
		t.Fatalf("WriteTo = %d, %v; relayed %d bytes intact=%t; want %d intact", n, err, rec.data.Len(), bytes.Equal(rec.data.Bytes(), payload), len(payload))
	}
	if want := []int{gatherSize, len(payload) - gatherSize}; fmt.Sprint(rec.chunks) != fmt.Sprint(want) {
		t.Fatalf("pieces of 1000 bytes went out as chunks %v, want %v", rec.chunks, want)
	}
	if dc.waiter != nil {
		t.Fatal("the connection still tells the exchange about waits")
	}
}

// TestGatherWritesBeforeWaiting checks that gathering never holds bytes
// back; TestProxyStreamsServerSentEvents checks the same through the
// whole proxy, a chunked event stream being gathered too.
func TestGatherWritesBeforeWaiting(t *testing.T) {
	near, far := loopbackPair(t)
	dc := newDeadlineConn(near, timeoutOf(time.Minute))
	ex := gatheringExchange(dc)
	var rec chunkRecorder
	done := make(chan error, 1)
	go func() {
		_, err := ex.WriteTo(&rec)
		done <- err
	}()
	// Each piece must reach the client while the backend holds back the
	// next: nothing waits in the gathering buffer for more.
	sent := 0
	for i := range 5 {
		piece := bytes.Repeat([]byte{'a' + byte(i)}, 300)
		if _, err := far.Write(piece); err != nil {
			t.Fatal(err)
		}
		sent += len(piece)
		for deadline := time.Now().Add(5 * time.Second); rec.received() < sent; {
			if time.Now().After(deadline) {
				t.Fatalf("piece %d: the client has %d of %d bytes; the exchange held them back", i, rec.received(), sent)
			}
			runtime.Gosched()
		}
	}
	far.Close()
	if err := <-done; err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
}
