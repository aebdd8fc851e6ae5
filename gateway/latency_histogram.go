package gateway

import (
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds of the request duration histogram:
// Prometheus's default buckets, 5 ms to 10 s.
var latencyBuckets = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second,
}

// latencyHistogram is a lock-free histogram of request durations: one
// atomic count per bucket (not cumulative; the last one is +Inf) and the
// sum in nanoseconds.
type latencyHistogram struct {
	counts  [len(latencyBuckets) + 1]atomic.Uint64
	sumNano atomic.Uint64
}

// observe adds one duration.
func (h *latencyHistogram) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	for i < len(latencyBuckets) && d > latencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNano.Add(uint64(d))
}

// snapshot returns the total count, the sum in seconds and the cumulative
// count of each bucket keyed by its upper bound in seconds, as
// [prometheus.NewConstHistogram] takes them.
func (h *latencyHistogram) snapshot() (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(latencyBuckets))
	for i, le := range latencyBuckets {
		count += h.counts[i].Load()
		buckets[le.Seconds()] = count
	}
	count += h.counts[len(latencyBuckets)].Load()
	return count, float64(h.sumNano.Load()) / float64(time.Second), buckets
}
