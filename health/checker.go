package health

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// reasonTimeout is the reason of a probe that ran out of time.
const reasonTimeout = "timeout"

// Checker probes one backend on a schedule and feeds the results to its
// [Status]. It is idle until [Checker.Start] and runs until [Checker.Stop].
type Checker struct {
	status *Status
	prober Prober
	cfg    CheckConfig

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewChecker returns a Checker that probes with p under cfg (zero fields
// take their defaults, see [CheckConfig.WithDefaults]) and records the
// results in s. It applies cfg's thresholds to s with [Status.SetThresholds]
// and forgets s's current run of consecutive results, so that only the new
// Checker's probes move the verdict: a Checker that replaces a stopped one
// on the same Status, with new settings, keeps a down backend down until
// its own probes pass HealthyThreshold times in a row.
func NewChecker(s *Status, p Prober, cfg CheckConfig) *Checker {
	cfg = cfg.WithDefaults()
	s.SetThresholds(cfg.HealthyThreshold, cfg.UnhealthyThreshold)
	s.resetRun()
	return &Checker{status: s, prober: p, cfg: cfg}
}

// Start probes the backend at once, then again every interval with ±10%
// jitter, each probe bounded by the timeout, until [Checker.Stop]. Only the
// first call does anything, and none does after Stop.
func (c *Checker) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.stopped {
		return
	}
	c.started = true
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.run(ctx, c.done)
}

// Stop cancels a probe in flight and returns once the Checker's goroutine
// has stopped its timer and finished. A result cut short by Stop is not recorded. Stop is
// idempotent and may be called before or without Start.
func (c *Checker) Stop() {
	c.mu.Lock()
	c.stopped = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// run probes until ctx is done, then closes done.
func (c *Checker) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	var timer *time.Timer
	for {
		c.probe(ctx)
		wait := Jitter(c.cfg.Interval)
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// probe runs one probe bounded by the timeout and records its result,
// unless ctx was cancelled meanwhile.
func (c *Checker) probe(ctx context.Context) {
	start := time.Now()
	probeCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	r := c.prober.Probe(probeCtx)
	timedOut := errors.Is(probeCtx.Err(), context.DeadlineExceeded)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if !r.OK && timedOut {
		r.Reason = reasonTimeout
	}
	if r.At.IsZero() {
		r.At = start
	}
	c.status.RecordProbe(r)
}

// Jitter returns interval with a uniform jitter of up to ±10%, the
// spread that keeps timers of the same interval, such as the probes of a
// pool's backends, from running in lockstep.
func Jitter(interval time.Duration) time.Duration {
	spread := interval / 10
	if spread <= 0 {
		return interval
	}
	return interval - spread + rand.N(2*spread+1)
}
