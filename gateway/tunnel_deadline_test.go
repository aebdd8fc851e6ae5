package gateway

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// TestTunnelOutlivesClientTimeouts checks that an upgraded connection is
// not cut by the client header, body or idle timeouts, which bound HTTP
// requests only: the client stays silent for twice the header timeout
// while the backend talks, then still gets its echo.
func TestTunnelOutlivesClientTimeouts(t *testing.T) {
	const quiet = 400 * time.Millisecond
	b := startBackend(t, "a", upgradeHandler(func(c net.Conn, brw *bufio.ReadWriter) {
		<-time.After(quiet)
		brw.WriteString("tick")
		brw.Flush()
		echo(c, brw)
	}))
	_, base := startGateway(t, "clientHeaderTimeout: 200ms\nclientIdleTimeout: 200ms\n"+poolConfig("round_robin", "", b.URL))
	c, br := dialUpgrade(t, base)
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
