package gateway

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener accepts connections on loopback and counts them.
func countingListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := new(atomic.Int32)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String(), accepted
}

// smallUpstream returns an upstream to addr of at most maxConns
// connections, whose requests wait for one at most wait.
func smallUpstream(t *testing.T, addr string, maxConns int, wait time.Duration) *upstream {
	u := newUpstream(addr, nil, time.Second, time.Minute, timeoutOf(time.Minute), dialTCP)
	u.maxConns, u.wait = maxConns, wait
	t.Cleanup(u.retire)
	return u
}

func TestTransportPoolsLIFOAndBoundsConnections(t *testing.T) {
	addr, accepted := countingListener(t)
	tr := smallUpstream(t, addr, 2, 5*time.Second)
	a, err := tr.get()
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.get()
	if err != nil {
		t.Fatal(err)
	}
	// Both connections are busy: a third request waits for one.
	got := make(chan *upConn, 1)
	go func() {
		c, err := tr.get()
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	select {
	case c := <-got:
		t.Fatalf("a third connection %p was handed out while two were busy", c)
	case <-time.After(50 * time.Millisecond):
	}
	tr.put(a)
	if c := <-got; c != a || !c.reused {
		t.Fatalf("the waiting request got %p, want the returned %p, reused", c, a)
	}
	// Idle connections are handed out most recently used first.
	tr.put(a)
	tr.put(b)
	if c, _ := tr.get(); c != b {
		t.Fatal("the idle connection used last did not go first")
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d connections dialled, want 2", n)
	}
}

func TestTransportWaitEndsWithoutAConnection(t *testing.T) {
	addr, _ := countingListener(t)
	tr := smallUpstream(t, addr, 1, 100*time.Millisecond)
	a, err := tr.get()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = tr.get()
	if !errors.Is(err, errNoFreeConn) {
		t.Fatalf("get with every connection busy: %v, want %v", err, errNoFreeConn)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 10*time.Second {
		t.Fatalf("gave up after %v, want about 100ms", d)
	}
	// A connection closed frees its slot for a new one.
	tr.discard(a)
	if _, err := tr.get(); err != nil {
		t.Fatalf("after a discard: %v", err)
	}
}
