package gateway

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// unreadProbe returns a function that stores in unread how many bytes
// the kernel holds for reading on a socket descriptor, or 0 when it
// cannot tell.
func unreadProbe(unread *int) func(fd uintptr) {
	return func(fd uintptr) {
		n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		if err != nil {
			n = 0
		}
		*unread = n
	}
}

// peerClosed reports whether the socket of raw has reached its end, or
// holds bytes to read, without waiting and without consuming them.
func peerClosed(raw syscall.RawConn) bool {
	closed := false
	raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		closed = err == nil && n >= 0 || err != nil && err != unix.EAGAIN && err != unix.EWOULDBLOCK && err != unix.EINTR
	})
	return closed
}
