package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTunnelOutlivesClientTimeouts checks that an upgraded connection is
// not cut by the client header, body or idle timeouts, which bound HTTP
// requests only: the client stays silent for twice the header timeout
// while the backend talks, then still gets its echo.
func TestTunnelOutlivesClientTimeouts(t *testing.T) {
	const quiet = 400 * time.Millisecond
	b := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		<-time.After(quiet)
		brw.WriteString("tick")
		brw.Flush()
		io.Copy(c, brw)
	})
	_, base := startGateway(t, "clientHeaderTimeout: 200ms\nclientIdleTimeout: 200ms\n"+poolConfig("round_robin", "", b.URL))
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v, %v; want 101", resp, err)
	}
	for _, msg := range []string{"tick", "hello"} {
		if msg != "tick" {
			io.WriteString(c, msg)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("after %v of client silence: read %q, %v; want %q", quiet, buf, err, msg)
		}
	}
}
