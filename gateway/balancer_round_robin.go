package gateway

import "sync/atomic"

// roundRobin picks backends in list order. Each pick takes the next slot of
// one atomic counter; a slot whose backend is unhealthy is given up and the
// next one taken, so the healthy backends share the load evenly, and N
// picks over N healthy backends hit each exactly once, also under
// concurrency. A pick never fails while a usable backend exists.
type roundRobin struct {
	next atomic.Uint64
}

var _ selector = (*roundRobin)(nil)

func (r *roundRobin) pick(p *pool, _ uint64, tried uint64) int {
	n := uint64(len(p.backends))
	var slot uint64
	for range n {
		slot = r.next.Add(1) - 1
		if i := int(slot % n); p.usable(i, tried) {
			return i
		}
	}
	// Other picks took slots in between, so the slots given up may have
	// missed the one healthy backend: look at each once.
	for k := range n {
		if i := int((slot + k) % n); p.usable(i, tried) {
			return i
		}
	}
	return -1
}
