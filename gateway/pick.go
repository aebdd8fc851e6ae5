package gateway

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// failure is how a round trip ended short of a response head.
type failure uint8

const (
	// failNone: a response head came.
	failNone failure = iota
	// failConnect: no connection could be made (refused, unreachable,
	// timed out, TLS handshake failed); nothing reached the backend.
	failConnect
	// failBusy: every connection to the backend stayed busy.
	failBusy
	// failReset: the backend closed or reset the connection before a
	// response head.
	failReset
	// failTimeout: no response head within responseHeaderTimeout.
	failTimeout
	// failInvalid: a response head the gateway cannot read.
	failInvalid
	// failClient: the client's body broke the round trip.
	failClient
)

// attempt is what trying one backend came to.
type attempt struct {
	failure   failure
	err       error
	continued bool // a request that expects 100-continue may send its body
	// stale is the upstream of a keep-alive connection the backend had
	// closed, which says nothing of the backend; nil otherwise.
	stale *upstream
}

// forward sends the exchange to a backend of its pool and relays the
// response, or answers itself when no backend can. It is the gateway's
// one failover loop, for proxied requests and upgrades alike: a backend
// that could not be connected to, or that closed the connection before
// any response byte while nothing of the request's body had been sent,
// is counted as failed and the request goes to the next healthy backend;
// each backend is tried once, and a keep-alive connection found closed
// is replaced once without counting. No healthy backend: 503; the
// backend silent past responseHeaderTimeout: 504; otherwise 502.
//
// For a request that expects 100-continue, forward runs inside the
// ExpectHandler and ends either with the response relayed or the
// exchange stashed until the client has been told to continue.
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, ex *exchange) {
	p := ex.pool
	var (
		tried  uint64
		last   attempt
		failed *backend
	)
	for n := 0; n <= len(p.backends); n++ {
		i := p.selector.pick(p, ex.clientHash, tried)
		if i < 0 {
			break
		}
		b := p.backends[i]
		a := ex.try(ctx, b)
		if a.stale != nil {
			// A backend that closed one idle connection has most likely
			// closed the others: drop them, and try b again on a new one.
			a.stale.closeIdle()
			a = ex.try(ctx, b)
		}
		if a.failure == failNone {
			if a.continued {
				ex.stash(ctx)
				return
			}
			g.deliver(ctx, ex)
			return
		}
		last, failed = a, b
		if a.failure == failClient {
			break
		}
		if a.failure != failBusy {
			g.backendFailed(p, b, a.failure.cause(a.err))
		}
		retry := a.failure == failConnect || a.failure == failBusy ||
			a.failure == failReset && ex.limit.read == 0
		if !retry || i >= 64 {
			break
		}
		tried |= 1 << uint(i)
	}
	g.answerFailure(ctx, ex, last, failed)
}

// try runs the round trip with b up to the final response head, which it
// leaves in ctx.Response.Header, over the upstream it counts the request
// on ([backend.acquire]).
func (ex *exchange) try(ctx *fasthttp.RequestCtx, b *backend) attempt {
	ex.upstream = b.acquire()
	c := &ex.call
	err := c.open(ex.upstream, ex.head, ex.upgrade, ex.headOnly, ex.hasBody)
	if err == nil {
		if ex.hasBody {
			c.sendBody(&ex.limit, ex.bodySize, ex.expect)
		}
		err = c.readHead(&ctx.Response.Header, ex, ex.upgrade)
	}
	return ex.settle(b, err)
}

// resume goes on with an exchange that forward stashed, once the client
// has been told to continue: the body goes out and the response is read.
// Nothing can fail over any more: the backend may have the body already.
func (g *Gateway) resume(ctx *fasthttp.RequestCtx, ex *exchange) {
	ex.attachBody(ctx)
	c := &ex.call
	if ex.hasBody {
		c.release()
	} else {
		c.held = false
	}
	b := ex.backend
	a := ex.settle(b, c.readHead(&ctx.Response.Header, ex, false))
	if a.failure == failNone {
		g.deliver(ctx, ex)
		return
	}
	if a.failure != failClient {
		g.backendFailed(ex.pool, b, a.failure.cause(a.err))
	}
	g.answerFailure(ctx, ex, a, b)
}

// settle ends a try: it keeps b for an exchange whose response head came,
// or ends the call, ends the request on b and names the failure.
func (ex *exchange) settle(b *backend, err error) attempt {
	if err == nil || err == errContinue {
		ex.backend = b
		return attempt{continued: err == errContinue}
	}
	c := &ex.call
	c.stopWriter()
	a := attempt{failure: classify(err, c), err: err}
	if a.failure == failReset && c.conn != nil && c.conn.reused && !c.headSeen && ex.limit.read == 0 {
		a.stale = ex.upstream
	}
	c.end()
	b.release(ex.upstream)
	ex.upstream = nil
	return a
}

