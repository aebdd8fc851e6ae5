package health

import (
	"bytes"
	"context"
	"runtime/pprof"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// scriptProber returns the results a test sends on results, one per probe,
// and remembers when each probe started and what its context's deadline was.
type scriptProber struct {
	results chan Result

	mu        sync.Mutex
	starts    []time.Time
	deadlines []time.Time
}

func newScriptProber() *scriptProber {
	return &scriptProber{results: make(chan Result)}
}

func (p *scriptProber) Probe(ctx context.Context) Result {
	deadline, _ := ctx.Deadline()
	p.mu.Lock()
	p.starts = append(p.starts, time.Now())
	p.deadlines = append(p.deadlines, deadline)
	p.mu.Unlock()
	select {
	case r := <-p.results:
		return r
	case <-ctx.Done():
		return Result{Reason: ctx.Err().Error()}
	}
}

// probes returns the start times of the probes so far.
func (p *scriptProber) probes() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.starts...)
}

// proberFunc adapts a function to [Prober].
type proberFunc func(ctx context.Context) Result

func (f proberFunc) Probe(ctx context.Context) Result { return f(ctx) }

// checkerRunning reports whether any prober goroutine of a Scheduler runs.
func checkerRunning(t *testing.T) bool {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		t.Fatalf("goroutine dump: %v", err)
	}
	return bytes.Contains(buf.Bytes(), []byte("health.(*Scheduler).probe"))
}

func TestCheckerProbesAtOnceOnStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newScriptProber()
		c := NewChecker(NewStatus("b1", nil), p, CheckConfig{Interval: time.Minute})
		start := time.Now()
		c.Start()
		synctest.Wait()
		got := p.probes()
		if len(got) != 1 || !got[0].Equal(start) {
			t.Fatalf("probes started at %v, want one at %v", got, start)
		}
		c.Stop()
	})
}

func TestCheckerIntervalHasJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = time.Second
		var mu sync.Mutex
		var starts []time.Time
		p := proberFunc(func(context.Context) Result {
			mu.Lock()
			defer mu.Unlock()
			starts = append(starts, time.Now())
			return pass()
		})
		c := NewChecker(NewStatus("b1", nil), p, CheckConfig{Interval: interval})
		c.Start()
		time.Sleep(300 * interval)
		c.Stop()

		mu.Lock()
		defer mu.Unlock()
		if len(starts) < 250 {
			t.Fatalf("%d probes in 300 intervals, want at least 250", len(starts))
		}
		lo, hi := interval, interval
		for i := 1; i < len(starts); i++ {
			gap := starts[i].Sub(starts[i-1])
			if gap < interval*9/10 || gap > interval*11/10 {
				t.Fatalf("gap %d is %v, want within ±10%% of %v", i, gap, interval)
			}
			lo, hi = min(lo, gap), max(hi, gap)
		}
		// Uniform jitter over ±100ms: 250 gaps all within ±70ms would be a
		// one in 10^46 event.
		if lo > interval*93/100 || hi < interval*107/100 {
			t.Fatalf("gaps span %v..%v, want jitter spread over ±10%%", lo, hi)
		}
	})
}

func TestCheckerThresholdTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newScriptProber()
		s := NewStatus("b1", nil)
		c := NewChecker(s, p, CheckConfig{
			Interval: time.Second, Timeout: 500 * time.Millisecond,
			HealthyThreshold: 2, UnhealthyThreshold: 3,
		})
		c.Start()
		defer c.Stop()
		steps := []struct {
			result      Result
			wantHealthy bool
			wantReason  string
		}{
			{fail("status 503"), true, "starting"},
			{fail("status 503"), true, "starting"},
			{fail("status 503"), false, "status 503"},
			{pass(), false, "status 503"},
			{fail("timeout"), false, "status 503"},
			{pass(), false, "status 503"},
			{pass(), true, "ok"},
		}
		for i, step := range steps {
			p.results <- step.result
			synctest.Wait()
			snap := s.Snapshot()
			if snap.Healthy != step.wantHealthy || snap.Reason != step.wantReason {
				t.Fatalf("after probe %d: healthy %v reason %q, want %v %q",
					i+1, snap.Healthy, snap.Reason, step.wantHealthy, step.wantReason)
			}
			if starts := p.probes(); !snap.LastProbe.Equal(starts[i]) {
				t.Fatalf("after probe %d: LastProbe %v, want %v", i+1, snap.LastProbe, starts[i])
			}
		}
		if got := s.Snapshot().Transitions; got != 2 {
			t.Fatalf("Transitions = %d, want 2", got)
		}
	})
}

func TestCheckerAppliesTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		p := newScriptProber() // never sent a result: every probe times out
		s := NewStatus("b1", nil)
		c := NewChecker(s, p, CheckConfig{Interval: time.Second, Timeout: timeout, UnhealthyThreshold: 1})
		start := time.Now()
		c.Start()
		defer c.Stop()
		synctest.Wait()
		if snap := s.Snapshot(); snap.LastResult != "" {
			t.Fatalf("LastResult = %q before the timeout, want none", snap.LastResult)
		}
		time.Sleep(timeout)
		synctest.Wait()
		snap := s.Snapshot()
		if snap.LastResult != "timeout" || snap.Healthy || snap.Reason != "timeout" {
			t.Fatalf("after %v: result %q healthy %v reason %q, want a timeout that marks it down",
				timeout, snap.LastResult, snap.Healthy, snap.Reason)
		}
		p.mu.Lock()
		deadline := p.deadlines[0]
		p.mu.Unlock()
		if want := start.Add(timeout); !deadline.Equal(want) {
			t.Fatalf("probe deadline %v, want %v", deadline, want)
		}
	})
}

func TestCheckerKeepsProberReasonBeforeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newScriptProber()
		s := NewStatus("b1", nil)
		c := NewChecker(s, p, CheckConfig{Interval: time.Second, Timeout: time.Second})
		c.Start()
		defer c.Stop()
		p.results <- fail("connection refused")
		synctest.Wait()
		if got := s.Snapshot().LastResult; got != "connection refused" {
			t.Fatalf("LastResult = %q, want %q", got, "connection refused")
		}
	})
}

func TestCheckerStopLeavesNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newScriptProber()
		s := NewStatus("b1", nil)
		c := NewChecker(s, p, CheckConfig{Interval: time.Second, Timeout: time.Hour})
		c.Start()
		synctest.Wait() // the first probe is in flight, blocked on p.results
		if !checkerRunning(t) {
			t.Fatal("no Checker goroutine after Start")
		}
		stopAt := time.Now()
		c.Stop()
		if waited := time.Since(stopAt); waited != 0 {
			t.Fatalf("Stop waited %v for the probe in flight, want it cancelled at once", waited)
		}
		synctest.Wait()
		if checkerRunning(t) {
			t.Fatal("a Checker goroutine is left after Stop")
		}
		time.Sleep(time.Minute)
		if n := len(p.probes()); n != 1 {
			t.Fatalf("%d probes after Stop and a minute, want 1", n)
		}
		if snap := s.Snapshot(); snap.LastResult != "" || !snap.LastProbe.IsZero() {
			t.Fatalf("the cancelled probe was recorded: %+v", snap)
		}
	})
}

func TestCheckerStopIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := proberFunc(func(context.Context) Result { return pass() })
		c := NewChecker(NewStatus("b1", nil), p, CheckConfig{})
		c.Start()
		synctest.Wait()
		c.Stop()
		c.Stop()
		synctest.Wait()
		if checkerRunning(t) {
			t.Fatal("a Checker goroutine is left after two Stops")
		}
	})
}

func TestCheckerStopBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probed := false
		p := proberFunc(func(context.Context) Result { probed = true; return pass() })
		c := NewChecker(NewStatus("b1", nil), p, CheckConfig{})
		c.Stop()
		c.Start()
		synctest.Wait()
		if probed || checkerRunning(t) {
			t.Fatalf("Start after Stop probed=%v running=%v, want neither", probed, checkerRunning(t))
		}
		c.Stop()
	})
}

func TestCheckerStartTwiceRunsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newScriptProber()
		c := NewChecker(NewStatus("b1", nil), p, CheckConfig{Interval: time.Minute})
		c.Start()
		c.Start()
		synctest.Wait()
		if n := len(p.probes()); n != 1 {
			t.Fatalf("%d probes after two Starts, want 1", n)
		}
		c.Stop()
	})
}

func TestNewCheckerSetsThresholds(t *testing.T) {
	s := NewStatus("b1", nil)
	NewChecker(s, proberFunc(func(context.Context) Result { return pass() }),
		CheckConfig{UnhealthyThreshold: 1})
	s.RecordProbe(fail("timeout"))
	if s.Healthy() {
		t.Fatal("one failure with UnhealthyThreshold 1 left the backend up")
	}
}
