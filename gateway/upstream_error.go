package gateway

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// upstreamFailure classifies an error from a backend round trip.
type upstreamFailure int

const (
	// failNone: no failure.
	failNone upstreamFailure = iota
	// failConnect: the connection could not be made; nothing reached the
	// backend, so any request may go to another backend.
	failConnect
	// failReset: the connection closed or reset before any response byte.
	failReset
	// failTimeout: the backend did not answer in time.
	failTimeout
	// failOther: anything else (a malformed response, say).
	failOther
)

// classify sorts err into an [upstreamFailure].
func classify(err error) upstreamFailure {
	switch {
	case err == nil:
		return failNone
	case errors.Is(err, fasthttp.ErrNoFreeConns),
		errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return failConnect
	}
	var dialErr *fasthttp.ErrDialWithUpstream
	if errors.As(err, &dialErr) {
		return failConnect
	}
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
		return failTimeout
	}
	if errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return failReset
	}
	return failOther
}

// retryStaleConnection lets a [fasthttp.HostClient] retry a bodiless
// idempotent request once when a pooled keep-alive connection turns out to
// have been closed by the backend, the race every proxy meets at a
// backend's idle timeout. Timeouts are never retried.
func retryStaleConnection(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if attempts >= 2 || classify(err) != failReset || req.IsBodyStream() {
		return false, false
	}
	return false, idempotent(&req.Header)
}

// idempotent reports whether the request's method is idempotent (RFC 9110,
// section 9.2.2), so that sending it again after a failure that may have
// reached the backend does no harm.
func idempotent(h *fasthttp.RequestHeader) bool {
	return h.IsGet() || h.IsHead() || h.IsOptions() || h.IsPut() || h.IsDelete() || h.IsTrace()
}
