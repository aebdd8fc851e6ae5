// Package health tracks whether each backend of the gateway may receive
// traffic, from active probes and from failures of proxied requests.
//
// # State
//
// A [Status] holds one backend's health. Selection algorithms call
// [Status.Healthy] on every request; it is a single atomic load, takes no
// lock, reads no clock and allocates nothing. Everything else (counters,
// reasons, the passive window, the ejection timer) lives behind a small
// per-backend mutex that the request path never touches.
//
// A backend is healthy when two verdicts agree: the active verdict says up
// and the backend is not ejected.
//
// # Active checks
//
// The active verdict is a rise/fall state machine in the manner of HAProxy,
// fed one probe [Result] at a time by [Status.RecordProbe]:
//
//	         UnhealthyThreshold consecutive failures
//	  +------------------------------------------------+
//	  |                                                v
//	[ UP ] (initial)                                [ DOWN ]
//	  ^                                                |
//	  +------------------------------------------------+
//	           HealthyThreshold consecutive passes
//
// A pass resets the failure count and a failure resets the pass count, so
// only an unbroken run moves the verdict. A backend starts up, so a new
// backend takes traffic at once, and its [Checker] probes it immediately on
// [Checker.Start], then every interval with ±10% jitter so that the backends
// of a pool are not probed in lockstep. Each probe is bounded by the check's
// timeout; a probe that runs out of time fails with the reason "timeout".
//
// [NewHTTPProber] builds the usual [Prober]: one request with the configured
// method and path on a fresh connection, redirects not followed, the status
// checked against inclusive [StatusRange] values (200-399 by default), and
// transport errors reduced to short reasons such as "connection refused",
// "connection reset" and "timeout".
//
// # Passive checks
//
// The gateway reports each proxied request that failed before a response
// (connect failure, timeout, reset) with [Status.ReportFailure]. When
// [PassiveConfig.MaxFails] such failures fall within [PassiveConfig.Window]
// the call returns true and the window starts afresh. Reaching the threshold
// does not eject by itself: the gateway first checks that the backend is not
// the last healthy one of its pool and then calls [Status.Eject]. An ejected
// backend is down for the ejection's duration whatever the probes say; when
// the ejection ends its health is the active verdict again, which the
// probes kept up to date meanwhile.
//
// # Changed settings
//
// Health belongs to the backend, not to the settings it is checked with. A
// backend whose probe settings change keeps its Status: its [Checker] is
// stopped and a new one made with [NewChecker], which keeps the verdict and
// forgets the current run of results, so a down backend comes up only after
// HealthyThreshold passes under the new settings. [Status.DisableActive]
// turns the active verdict up for a backend whose probing was turned off,
// and [Status.DisablePassive] ends the ejection of one whose passive health
// was turned off. A change of the passive thresholds needs no call: the
// failures in the window are kept and counted against the [PassiveConfig]
// of the next [Status.ReportFailure], and an ejection in force runs its
// course.
//
// # Transitions
//
// Every change of [Status.Healthy] is one transition: it increments
// [Snapshot.Transitions] and writes exactly one log record ("backend down"
// at warn level, "backend up" at info level) carrying the backend's name,
// the reason ("status 503", "timeout", "passive: 3 failures within 10s",
// "ejection expired", ...) and the consecutive count that caused it. A
// verdict that changes while the backend is ejected is not a transition
// and is not logged; it shows in [Snapshot.ActiveHealthy].
//
// # Lifetimes
//
// A [Checker] runs its probes on a [Scheduler]: one timer for the next
// probe due, a heap of the Checkers by the time of their next probe, and
// at most a fixed number of prober goroutines, which exist only while
// probes are due. Ten thousand Checkers on one Scheduler take ten thousand
// heap entries, not ten thousand goroutines and timers. [NewChecker] gives
// a Checker a Scheduler of its own; [Scheduler.NewChecker] shares one.
// [Checker.Stop] takes the Checker out of the schedule, cancels a probe in
// flight and returns only after it has finished. [Status.Close] stops an
// ejection timer. Neither leaves anything running behind it.
package health
