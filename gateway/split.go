package gateway

import (
	"math"
	"slices"

	"github.com/gatewayhq/gateway/gateway/config"
)

// split is a route's weighted split of its requests over several pools.
// Each pool keeps its own algorithm and health; a pool with no healthy
// backend gives its share to the others.
//
// Without sticky, the pools take turns by nginx's smooth weighted
// round-robin, the schedule of a [weightedRoundRobin] walked with one
// atomic counter: weights 95:5 give exactly 950:50 over 1000 requests,
// with no lock. With sticky, weighted rendezvous hashing of the client's
// address chooses: every pool scores the client by a hash of both,
// scaled by the pool's weight, and the best score wins. A client then
// stays on its pool while the weights stay the same, and when a pool's
// weight grows only clients move onto it, none off it.
type split struct {
	pools   []*pool
	names   []string
	weights []int
	sticky  bool
	// hashes are the pools' hashes for rendezvous, by name.
	hashes []uint64
	turns  *weightedRoundRobin
}

// newSplit compiles the split over parts, with pools from poolNamed.
func newSplit(parts []config.PoolWeight, sticky bool, poolNamed func(string) *pool) *split {
	s := &split{sticky: sticky}
	for _, pw := range parts {
		s.pools = append(s.pools, poolNamed(pw.Pool))
		s.names = append(s.names, pw.Pool)
		s.weights = append(s.weights, pw.Weight)
		s.hashes = append(s.hashes, fnv64([]byte(pw.Pool)))
	}
	s.turns = newWeightedRoundRobin(s.weights)
	return s
}

// continueFrom takes over old's rotation when old splits over the same
// pools with the same weights, so that a reload that leaves the split
// alone does not restart its schedule.
func (s *split) continueFrom(old *split) {
	if slices.Equal(s.names, old.names) && slices.Equal(s.weights, old.weights) {
		s.turns = old.turns
	}
}

// pick returns the pool for a request from the client whose address
// hashes to client: one with a healthy backend when there is any, else
// the one the split would choose, whose pool then answers 503.
func (s *split) pick(client uint64) *pool {
	if s.sticky {
		if i := s.rendezvous(client, true); i >= 0 {
			return s.pools[i]
		}
		return s.pools[s.rendezvous(client, false)]
	}
	if i := s.turns.take(s.weights, func(i int) bool { return s.pools[i].anyHealthy() }); i >= 0 {
		return s.pools[i]
	}
	return s.pools[s.turns.take(s.weights, func(int) bool { return true })]
}

// rendezvous returns the pool, among those with a weight above 0 (and a
// healthy backend when healthy is set), that scores the client highest,
// or -1. A pool's score is -weight/ln(u), u being a uniform hash of the
// client and the pool in (0, 1): the chance that a pool wins is its
// share of the weights.
func (s *split) rendezvous(client uint64, healthy bool) int {
	best, bestScore := -1, 0.0
	for i, w := range s.weights {
		if w == 0 || healthy && !s.pools[i].anyHealthy() {
			continue
		}
		u := (float64(mix64(client^s.hashes[i])>>11) + 0.5) / (1 << 53)
		if score := -float64(w) / math.Log(u); best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}
