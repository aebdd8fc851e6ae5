package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// timeoutError is a [net.Error] that reports a timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestErrorReason(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Head", URL: "http://10.0.0.1/", Err: &net.OpError{
			Op: "dial", Net: "tcp", Err: err,
		}}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "connection refused"},
		{"reset", dial(os.NewSyscallError("read", syscall.ECONNRESET)), "connection reset"},
		{"broken pipe", dial(os.NewSyscallError("write", syscall.EPIPE)), "connection reset"},
		{"EOF", &url.Error{Op: "Get", URL: "http://x/", Err: io.EOF}, "connection reset"},
		{"unexpected EOF", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), "connection reset"},
		{"deadline", &url.Error{Op: "Get", URL: "http://x/", Err: context.DeadlineExceeded}, "timeout"},
		{"net timeout", dial(timeoutError{}), "timeout"},
		{"ETIMEDOUT", dial(os.NewSyscallError("connect", syscall.ETIMEDOUT)), "timeout"},
		{"canceled", &url.Error{Op: "Get", URL: "http://x/", Err: context.Canceled}, "canceled"},
		{"no route", dial(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "no route to host"},
		{"dns", dial(&net.DNSError{Err: "no such host", Name: "backend.invalid"}), "dns: no such host"},
		{"other", &url.Error{Op: "Get", URL: "http://x/", Err: errors.New("malformed HTTP response")},
			"malformed HTTP response"},
		{"long", errors.New(strings.Repeat("y", 200)), strings.Repeat("y", maxReasonLen-3) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorReason(tt.err); got != tt.want {
				t.Fatalf("errorReason(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
