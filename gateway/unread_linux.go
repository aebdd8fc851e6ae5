package gateway

import "golang.org/x/sys/unix"

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
