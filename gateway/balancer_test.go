package gateway

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/gatewayhq/gateway/gateway/config"
	"github.com/gatewayhq/gateway/health"
)

// testPool builds a pool of n backends named b0..b(n-1) with weights.
func testPool(a config.Algorithm, weights ...int) *pool {
	p := &pool{name: "p", algorithm: a}
	for i, w := range weights {
		url := fmt.Sprintf("http://b%d:80", i)
		b := &backend{key: "p " + url, hash: fnv64([]byte(url)), health: health.NewStatus(url, nil)}
		b.settings.Store(&backendSettings{url: url})
		p.backends = append(p.backends, b)
		p.weights = append(p.weights, w)
		p.carried = append(p.carried, false)
	}
	p.selector = newSelector(a, p.weights)
	return p
}

func ones(n int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// setDown marks backend i down through its health state.
func setDown(p *pool, i int) {
	p.backends[i].health.Eject(1<<40, "test")
}

func TestRoundRobinStrictOrder(t *testing.T) {
	p := testPool(config.RoundRobin, ones(3)...)
	var got []int
	for range 7 {
		got = append(got, p.selector.pick(p, 0, 0))
	}
	want := []int{0, 1, 2, 0, 1, 2, 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
}

func TestRoundRobinSkipsUnhealthyEvenly(t *testing.T) {
	p := testPool(config.RoundRobin, ones(3)...)
	setDown(p, 1)
	counts := make([]int, 3)
	for range 600 {
		counts[p.selector.pick(p, 0, 0)]++
	}
	if counts[0] != 300 || counts[1] != 0 || counts[2] != 300 {
		t.Fatalf("counts = %v, want [300 0 300]", counts)
	}
}

func TestRoundRobinExactUnderConcurrency(t *testing.T) {
	for _, a := range []config.Algorithm{config.RoundRobin, config.WeightedRoundRobin} {
		t.Run(string(a), func(t *testing.T) {
			p := testPool(a, ones(4)...)
			const workers, each = 8, 500
			counts := make([][]int, workers)
			var wg sync.WaitGroup
			for w := range workers {
				counts[w] = make([]int, 4)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						counts[w][p.selector.pick(p, 0, 0)]++
					}
				}()
			}
			wg.Wait()
			total := make([]int, 4)
			for _, c := range counts {
				for i, n := range c {
					total[i] += n
				}
			}
			for i, n := range total {
				if n != workers*each/4 {
					t.Fatalf("backend %d got %d of %d picks, want exactly %d (%v)", i, n, workers*each, workers*each/4, total)
				}
			}
		})
	}
}

func TestRoundRobinTried(t *testing.T) {
	p := testPool(config.RoundRobin, ones(3)...)
	if i := p.selector.pick(p, 0, 0b011); i != 2 {
		t.Fatalf("pick with 0 and 1 tried = %d, want 2", i)
	}
	if i := p.selector.pick(p, 0, 0b111); i != -1 {
		t.Fatalf("pick with all tried = %d, want -1", i)
	}
}

func TestSmoothWeightedRoundRobin(t *testing.T) {
	tests := []struct {
		weights []int
		period  string
	}{
		{[]int{3, 1}, "[0 0 1 0]"},
		{[]int{5, 1, 1}, "[0 0 1 0 2 0 0]"},
		{[]int{1, 1}, "[0 1]"},
		{[]int{2, 0, 2}, "[0 2]"},
		{[]int{6, 2}, "[0 0 1 0]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(smoothSchedule(tt.weights)); got != tt.period {
			t.Errorf("smoothSchedule(%v) = %s, want %s", tt.weights, got, tt.period)
		}
	}
}

func TestWeightedRoundRobinSplitsExactly(t *testing.T) {
	p := testPool(config.WeightedRoundRobin, 3, 1)
	counts := make([]int, 2)
	prev := -1
	for n := range 400 {
		i := p.selector.pick(p, 0, 0)
		if i == 1 && prev == 1 {
			t.Fatalf("light backend picked twice in a row at pick %d", n)
		}
		counts[i]++
		prev = i
	}
	if counts[0] != 300 || counts[1] != 100 {
		t.Fatalf("counts = %v, want [300 100]", counts)
	}
}

func TestWeightedRoundRobinZeroWeightDrains(t *testing.T) {
	p := testPool(config.WeightedRoundRobin, 1, 0, 1)
	for range 100 {
		if i := p.selector.pick(p, 0, 0); i == 1 {
			t.Fatal("weight 0 backend was picked")
		}
	}
	setDown(p, 0)
	setDown(p, 2)
	if i := p.selector.pick(p, 0, 0); i != -1 {
		t.Fatalf("pick with only a weight-0 backend healthy = %d, want -1", i)
	}
}

