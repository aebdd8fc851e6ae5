package gateway

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// Bounds of a [rateLimiter]'s table: at most maxRateClients clients,
// spread over rateShards shards of maxRateClients/rateShards each.
const (
	maxRateClients = 100_000
	rateShards     = 64
	rateShardSize  = maxRateClients / rateShards
)

// rateLimiter is a route's rate limit: a token bucket for each client
// address, holding up to burst tokens and refilled at requestsPerSecond,
// one token a request.
//
// A bucket is kept as the time at which it would be full again (the
// generic cell rate algorithm, which is a token bucket written with one
// number): a request takes a token by moving that time one interval on,
// and is refused when that would put it more than burst intervals past
// now.
//
// The table of buckets is bounded: it holds at most maxRateClients
// clients, each shard evicting its least recently seen client for a new
// one, so a flood of distinct addresses costs bounded memory. Clients
// are sharded by a hash of the address, each shard behind its own lock,
// so that no lock is shared by all requests. A rate limiter outlives the
// generation that built it while routes keep its name and limit (see
// [compileRoutes]).
type rateLimiter struct {
	limit    config.RateLimitConfig
	interval int64 // nanoseconds a token takes to come back
	capacity int64 // burst intervals
	base     time.Time
	shards   [rateShards]rateShard
}

// rateShard is one shard of a [rateLimiter]: its clients' buckets in a
// slab, found by address, and linked from the most to the least recently
// seen.
type rateShard struct {
	mu         sync.Mutex
	index      map[[16]byte]int32
	buckets    []rateBucket
	head, tail int32 // most and least recently seen, -1 when empty
	_          [40]byte
}

// rateBucket is one client's bucket: full is when it will be full again,
// in nanoseconds since the limiter's base.
type rateBucket struct {
	addr       [16]byte
	full       int64
	prev, next int32
}

// newRateLimiter returns a rate limiter with empty tables for limit.
func newRateLimiter(limit config.RateLimitConfig) *rateLimiter {
	interval := int64(math.Ceil(float64(time.Second) / limit.RequestsPerSecond))
	l := &rateLimiter{limit: limit, interval: interval, capacity: interval * int64(limit.Burst), base: time.Now()}
	for i := range l.shards {
		l.shards[i].head, l.shards[i].tail = -1, -1
	}
	return l
}

// keeps reports whether l enforces limit, so that a route with the same
// name may go on with l's buckets. A nil l keeps nothing.
func (l *rateLimiter) keeps(limit config.RateLimitConfig) bool {
	return l != nil && l.limit == limit
}

// allow takes a token from the bucket of client, whose address hashes to
// hash, at now. When the bucket is empty it returns false and how long
// until it holds a token.
func (l *rateLimiter) allow(client netip.Addr, hash uint64, now time.Time) (bool, time.Duration) {
	t := int64(now.Sub(l.base))
	s := &l.shards[mix64(hash)>>(64-6)]
	addr := client.As16()
	s.mu.Lock()
	b := s.bucket(addr, t)
	full := max(b.full, t) + l.interval
	if over := full - t - l.capacity; over > 0 {
		s.mu.Unlock()
		return false, time.Duration(over)
	}
	b.full = full
	s.mu.Unlock()
	return true, 0
}

// bucket returns the bucket of addr, made the most recently seen; a new
// client gets a full bucket (full at t), taking the place of the least
// recently seen one when the shard is full.
func (s *rateShard) bucket(addr [16]byte, t int64) *rateBucket {
	if i, ok := s.index[addr]; ok {
		s.touch(i)
		return &s.buckets[i]
	}
	if s.index == nil {
		s.index = make(map[[16]byte]int32)
	}
	var i int32
	if len(s.buckets) < rateShardSize {
		i = int32(len(s.buckets))
		s.buckets = append(s.buckets, rateBucket{prev: -1, next: -1})
	} else {
		i = s.tail
		s.unlink(i)
		delete(s.index, s.buckets[i].addr)
	}
	s.buckets[i] = rateBucket{addr: addr, full: t, prev: -1, next: -1}
	s.index[addr] = i
	s.pushFront(i)
	return &s.buckets[i]
}

// touch makes bucket i the most recently seen.
func (s *rateShard) touch(i int32) {
	if s.head != i {
		s.unlink(i)
		s.pushFront(i)
	}
}

// unlink takes bucket i out of the recency list.
func (s *rateShard) unlink(i int32) {
	b := &s.buckets[i]
	if b.prev >= 0 {
		s.buckets[b.prev].next = b.next
	} else {
		s.head = b.next
	}
	if b.next >= 0 {
		s.buckets[b.next].prev = b.prev
	} else {
		s.tail = b.prev
	}
	b.prev, b.next = -1, -1
}

// pushFront puts bucket i at the head of the recency list.
func (s *rateShard) pushFront(i int32) {
	b := &s.buckets[i]
	b.prev, b.next = -1, s.head
	if s.head >= 0 {
		s.buckets[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}

// clients returns how many clients the table holds.
func (l *rateLimiter) clients() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}

// retryAfter is the Retry-After of a request refused for wait: whole
// seconds, rounded up, at least 1.
func retryAfter(wait time.Duration) int64 {
	return max(1, int64((wait+time.Second-1)/time.Second))
}
