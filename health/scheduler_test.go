package health

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// countingProber counts the probes of many Checkers: how many run at once
// at most, and when each Checker's probes started.
type countingProber struct {
	mu      sync.Mutex
	now     int
	most    int
	starts  map[string][]time.Time
	holdFor time.Duration
}

func (p *countingProber) prober(name string) Prober {
	return proberFunc(func(ctx context.Context) Result {
		p.mu.Lock()
		p.now++
		p.most = max(p.most, p.now)
		p.starts[name] = append(p.starts[name], time.Now())
		p.mu.Unlock()
		if p.holdFor > 0 {
			select {
			case <-time.After(p.holdFor):
			case <-ctx.Done():
			}
		}
		p.mu.Lock()
		p.now--
		p.mu.Unlock()
		return pass()
	})
}

func TestSchedulerBoundsProbesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const checkers, probers = 200, 8
		p := &countingProber{starts: make(map[string][]time.Time), holdFor: 10 * time.Millisecond}
		s := NewScheduler(probers)
		var all []*Checker
		for i := range checkers {
			name := fmt.Sprint("b", i)
			c := s.NewChecker(NewStatus(name, nil), p.prober(name), CheckConfig{Interval: time.Second})
			c.Start()
			all = append(all, c)
		}
		if n := s.Checkers(); n != checkers {
			t.Fatalf("Checkers() = %d after %d Starts", n, checkers)
		}
		time.Sleep(10 * time.Second)
		for _, c := range all {
			c.Stop()
		}
		synctest.Wait()
		if n := s.Checkers(); n != 0 {
			t.Fatalf("Checkers() = %d after every Stop, want 0", n)
		}
		if checkerRunning(t) {
			t.Fatal("a prober goroutine is left after every Checker stopped")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.most != probers {
			t.Fatalf("at most %d probes ran at once, want %d", p.most, probers)
		}
		// 200 probes of 10ms on 8 probers take 250ms a round: every
		// Checker is probed about every 1.25s in 10s.
		for name, starts := range p.starts {
			if len(starts) < 7 || len(starts) > 11 {
				t.Fatalf("%s was probed %d times in 10s, want 7 to 11", name, len(starts))
			}
		}
	})
}

func TestSchedulerKeepsEachCheckersJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const checkers, interval = 300, 2 * time.Second
		p := &countingProber{starts: make(map[string][]time.Time)}
		s := NewScheduler(4)
		var all []*Checker
		for i := range checkers {
			name := fmt.Sprint("b", i)
			c := s.NewChecker(NewStatus(name, nil), p.prober(name), CheckConfig{Interval: interval})
			c.Start()
			all = append(all, c)
		}
		time.Sleep(50 * interval)
		for _, c := range all {
			c.Stop()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		lo, hi := interval, interval
		for name, starts := range p.starts {
			if len(starts) < 46 || len(starts) > 56 {
				t.Fatalf("%s was probed %d times in 50 intervals, want 46 to 56", name, len(starts))
			}
			for i := 1; i < len(starts); i++ {
				gap := starts[i].Sub(starts[i-1])
				if gap < interval*9/10 || gap > interval*11/10 {
					t.Fatalf("%s: gap %d is %v, want within ±10%% of %v", name, i, gap, interval)
				}
				lo, hi = min(lo, gap), max(hi, gap)
			}
		}
		if lo > interval*91/100 || hi < interval*109/100 {
			t.Fatalf("gaps span %v..%v, want jitter spread over ±10%%", lo, hi)
		}
	})
}

func TestSchedulerKeepsCheckersApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(1)
		statuses := map[string]*Status{}
		var all []*Checker
		for _, name := range []string{"b0", "b1", "b2"} {
			st := NewStatus(name, nil)
			statuses[name] = st
			p := proberFunc(func(context.Context) Result {
				if name == "b1" {
					return fail("status 503")
				}
				return pass()
			})
			c := s.NewChecker(st, p, CheckConfig{Interval: time.Second, UnhealthyThreshold: 3})
			c.Start()
			all = append(all, c)
		}
		time.Sleep(10 * time.Second)
		for _, c := range all {
			c.Stop()
		}
		for name, st := range statuses {
			snap := st.Snapshot()
			wantHealthy, wantTransitions, wantResult := true, uint64(0), "ok"
			if name == "b1" {
				wantHealthy, wantTransitions, wantResult = false, 1, "status 503"
			}
			if snap.Healthy != wantHealthy || snap.Transitions != wantTransitions || snap.LastResult != wantResult {
				t.Errorf("%s: healthy %v, %d transitions, last result %q; want %v, %d, %q",
					name, snap.Healthy, snap.Transitions, snap.LastResult, wantHealthy, wantTransitions, wantResult)
			}
		}
	})
}
