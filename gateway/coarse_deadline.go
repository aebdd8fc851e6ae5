package gateway

import "time"

// maxDeadlineSlack bounds how far past its timeout a [coarseDeadline]
// may fire.
const maxDeadlineSlack = time.Second

// coarseDeadline is a connection deadline that a busy connection moves
// seldom. Arming a deadline moves a runtime timer, which costs more than
// the read or write it guards once a connection does thousands a second;
// a coarseDeadline is armed a little further than asked, a slack of an
// eighth of the timeout and at most [maxDeadlineSlack], and is moved only
// when it has come closer than the timeout, or lies further than the
// timeout and its slack (the timeout was shortened). A wait is then cut
// off after the timeout, never before, and at most the slack after.
type coarseDeadline struct {
	at time.Time // the deadline armed last; zero before the first
}

// next returns the deadline for a wait of d that starts at now, and
// whether it differs from the one armed last, so that the caller must arm
// it.
func (c *coarseDeadline) next(now time.Time, d time.Duration) (time.Time, bool) {
	slack := min(d/8, maxDeadlineSlack)
	if ahead := c.at.Sub(now); ahead >= d && ahead <= d+slack {
		return c.at, false
	}
	c.at = now.Add(d + slack)
	return c.at, true
}
