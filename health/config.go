package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// The defaults that [CheckConfig.WithDefaults] fills in for zero fields.
const (
	DefaultMethod             = "HEAD"
	DefaultPath               = "/"
	DefaultInterval           = 2 * time.Second
	DefaultTimeout            = time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
)

// StatusRange is an inclusive range of HTTP status codes, such as 200-399.
type StatusRange struct{ Lo, Hi int }

// DefaultExpect returns the status range that passes when
// [CheckConfig.Expect] is empty: 200-399.
func DefaultExpect() StatusRange { return StatusRange{Lo: 200, Hi: 399} }

// Contains reports whether code lies within r, bounds included.
func (r StatusRange) Contains(code int) bool {
	return r.Lo <= code && code <= r.Hi
}

// String formats r as "Lo-Hi", or as one code when Lo equals Hi.
func (r StatusRange) String() string {
	if r.Lo == r.Hi {
		return fmt.Sprint(r.Lo)
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// CheckConfig configures the active checks of one backend. Zero fields take
// the defaults listed with [DefaultMethod]; see [CheckConfig.WithDefaults].
type CheckConfig struct {
	// Method is the probe's HTTP method (default HEAD).
	Method string
	// Path is the probe's request target, path and optional query
	// (default "/").
	Path string
	// Host is the probe's Host header; empty sends the backend's host and
	// port as its URL writes them.
	Host string
	// Dial, when not nil, opens the TCP connection of each probe, as
	// [net.Dialer.DialContext] would (the default); TLS goes on top of it
	// for an https backend.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, when not nil, is how an https backend's probes speak TLS:
	// the roots its certificate is verified against, the name it is
	// verified for and the client certificate shown. Nil verifies the
	// URL's host against the system's roots.
	TLS *tls.Config
	// Interval is the time between the end of one probe and the start of
	// the next, before ±10% jitter (default 2s).
	Interval time.Duration
	// Timeout bounds each probe (default 1s).
	Timeout time.Duration
	// HealthyThreshold is how many consecutive passes mark a down backend
	// up (default 2).
	HealthyThreshold int
	// UnhealthyThreshold is how many consecutive failures mark an up
	// backend down (default 3).
	UnhealthyThreshold int
	// Expect lists the status ranges that pass (default 200-399).
	Expect []StatusRange
}

// WithDefaults returns a copy of c in which every zero or negative field
// holds its default.
func (c CheckConfig) WithDefaults() CheckConfig {
	if c.Method == "" {
		c.Method = DefaultMethod
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HealthyThreshold <= 0 {
		c.HealthyThreshold = DefaultHealthyThreshold
	}
	if c.UnhealthyThreshold <= 0 {
		c.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	if len(c.Expect) == 0 {
		c.Expect = []StatusRange{DefaultExpect()}
	}
	return c
}

// Accepts reports whether a probe answered with status code passes: code
// lies in one of c.Expect, or in [DefaultExpect] when c.Expect is empty.
func (c CheckConfig) Accepts(code int) bool {
	if len(c.Expect) == 0 {
		return DefaultExpect().Contains(code)
	}
	for _, r := range c.Expect {
		if r.Contains(code) {
			return true
		}
	}
	return false
}

// PassiveConfig configures ejection on failed proxied requests; see
// [Status.ReportFailure] and [Status.Eject].
type PassiveConfig struct {
	// MaxFails is how many failures within Window reach the threshold;
	// 0 turns passive health off.
	MaxFails int
	// Window is the sliding window failures are counted in. A zero Window
	// counts failures however old they are.
	Window time.Duration
	// EjectFor is how long the gateway ejects a backend that reached the
	// threshold.
	EjectFor time.Duration
}

// Reason is the transition reason for an ejection under c, such as
// "passive: 3 failures within 10s"; the gateway passes it to [Status.Eject].
func (c PassiveConfig) Reason() string {
	noun := "failures"
	if c.MaxFails == 1 {
		noun = "failure"
	}
	if c.Window <= 0 {
		return fmt.Sprintf("passive: %d %s", c.MaxFails, noun)
	}
	return fmt.Sprintf("passive: %d %s within %s", c.MaxFails, noun, c.Window)
}
