package health

import "time"

// reasonEjectionExpired is the reason of the transition back up when an
// ejection ends and the active verdict is up.
const reasonEjectionExpired = "ejection expired"

// ReportFailure records a proxied request to the backend that failed before
// a response (connect failure, timeout, reset) at now. It returns true when
// cfg.MaxFails failures fall within cfg.Window, and then empties the window
// so that the next threshold needs MaxFails new failures. Reaching the
// threshold ejects nothing: the caller decides whether to call
// [Status.Eject]. With cfg.MaxFails 0 it records nothing and returns false.
func (s *Status) ReportFailure(now time.Time, cfg PassiveConfig) bool {
	if cfg.MaxFails <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.failures[:0]
	for _, t := range s.failures {
		if cfg.Window <= 0 || now.Sub(t) < cfg.Window {
			kept = append(kept, t)
		}
	}
	s.failures = append(kept, now)
	if len(s.failures) < cfg.MaxFails {
		return false
	}
	s.passiveCount = len(s.failures)
	s.failures = s.failures[:0]
	return true
}

// Eject takes the backend out of traffic for d whatever the probes say, for
// reason (see [PassiveConfig.Reason]). When d has passed the backend's
// health is the active verdict again. Ejecting an ejected backend extends
// the ejection when d reaches further; it is not a new transition. Eject
// does nothing when d is not positive or after [Status.Close].
func (s *Status) Eject(d time.Duration, reason string) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (s.ejected && !until.After(s.ejectedUntil)) {
		return
	}
	if s.ejectTimer != nil {
		s.ejectTimer.Stop()
	}
	s.ejectSeq++
	seq := s.ejectSeq
	s.ejectTimer = time.AfterFunc(d, func() { s.endEjection(seq) })
	s.ejectedUntil = until
	if s.ejected {
		return
	}
	s.ejected = true
	s.publish(reason, s.passiveCount)
	s.passiveCount = 0
}

// endEjection ends the ejection numbered seq unless a later one replaced it.
func (s *Status) endEjection(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq != s.ejectSeq || !s.ejected {
		return
	}
	s.ejected = false
	s.ejectedUntil = time.Time{}
	s.ejectTimer = nil
	if !s.activeUp {
		// Still down: the active verdict explains why from now on.
		s.reason = s.activeReason
	}
	s.publish(reasonEjectionExpired, s.passes)
}

// Close stops the ejection timer, if any, leaving the state as it is; later
// calls to [Status.Eject] do nothing. Close is idempotent.
func (s *Status) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.ejectTimer != nil {
		s.ejectTimer.Stop()
		s.ejectTimer = nil
	}
	// A timer that fired before Stop and waits for mu must not end the
	// ejection after Close.
	s.ejectSeq++
}
