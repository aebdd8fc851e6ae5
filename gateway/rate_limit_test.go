package gateway

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// allowAt asks l for a token of client at the limiter's base plus at.
func allowAt(l *rateLimiter, client netip.Addr, at time.Duration) (bool, time.Duration) {
	return l.allow(client, clientHash(client), l.base.Add(at))
}

func TestRateLimiterTokenBucket(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	type step struct {
		at      time.Duration
		ok      bool
		retry   int64 // Retry-After when refused
		comment string
	}
	tests := []struct {
		name  string
		limit config.RateLimitConfig
		steps []step
	}{
		{"burst then one a second", config.RateLimitConfig{RequestsPerSecond: 1, Burst: 3}, []step{
			{0, true, 0, "full bucket"},
			{0, true, 0, ""},
			{0, true, 0, "burst used"},
			{0, false, 1, "a token in 1s"},
			{999 * time.Millisecond, false, 1, "rounded up, at least 1"},
			{time.Second, true, 0, "one token back"},
			{time.Second, false, 1, ""},
			{10 * time.Second, true, 0, "refilled to the burst, no more"},
			{10 * time.Second, true, 0, ""},
			{10 * time.Second, true, 0, ""},
			{10 * time.Second, false, 1, ""},
		}},
		{"slow rate", config.RateLimitConfig{RequestsPerSecond: 0.25, Burst: 1}, []step{
			{0, true, 0, ""},
			{0, false, 4, "4s until the next token"},
			{1500 * time.Millisecond, false, 3, "2.5s rounded up"},
			{3999 * time.Millisecond, false, 1, ""},
			{4 * time.Second, true, 0, ""},
		}},
		{"fast rate", config.RateLimitConfig{RequestsPerSecond: 1000, Burst: 2}, []step{
			{0, true, 0, ""},
			{0, true, 0, ""},
			{0, false, 1, "1ms is still 1s"},
			{time.Millisecond, true, 0, ""},
		}},
	}
	for _, tt := range tests {
		l := newRateLimiter(tt.limit)
		for i, s := range tt.steps {
			ok, wait := allowAt(l, a, s.at)
			if ok != s.ok || !ok && retryAfter(wait) != s.retry {
				t.Errorf("%s: step %d at %v (%s): allowed %v, Retry-After %d; want %v, %d", tt.name, i, s.at, s.comment, ok, retryAfter(wait), s.ok, s.retry)
			}
		}
	}
}

// sameShard returns n distinct addresses that fall in the same shard.
func sameShard(n int) []netip.Addr {
	var out []netip.Addr
	for i := uint32(0); len(out) < n; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if mix64(clientHash(a))>>(64-6) == 0 {
			out = append(out, a)
		}
	}
	return out
}

// TestRateLimiterEvictsLeastRecentlySeen fills a shard and checks that the
// client seen least recently loses its bucket first, and only then.
func TestRateLimiterEvictsLeastRecentlySeen(t *testing.T) {
	l := newRateLimiter(config.RateLimitConfig{RequestsPerSecond: 0.001, Burst: 1})
	addrs := sameShard(rateShardSize + 2)
	old, recent, others := addrs[0], addrs[1], addrs[2:]
	allowAt(l, old, 0)
	allowAt(l, recent, 0)
	for _, a := range others[:rateShardSize-2] {
		allowAt(l, a, 0)
	}
	// The shard is full; recent is seen again, which keeps it.
	if ok, _ := allowAt(l, recent, 0); ok {
		t.Fatal("recent got a second token")
	}
	allowAt(l, others[rateShardSize-2], 0) // evicts old, the least recently seen
	if ok, _ := allowAt(l, recent, 0); ok {
		t.Error("recent lost its bucket, though seen more recently than old")
	}
	if ok, _ := allowAt(l, old, 0); !ok {
		t.Error("old kept its bucket, though it was the least recently seen")
	}
	if n := l.clients(); n != rateShardSize {
		t.Errorf("the shard holds %d clients, want %d", n, rateShardSize)
	}
}

// TestRateLimiterMemoryBounded floods a limiter with 1,000,000 distinct
// client addresses: it keeps 100,000 at most, and its memory stays
// bounded.
func TestRateLimiterMemoryBounded(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := newRateLimiter(config.RateLimitConfig{RequestsPerSecond: 1, Burst: 1})
	now := time.Now()
	for i := range 1_000_000 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
		l.allow(a, clientHash(a), now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := l.clients(); n != rateShards*rateShardSize || n > maxRateClients {
		t.Errorf("the table holds %d clients, want %d", n, rateShards*rateShardSize)
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %.1f MiB for 1,000,000 clients", float64(grown)/(1<<20))
	// About 100 bytes a bucket with its index entry: 10 MiB; 32 MiB is
	// the bound.
	if grown > 32<<20 {
		t.Errorf("heap grew %d bytes; a bounded table stays under 32 MiB", grown)
	}
	runtime.KeepAlive(l)
}

// TestRateLimiterConcurrent takes tokens of one client from many
// goroutines: exactly the burst is allowed.
func TestRateLimiterConcurrent(t *testing.T) {
	l := newRateLimiter(config.RateLimitConfig{RequestsPerSecond: 0.001, Burst: 50})
	a := netip.MustParseAddr("2001:db8::1")
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := l.allow(a, clientHash(a), time.Now()); ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 50 {
		t.Errorf("%d requests allowed, want the burst of 50", n)
	}
}

func BenchmarkRateLimiterParallel(b *testing.B) {
	l := newRateLimiter(config.RateLimitConfig{RequestsPerSecond: 1e6, Burst: 1e6})
	var seq atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(1)
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		h := clientHash(a)
		for pb.Next() {
			l.allow(a, h, time.Now())
		}
	})
}