// deliver relays the response of the exchange's backend, counting a 5xx
// answer as a failure when the pool says so.
func (g *Gateway) deliver(ctx *fasthttp.RequestCtx, ex *exchange) {
	if code := ctx.Response.StatusCode(); code >= 500 && ex.pool.on5xx {
		g.passiveFailure(ex.pool, ex.backend, "status "+statusText(code))
	}
	ex.relay(ctx)
}

// answerFailure answers a request no backend answered: 503 when none was
// healthy (or every one was busy), 504 when the last one tried stayed
// silent, the status the client's body earned when it broke the round
// trip, and 502 otherwise, each with a reason that names no address.
func (g *Gateway) answerFailure(ctx *fasthttp.RequestCtx, ex *exchange, a attempt, b *backend) {
	p := ex.pool
	ctx.Response.Header.Reset() // what an interim or a broken head left
	status, reason := fasthttp.StatusBadGateway, "no backend could be reached\n"
	switch a.failure {
	case failNone, failBusy:
		status, reason = fasthttp.StatusServiceUnavailable, "no healthy backend for this route\n"
		if a.failure == failBusy {
			reason = "every backend of this route is busy\n"
		}
		ctx.Response.Header.Set("Retry-After", "1")
	case failClient:
		if status, reason = ex.uploadFailure(); status == 0 {
			status, reason = fasthttp.StatusBadRequest, "the request body is malformed or incomplete\n"
		}
	case failTimeout:
		status, reason = fasthttp.StatusGatewayTimeout, "the backend did not answer in time\n"
	case failReset:
		reason = "the backend closed the connection without a response\n"
	case failInvalid:
		reason = "the backend's response was invalid\n"
	case failConnect:
		var de *dialError
		if errors.As(a.err, &de) && de.tls {
			reason = "the TLS handshake with the backend failed\n"
		}
	}
	if status == fasthttp.StatusBadGateway || status == fasthttp.StatusGatewayTimeout {
		g.warnFailure(p, b, status, a.failure.cause(a.err), a.err)
	}
	unread := ex.bodyUnread()
	r := ex.route
	ex.release()
	g.answer(ctx, r, p, status, reason)
	if unread {
		closeLingering(ctx)
	}
}

// classify names the failure of a round trip that ended with err, once
// its body writer has been joined.
func classify(err error, c *call) failure {
	var de *dialError
	var ne net.Error
	switch {
	case c.bodyErr != nil:
		return failClient
	case errors.As(err, &de):
		if errors.Is(err, errNoFreeConn) {
			return failBusy
		}
		return failConnect
	case err == errInvalidResponse:
		return failInvalid
	case errors.As(err, &ne) && ne.Timeout():
		return failTimeout
	}
	return failReset
}

// cause says in a few words what went wrong, for logs and passive
// ejection reasons.
func (f failure) cause(err error) string {
	var de *dialError
	var ne net.Error
	switch f {
	case failConnect:
		switch {
		case errors.As(err, &de) && de.tls:
			return "TLS handshake failed"
		case errors.Is(err, syscall.ECONNREFUSED):
			return "connection refused"
		case errors.As(err, &ne) && ne.Timeout():
			return "connect timeout"
		}
		return "connect failed"
	case failBusy:
		return "every connection busy"
	case failReset:
		return "connection reset"
	case failTimeout:
		return "timeout"
	case failInvalid:
		return "invalid response"
	case failClient:
		return "client body failed"
	}
	return "ok"
}

// backendFailed counts a round trip that b failed, in its failure
// counter and towards its passive ejection.
func (g *Gateway) backendFailed(p *pool, b *backend, cause string) {
	b.failures.Add(1)
	g.passiveFailure(p, b, cause)
}

// passiveFailure counts a failed exchange with b towards its passive
// ejection, and ejects it when p keeps another healthy backend.
func (g *Gateway) passiveFailure(p *pool, b *backend, reason string) {
	passive := b.settings.Load().passive
	if passive.MaxFails <= 0 {
		return
	}
	if b.health.ReportFailure(time.Now(), passive) && p.healthyOtherThan(b) {
		b.health.Eject(passive.EjectFor, passive.Reason()+", the last: "+reason)
	}
}

// statusText formats a status code as its three digits.
func statusText(code int) string {
	if code >= 100 && code < 1000 {
		return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
	}
	return "???"
}
