package gateway

import (
	"testing"

	"github.com/gatewayhq/gateway/gateway/config"
)

// pw is a pool of a split and its weight.
func pw(name string, weight int) config.PoolWeight {
	return config.PoolWeight{Pool: name, Weight: weight}
}

// splitOf builds a split over pools with one healthy backend each, named
// by parts.
func splitOf(parts []config.PoolWeight, sticky bool) *split {
	return newSplit(parts, sticky, func(name string) *pool {
		p := testPool(config.RoundRobin, 1)
		p.name = name
		return p
	})
}

func TestSplitSmoothAndExact(t *testing.T) {
	s := splitOf([]config.PoolWeight{pw("stable", 95), pw("canary", 5)}, false)
	counts := map[string]int{}
	last := ""
	for i := range 1000 {
		name := s.pick(0).name
		counts[name]++
		if name == "canary" && last == "canary" {
			t.Fatalf("pick %d: the canary twice in a row", i)
		}
		last = name
	}
	if counts["stable"] != 950 || counts["canary"] != 50 {
		t.Errorf("1000 picks: %v, want 950:50", counts)
	}
}

func TestSplitContinuesRotation(t *testing.T) {
	parts := []config.PoolWeight{pw("a", 1), pw("b", 1)}
	old := splitOf(parts, false)
	old.pick(0)
	same := splitOf(parts, false)
	same.continueFrom(old)
	if same.turns != old.turns || same.pick(0).name != "b" {
		t.Error("a split with the same pools and weights did not go on with the old rotation")
	}
	changed := splitOf([]config.PoolWeight{pw("a", 2), pw("b", 1)}, false)
	changed.continueFrom(old)
	if changed.turns == old.turns {
		t.Error("a split with new weights took the old rotation")
	}
}

func TestSplitSkipsPoolWithoutHealthyBackend(t *testing.T) {
	for _, sticky := range []bool{false, true} {
		s := splitOf([]config.PoolWeight{pw("stable", 1), pw("canary", 99)}, sticky)
		setDown(s.pools[1], 0)
		for i := range 200 {
			if p := s.pick(uint64(i) * 0x9e3779b97f4a7c15); p.name != "stable" {
				t.Fatalf("sticky %v: pick %d went to %s, whose backend is down", sticky, i, p.name)
			}
		}
		setDown(s.pools[0], 0)
		if p := s.pick(1); p == nil {
			t.Fatalf("sticky %v: no pool when every pool is down; want one, to answer 503", sticky)
		}
	}
}

// TestSplitStickyMovesOnlyOntoGrownPool checks weighted rendezvous
// hashing over many clients: the shares follow the weights, and growing
// one pool's weight moves clients onto it and never off it.
func TestSplitStickyMovesOnlyOntoGrownPool(t *testing.T) {
	const clients = 100_000
	steps := [][]config.PoolWeight{
		{pw("stable", 95), pw("canary", 5), pw("other", 0)},
		{pw("stable", 75), pw("canary", 25), pw("other", 0)},
		{pw("stable", 75), pw("canary", 25), pw("other", 25)},
		{pw("stable", 0), pw("canary", 25), pw("other", 25)},
	}
	// What each step changes: the pool whose weight grew, which may gain
	// clients, and the pool whose weight dropped to 0, which loses them.
	grown := []string{"", "canary", "other", ""}
	dropped := []string{"", "", "", "stable"}
	prev := make([]string, clients)
	for k, parts := range steps {
		s := splitOf(parts, true)
		counts := map[string]int{}
		for c := range clients {
			name := s.pick(mix64(uint64(c))).name
			counts[name]++
			if k > 0 && name != prev[c] && name != grown[k] && prev[c] != dropped[k] {
				t.Fatalf("step %d: client %d moved from %s to %s", k, c, prev[c], name)
			}
			prev[c] = name
		}
		total := 0
		for _, pw := range parts {
			total += pw.Weight
		}
		for _, pw := range parts {
			want := clients * pw.Weight / total
			if got := counts[pw.Pool]; got < want-clients/100 || got > want+clients/100 {
				t.Errorf("step %d: %s has %d clients, want about %d", k, pw.Pool, got, want)
			}
		}
	}
}
