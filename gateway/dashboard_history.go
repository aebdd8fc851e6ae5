package gateway

import (
	"context"
	"sync"
	"time"
)

// The span and resolution of the dashboard's rate charts: one sample a
// second over the last five minutes.
const (
	rateStep  = time.Second
	rateSlots = 300
)

// healthEventHistory is how many health transitions the dashboard's
// timeline keeps.
const healthEventHistory = 200

// RatePoint is one sample of a pool's traffic: the requests it answered
// each second, and those among them answered with a 5xx status, over
// the interval that ended at Time.
type RatePoint struct {
	// Time is when the interval ended, in Unix seconds.
	Time int64 `json:"t"`
	// Requests and Errors are per second.
	Requests float64 `json:"requests"`
	Errors   float64 `json:"errors"`
}

// PoolRates is the traffic of one pool over the last five minutes,
// oldest sample first.
type PoolRates struct {
	Pool   string      `json:"pool"`
	Points []RatePoint `json:"points"`
}

// HealthEvent is a change of a backend's state that the dashboard's
// sampler saw: the state and reason the backend had when it looked.
type HealthEvent struct {
	Time    time.Time `json:"time"`
	Pool    string    `json:"pool"`
	Backend string    `json:"backend"`
	// State is "up" or "down", Reason why.
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// rateRing holds the last [rateSlots] samples of one pool, oldest at
// next once the ring is full.
type rateRing struct {
	points [rateSlots]RatePoint
	next   int
	full   bool
	// seen is the sample that last saw the pool in the served
	// generation.
	seen uint64
}

func (r *rateRing) add(p RatePoint) {
	r.points[r.next] = p
	r.next = (r.next + 1) % rateSlots
	if r.next == 0 {
		r.full = true
	}
}

// list returns the samples, oldest first.
func (r *rateRing) list() []RatePoint {
	if !r.full {
		return append([]RatePoint(nil), r.points[:r.next]...)
	}
	return append(append([]RatePoint(nil), r.points[r.next:]...), r.points[:r.next]...)
}

// counts are a [requestStats]' totals when last sampled.
type counts struct {
	requests, errors uint64
}

// sum adds up s: every request, and those with a 5xx status.
func (s *requestStats) sum() counts {
	var c counts
	s.each(func(code int, n uint64) {
		c.requests += n
		if code >= 500 && code < 600 {
			c.errors += n
		}
	})
	return c
}

// healthSeen is a backend's health when last sampled.
type healthSeen struct {
	transitions uint64
	seen        uint64
}

// history is what the dashboard shows of the past: each pool's request
// and error rates, and the backends' health transitions. The admin
// server's sampler fills it once a second from the counters requests
// already keep, so it costs a request nothing; it is safe for concurrent
// use.
type history struct {
	mu sync.Mutex
	// samples counts the samples taken, last is when the last was.
	samples uint64
	last    time.Time
	// pools holds the rates by pool name, in the order pools were first
	// seen; a pool that leaves the config leaves the history.
	pools map[string]*rateRing
	order []string
	// totals are the counters' totals at the last sample, by stats; a
	// stats that leaves the generation leaves totals.
	totals map[*requestStats]counts
	health map[*backend]healthSeen
	events []HealthEvent
	// tick is closed, and replaced, after each sample.
	tick chan struct{}
}

func newHistory() *history {
	return &history{
		pools:  make(map[string]*rateRing),
		totals: make(map[*requestStats]counts),
		health: make(map[*backend]healthSeen),
		tick:   make(chan struct{}),
	}
}

// sample adds what gen's counters and health say at now. The first
// sample only takes the counters' totals; each later one adds a point
// to every pool of gen with the requests since the sample before, a
// stats that appeared meanwhile counting from zero.
func (h *history) sample(gen *generation, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first := h.samples == 0
	elapsed := now.Sub(h.last).Seconds()
	h.samples++
	h.last = now
	if gen == nil {
		h.signal()
		return
	}
	totals := make(map[*requestStats]counts, len(h.totals))
	for _, p := range gen.pools {
		var delta counts
		if p.stats != nil {
			for _, s := range append(p.stats.backends[:len(p.stats.backends):len(p.stats.backends)], p.stats.refused) {
				if _, done := totals[s]; done {
					continue
				}
				c := s.sum()
				prev := h.totals[s]
				totals[s] = c
				delta.requests += c.requests - prev.requests
				delta.errors += c.errors - prev.errors
			}
		}
		ring := h.pools[p.name]
		if ring == nil {
			ring = new(rateRing)
			h.pools[p.name] = ring
			h.order = append(h.order, p.name)
		}
		ring.seen = h.samples
		if !first && elapsed > 0 {
			ring.add(RatePoint{Time: now.Unix(), Requests: float64(delta.requests) / elapsed, Errors: float64(delta.errors) / elapsed})
		}
		for _, b := range p.backends {
			h.sampleHealth(p.name, b, now)
		}
	}
	h.totals = totals
	h.forget()
	h.signal()
}

// sampleHealth records a transition of b, in pool, since the sample
// before. A backend seen for the first time has had none, unless a
// reload brought it in since the first sample and it is down already.
func (h *history) sampleHealth(pool string, b *backend, now time.Time) {
	snap := b.health.Snapshot()
	prev, known := h.health[b]
	h.health[b] = healthSeen{transitions: snap.Transitions, seen: h.samples}
	switch {
	case known && prev.transitions == snap.Transitions:
		return
	case !known && (h.samples == 1 || snap.Healthy):
		return
	}
	state := StateDown
	if snap.Healthy {
		state = StateUp
	}
	h.events = append(h.events, HealthEvent{Time: now, Pool: pool, Backend: b.name(), State: state, Reason: snap.Reason})
	if len(h.events) > healthEventHistory {
		h.events = append(h.events[:0], h.events[len(h.events)-healthEventHistory:]...)
	}
}

// forget drops the pools and backends the last sample did not see.
func (h *history) forget() {
	order := h.order[:0]
	for _, name := range h.order {
		if h.pools[name].seen == h.samples {
			order = append(order, name)
		} else {
			delete(h.pools, name)
		}
	}
	h.order = order
	for b, s := range h.health {
		if s.seen != h.samples {
			delete(h.health, b)
		}
	}
}

// signal wakes those waiting for the next sample. h.mu must be held.
func (h *history) signal() {
	close(h.tick)
	h.tick = make(chan struct{})
}

// next returns a channel closed after the next sample.
func (h *history) next() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tick
}

// snapshot returns the rates of the pools of the last sample, in the order
// they were first seen, and the health events, oldest first.
func (h *history) snapshot() ([]PoolRates, []HealthEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rates := make([]PoolRates, 0, len(h.order))
	for _, name := range h.order {
		rates = append(rates, PoolRates{Pool: name, Points: h.pools[name].list()})
	}
	return rates, append([]HealthEvent{}, h.events...)
}

// run samples g once every [rateStep] until ctx ends.
func (h *history) run(ctx context.Context, g *Gateway) {
	t := time.NewTicker(rateStep)
	defer t.Stop()
	h.sample(g.gen.Load(), time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.sample(g.gen.Load(), now)
		}
	}
}
