package health

import (
	"context"
	"time"
)

// Result is the outcome of one probe.
type Result struct {
	// OK reports whether the probe passed.
	OK bool
	// Reason says what happened in a few words: "ok" for a pass, else
	// "status 503", "timeout", "connection refused" and the like.
	Reason string
	// At is when the probe started.
	At time.Time
}

// Prober runs one active check against a backend.
type Prober interface {
	// Probe checks the backend once. It must return soon after ctx is done,
	// and it must not retain ctx.
	Probe(ctx context.Context) Result
}
