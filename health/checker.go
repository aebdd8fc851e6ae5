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
// Its probes run on the prober goroutines of its [Scheduler].
type Checker struct {
	status *Status
	prober Prober
	cfg    CheckConfig
	sched  *Scheduler

	// The fields below are guarded by sched.mu.
	started bool
	stopped bool
	// at is when the next probe is due, and index the Checker's place in
	// the scheduler's heap, -1 when it is not there.
	at    time.Time
	index int
	// cancel cancels the probe in flight; nil when none is.
	cancel context.CancelFunc
	// probing counts the probe in flight, for Stop to wait for.
	probing sync.WaitGroup
}

// NewChecker returns a Checker that probes with p under cfg (zero fields
// take their defaults, see [CheckConfig.WithDefaults]) and records the
// results in s, on a [Scheduler] of its own with one prober. It applies
// cfg's thresholds to s with [Status.SetThresholds] and forgets s's
// current run of consecutive results, so that only the new Checker's
// probes move the verdict: a Checker that replaces a stopped one on the
// same Status, with new settings, keeps a down backend down until its own
// probes pass HealthyThreshold times in a row. Many Checkers should share
// one Scheduler: see [Scheduler.NewChecker].
func NewChecker(s *Status, p Prober, cfg CheckConfig) *Checker {
	return NewScheduler(1).NewChecker(s, p, cfg)
}

// Start probes the backend at once, then again every interval with ±10%
// jitter, each probe bounded by the timeout, until [Checker.Stop]. Only the
// first call does anything, and none does after Stop.
func (c *Checker) Start() {
	s := c.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.started || c.stopped {
		return
	}
	c.started = true
	s.start(c)
}

// Stop cancels a probe in flight and returns once it has finished; the
// Checker probes no more. A result cut short by Stop is not recorded.
// Stop is idempotent and may be called before or without Start.
func (c *Checker) Stop() {
	s := c.sched
	s.mu.Lock()
	if !c.stopped {
		c.stopped = true
		s.stop(c)
	}
	s.mu.Unlock()
	c.probing.Wait()
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
