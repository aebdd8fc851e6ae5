//go:build !linux

package gateway

import "syscall"

// unreadProbe returns nil: off Linux the gateway does not ask the kernel
// what a socket holds, and a gathering exchange writes what it has before
// every read.
func unreadProbe(*int) func(fd uintptr) { return nil }

// peerClosed says no: off Linux an idle connection is not checked before
// use, and one the backend closed fails the request sent over it.
func peerClosed(syscall.RawConn) bool { return false }
