package health

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The bits of [Status] state; a backend is healthy when none is set.
const (
	activeDownBit uint32 = 1 << iota
	ejectedBit
)

// The reasons of the transitions that a change of settings causes.
const (
	// reasonStarting is the reason of a backend that has had no
	// transition yet.
	reasonStarting = "starting"
	// reasonActiveOff is the reason of the transition up when active
	// checks are turned off for a backend they held down.
	reasonActiveOff = "active checks off"
	// reasonPassiveOff is the reason of the transition up when passive
	// health is turned off for a backend it had ejected.
	reasonPassiveOff = "passive health off"
)

// Status is one backend's health: the active rise/fall verdict, a passive
// failure window and an optional ejection. [Status.Healthy] is lock-free;
// every other method takes a small mutex of this Status alone. All methods
// are safe for concurrent use.
type Status struct {
	// state holds activeDownBit and ejectedBit; it is written under mu and
	// read without it.
	state atomic.Uint32

	logger *slog.Logger

	mu            sync.Mutex
	name          string
	rise, fall    int
	activeUp      bool
	activeReason  string
	reason        string
	passes, fails int
	lastProbe     time.Time
	lastResult    string
	transitions   uint64

	// failures holds the times of the passive failures in the window.
	failures []time.Time
	// passiveCount is how many failures reached the last passive threshold.
	passiveCount int

	ejected      bool
	ejectedUntil time.Time
	ejectTimer   *time.Timer
	// ejectSeq identifies the current ejection so a stale timer is ignored.
	ejectSeq uint64
	closed   bool
}

// Snapshot is a copy of a [Status] at one moment, for admin endpoints.
type Snapshot struct {
	// Healthy is what [Status.Healthy] returned.
	Healthy bool
	// Reason is why the backend is in its current state: the reason of the
	// last transition, or "starting" before the first.
	Reason string
	// ActiveHealthy is the active checks' verdict, which decides once an
	// ejection ends.
	ActiveHealthy bool
	// ConsecutivePasses and ConsecutiveFails count the current run of
	// probe results; at most one of them is nonzero.
	ConsecutivePasses, ConsecutiveFails int
	// LastProbe is when the last probe started; zero before the first.
	LastProbe time.Time
	// LastResult is the last probe's reason: "ok", "status 503",
	// "timeout", "connection refused", ...
	LastResult string
	// Ejected reports an ejection in force, until EjectedUntil.
	Ejected      bool
	EjectedUntil time.Time
	// Transitions counts the changes of Healthy since the Status was made.
	Transitions uint64
}

// NewStatus returns the Status of the backend called name, healthy, with
// the default thresholds. Transitions are logged to logger; nil discards
// them.
func NewStatus(name string, logger *slog.Logger) *Status {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Status{
		name:         name,
		logger:       logger,
		rise:         DefaultHealthyThreshold,
		fall:         DefaultUnhealthyThreshold,
		activeUp:     true,
		activeReason: reasonStarting,
		reason:       reasonStarting,
	}
}

// Name returns the backend's name: the one s was made with, or the last
// one given to [Status.SetName].
func (s *Status) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// SetName renames the backend in the records of its later transitions,
// for a backend whose address is now written another way.
func (s *Status) SetName(name string) {
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
}

// Healthy reports whether the backend may receive traffic: the active
// verdict is up and no ejection is in force. It is one atomic load.
func (s *Status) Healthy() bool {
	return s.state.Load() == 0
}

// SetThresholds sets how many consecutive passes mark the backend up and
// how many consecutive failures mark it down; values below 1 select
// [DefaultHealthyThreshold] and [DefaultUnhealthyThreshold]. [NewChecker]
// calls it with its config. The counts so far are kept and compared with
// the new thresholds at the next probe.
func (s *Status) SetThresholds(healthy, unhealthy int) {
	if healthy < 1 {
		healthy = DefaultHealthyThreshold
	}
	if unhealthy < 1 {
		unhealthy = DefaultUnhealthyThreshold
	}
	s.mu.Lock()
	s.rise, s.fall = healthy, unhealthy
	s.mu.Unlock()
}

// resetRun forgets the current run of consecutive probe results, so that
// only results recorded from now on move the active verdict.
func (s *Status) resetRun() {
	s.mu.Lock()
	s.passes, s.fails = 0, 0
	s.mu.Unlock()
}

// DisableActive is for a backend whose active checks were turned off: its
// active verdict is up again, and the run of probe results, the last probe
// and its result are forgotten. The backend is then healthy unless it is
// ejected; when that makes it healthy, the transition has the reason
// "active checks off". Stop the backend's [Checker] first, or a probe it
// still runs may record a result afterwards.
func (s *Status) DisableActive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passes, s.fails = 0, 0
	s.lastProbe, s.lastResult = time.Time{}, ""
	if !s.activeUp {
		s.activeUp, s.activeReason = true, reasonActiveOff
		s.publish(reasonActiveOff, 0)
	}
}

// DisablePassive is for a backend whose passive health was turned off: the
// failures in its window are forgotten and an ejection in force ends. When
// that makes the backend healthy, the transition has the reason "passive
// health off".
func (s *Status) DisablePassive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures, s.passiveCount = s.failures[:0], 0
	if !s.ejected {
		return
	}
	if s.ejectTimer != nil {
		s.ejectTimer.Stop()
		s.ejectTimer = nil
	}
	s.ejectSeq++
	s.ejected, s.ejectedUntil = false, time.Time{}
	if !s.activeUp {
		s.reason = s.activeReason
	}
	s.publish(reasonPassiveOff, 0)
}

// Snapshot returns a copy of the current state.
func (s *Status) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{
		Healthy:           s.state.Load() == 0,
		Reason:            s.reason,
		ActiveHealthy:     s.activeUp,
		ConsecutivePasses: s.passes,
		ConsecutiveFails:  s.fails,
		LastProbe:         s.lastProbe,
		LastResult:        s.lastResult,
		Ejected:           s.ejected,
		EjectedUntil:      s.ejectedUntil,
		Transitions:       s.transitions,
	}
}

// RecordProbe feeds one probe result to the rise/fall state machine: the
// backend goes down after the unhealthy threshold of consecutive failures
// and up after the healthy threshold of consecutive passes. A pass without
// a reason is recorded as "ok".
func (s *Status) RecordProbe(r Result) {
	if r.OK && r.Reason == "" {
		r.Reason = "ok"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastProbe, s.lastResult = r.At, r.Reason
	if r.OK {
		s.passes++
		s.fails = 0
		if !s.activeUp && s.passes >= s.rise {
			s.activeUp, s.activeReason = true, r.Reason
			s.publish(r.Reason, s.passes)
		}
		return
	}
	s.fails++
	s.passes = 0
	if s.activeUp && s.fails >= s.fall {
		s.activeUp, s.activeReason = false, r.Reason
		s.publish(r.Reason, s.fails)
	}
}

// publish stores the state that activeUp and ejected describe. When that
// changes Healthy it records the transition with reason and logs it with
// count, the consecutive results that caused it. s.mu must be held.
func (s *Status) publish(reason string, count int) {
	var next uint32
	if !s.activeUp {
		next |= activeDownBit
	}
	if s.ejected {
		next |= ejectedBit
	}
	wasHealthy := s.state.Load() == 0
	s.state.Store(next)
	healthy := next == 0
	if healthy == wasHealthy {
		return
	}
	s.transitions++
	s.reason = reason
	attrs := []any{"backend", s.name, "reason", reason, "consecutive", count}
	if healthy {
		s.logger.Info("backend up", attrs...)
		return
	}
	s.logger.Warn("backend down", attrs...)
}