func TestWeightedRoundRobinReachesLightWhenHeavyDown(t *testing.T) {
	p := testPool(config.WeightedRoundRobin, 100, 1)
	setDown(p, 0)
	for range 10 {
		if i := p.selector.pick(p, 0, 0); i != 1 {
			t.Fatalf("pick = %d, want the light backend 1", i)
		}
	}
}

func TestScaledWeightsBoundSchedule(t *testing.T) {
	s := smoothSchedule([]int{1000000, 999999, 1})
	if len(s) > maxSchedule+3 || len(s) == 0 {
		t.Fatalf("schedule length %d, want at most %d", len(s), maxSchedule)
	}
}

func TestLeastConnections(t *testing.T) {
	p := testPool(config.LeastConnections, ones(3)...)
	p.backends[0].inFlight.Store(1) // a slow request holds b0
	for range 10 {
		if i := p.selector.pick(p, 0, 0); i == 0 {
			t.Fatal("backend holding a request got a new one while others had none")
		}
	}
	// Equal loads take turns.
	p.backends[0].inFlight.Store(0)
	counts := make([]int, 3)
	for range 300 {
		counts[p.selector.pick(p, 0, 0)]++
	}
	if counts[0] != 100 || counts[1] != 100 || counts[2] != 100 {
		t.Fatalf("counts = %v, want [100 100 100]", counts)
	}
}

func clientOf(i int) uint64 {
	return clientHash(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
}

func TestIPHashStableAndMinimalMovement(t *testing.T) {
	const clients = 10000
	p4 := testPool(config.IPHash, ones(4)...)
	before := make([]int, clients)
	counts := make([]int, 4)
	for c := range clients {
		before[c] = p4.selector.pick(p4, clientOf(c), 0)
		counts[before[c]]++
		if again := p4.selector.pick(p4, clientOf(c), 0); again != before[c] {
			t.Fatalf("client %d went to %d then %d", c, before[c], again)
		}
	}
	for i, n := range counts {
		if n < clients/4*8/10 || n > clients/4*12/10 {
			t.Errorf("backend %d has %d of %d clients, want about %d", i, n, clients, clients/4)
		}
	}
	// Adding a fifth backend moves only the clients it wins (about 1/5).
	p5 := testPool(config.IPHash, ones(5)...)
	moved := 0
	for c := range clients {
		if after := p5.selector.pick(p5, clientOf(c), 0); after != before[c] {
			if after != 4 {
				t.Fatalf("client %d moved from %d to %d, not to the new backend", c, before[c], after)
			}
			moved++
		}
	}
	if moved < clients/5*8/10 || moved > clients/5*12/10 {
		t.Errorf("%d of %d clients moved, want about %d", moved, clients, clients/5)
	}
	// A backend going down spreads its clients and they come back.
	setDown(p4, 2)
	for c := range clients {
		got := p4.selector.pick(p4, clientOf(c), 0)
		if before[c] != 2 && got != before[c] {
			t.Fatalf("client %d of a healthy backend moved from %d to %d", c, before[c], got)
		}
		if got == 2 {
			t.Fatal("client sent to the down backend")
		}
	}
}

func BenchmarkSelect(b *testing.B) {
	for _, a := range []config.Algorithm{config.RoundRobin, config.WeightedRoundRobin, config.LeastConnections, config.IPHash} {
		b.Run(string(a), func(b *testing.B) {
			p := testPool(a, 3, 2, 1, 1)
			client := clientOf(7)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if p.selector.pick(p, client, 0) < 0 {
						b.Fatal("no pick")
					}
				}
			})
		})
	}
}

// TestPickNeverFailsWhileOneIsHealthy guards against a pick giving up while
// a usable backend exists, which concurrent picks taking slots in between
// once made round_robin do.
func TestPickNeverFailsWhileOneIsHealthy(t *testing.T) {
	for _, a := range []config.Algorithm{config.RoundRobin, config.WeightedRoundRobin, config.LeastConnections, config.IPHash} {
		t.Run(string(a), func(t *testing.T) {
			p := testPool(a, ones(3)...)
			setDown(p, 0)
			setDown(p, 2)
			var wg sync.WaitGroup
			var failed sync.Map
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20000 {
						if i := p.selector.pick(p, clientOf(w), 0); i != 1 {
							failed.Store(i, true)
						}
					}
				}()
			}
			wg.Wait()
			failed.Range(func(k, _ any) bool {
				t.Errorf("a pick returned %v while backend 1 was healthy", k)
				return true
			})
		})
	}
}
