package gateway

import "github.com/gatewayhq/gateway/gateway/config"

// pool is a named set of backends and the algorithm that picks among them.
// A pool belongs to one [generation] and never changes once published; its
// backends are shared with other generations.
type pool struct {
	// name is the pool's name in the config.
	name string
	// algorithm is the pool's selection algorithm.
	algorithm config.Algorithm
	// backends lists the pool's backends in config order.
	backends []*backend
	// carried tells, for each backend, whether it came over from the
	// generation before.
	carried []bool

	weights  []int
	selector selector
	on5xx    bool
	stats    *poolStats // set by the metrics before the pool is published
}

// selector picks a backend of a pool. pick returns the index of a healthy
// backend whose bit is not set in tried (indexes of 64 and above are never
// excluded by tried), or -1 when there is none. client is the hash of the
// client's address, for the algorithms that use it. Implementations are
// safe for concurrent use and take no lock.
type selector interface {
	pick(p *pool, client uint64, tried uint64) int
}

// usable reports whether backend i may take a request.
func (p *pool) usable(i int, tried uint64) bool {
	if i < 64 && tried&(1<<uint(i)) != 0 {
		return false
	}
	return p.backends[i].health.Healthy()
}

// anyHealthy reports whether at least one backend of p is healthy.
func (p *pool) anyHealthy() bool {
	for _, b := range p.backends {
		if b.health.Healthy() {
			return true
		}
	}
	return false
}

// healthyOtherThan reports whether a backend of p other than b is healthy.
func (p *pool) healthyOtherThan(b *backend) bool {
	for _, o := range p.backends {
		if o != b && o.health.Healthy() {
			return true
		}
	}
	return false
}

// index returns the index of the backend with key, or -1.
func (p *pool) index(key string) int {
	for i, b := range p.backends {
		if b.key == key {
			return i
		}
	}
	return -1
}

// newSelector returns the selector for algorithm a over the pool's
// backends and weights.
func newSelector(a config.Algorithm, weights []int) selector {
	switch a {
	case config.WeightedRoundRobin:
		return newWeightedRoundRobin(weights)
	case config.LeastConnections:
		return &leastConnections{}
	case config.IPHash:
		return newRendezvous()
	default:
		return &roundRobin{}
	}
}
