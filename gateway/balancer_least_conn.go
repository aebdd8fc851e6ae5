package gateway

import "sync/atomic"

// leastConnections picks the backend with the fewest requests in flight
// through this gateway. The scan starts at a rotating offset, so backends
// with equal counts take turns instead of the first one taking all.
type leastConnections struct {
	next atomic.Uint64
}

var _ selector = (*leastConnections)(nil)

func (l *leastConnections) pick(p *pool, _ uint64, tried uint64) int {
	n := len(p.backends)
	if n == 0 {
		return -1 // a resolved server's name without addresses
	}
	start := int((l.next.Add(1) - 1) % uint64(n))
	best, bestLoad := -1, int64(0)
	for k := range n {
		i := start + k
		if i >= n {
			i -= n
		}
		if !p.usable(i, tried) {
			continue
		}
		if load := p.backends[i].inFlight.Load(); best < 0 || load < bestLoad {
			best, bestLoad = i, load
		}
	}
	return best
}
