package health

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
)

// maxReasonLen bounds the length of a reason made from an error's text.
const maxReasonLen = 96

// errorReason reduces a probe's transport error to a short reason:
// "timeout", "connection refused", "connection reset", "canceled", or a
// shortened error text.
func errorReason(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &netErr) && netErr.Timeout():
		return reasonTimeout
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dnsErr):
		return shorten("dns: " + dnsErr.Err)
	case errors.As(err, &errno):
		return shorten(errno.Error())
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return shorten(err.Error())
}

// shorten cuts s to at most maxReasonLen bytes.
func shorten(s string) string {
	if len(s) <= maxReasonLen {
		return s
	}
	return s[:maxReasonLen-3] + "..."
}
