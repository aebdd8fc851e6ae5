package health

import (
	"sync"
	"testing"
	"time"
)

// pass and fail build probe results for the state machine tables.
func pass() Result              { return Result{OK: true, Reason: "ok"} }
func fail(reason string) Result { return Result{Reason: reason} }

func TestRecordProbeStateMachine(t *testing.T) {
	tests := []struct {
		name            string
		rise, fall      int
		probes          []Result
		wantHealthy     bool
		wantReason      string
		wantLastResult  string
		wantPasses      int
		wantFails       int
		wantTransitions uint64
	}{
		{
			name: "starts up", rise: 2, fall: 3,
			wantHealthy: true, wantReason: "starting",
		},
		{
			name: "passes keep it up", rise: 2, fall: 3,
			probes:      []Result{pass(), pass(), pass()},
			wantHealthy: true, wantReason: "starting", wantLastResult: "ok", wantPasses: 3,
		},
		{
			name: "failures below fall", rise: 2, fall: 3,
			probes:      []Result{fail("status 503"), fail("status 503")},
			wantHealthy: true, wantReason: "starting", wantLastResult: "status 503", wantFails: 2,
		},
		{
			name: "fall reached", rise: 2, fall: 3,
			probes:      []Result{fail("timeout"), fail("status 503"), fail("connection refused")},
			wantHealthy: false, wantReason: "connection refused", wantLastResult: "connection refused",
			wantFails: 3, wantTransitions: 1,
		},
		{
			name: "a pass breaks the failure run", rise: 2, fall: 3,
			probes:      []Result{fail("timeout"), fail("timeout"), pass(), fail("timeout"), fail("timeout")},
			wantHealthy: true, wantReason: "starting", wantLastResult: "timeout", wantFails: 2,
		},
		{
			name: "failures past fall keep the first reason", rise: 2, fall: 2,
			probes:      []Result{fail("timeout"), fail("timeout"), fail("status 500")},
			wantHealthy: false, wantReason: "timeout", wantLastResult: "status 500",
			wantFails: 3, wantTransitions: 1,
		},
		{
			name: "passes below rise stay down", rise: 2, fall: 1,
			probes:      []Result{fail("status 503"), pass()},
			wantHealthy: false, wantReason: "status 503", wantLastResult: "ok",
			wantPasses: 1, wantTransitions: 1,
		},
		{
			name: "rise reached", rise: 2, fall: 1,
			probes:      []Result{fail("status 503"), pass(), pass()},
			wantHealthy: true, wantReason: "ok", wantLastResult: "ok",
			wantPasses: 2, wantTransitions: 2,
		},
		{
			name: "a failure breaks the pass run", rise: 2, fall: 1,
			probes:      []Result{fail("status 503"), pass(), fail("timeout"), pass()},
			wantHealthy: false, wantReason: "status 503", wantLastResult: "ok",
			wantPasses: 1, wantTransitions: 1,
		},
		{
			name: "thresholds of one flap on every result", rise: 1, fall: 1,
			probes:      []Result{fail("timeout"), pass(), fail("connection reset"), pass()},
			wantHealthy: true, wantReason: "ok", wantLastResult: "ok",
			wantPasses: 1, wantTransitions: 4,
		},
		{
			name: "a pass without reason is ok", rise: 1, fall: 1,
			probes:      []Result{fail("timeout"), {OK: true}},
			wantHealthy: true, wantReason: "ok", wantLastResult: "ok",
			wantPasses: 1, wantTransitions: 2,
		},
		{
			name: "zero thresholds mean the defaults", rise: 0, fall: 0,
			probes:      []Result{fail("timeout"), fail("timeout"), fail("timeout"), pass()},
			wantHealthy: false, wantReason: "timeout", wantLastResult: "ok",
			wantPasses: 1, wantTransitions: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStatus("b1", nil)
			s.SetThresholds(tt.rise, tt.fall)
			at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			for i, r := range tt.probes {
				r.At = at.Add(time.Duration(i) * time.Second)
				s.RecordProbe(r)
			}
			got := s.Snapshot()
			if got.Healthy != tt.wantHealthy || s.Healthy() != tt.wantHealthy {
				t.Errorf("Healthy: snapshot %v, Healthy() %v, want %v", got.Healthy, s.Healthy(), tt.wantHealthy)
			}
			if got.ActiveHealthy != tt.wantHealthy {
				t.Errorf("ActiveHealthy = %v, want %v", got.ActiveHealthy, tt.wantHealthy)
			}
			if got.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", got.Reason, tt.wantReason)
			}
			if got.LastResult != tt.wantLastResult {
				t.Errorf("LastResult = %q, want %q", got.LastResult, tt.wantLastResult)
			}
			if got.ConsecutivePasses != tt.wantPasses || got.ConsecutiveFails != tt.wantFails {
				t.Errorf("passes/fails = %d/%d, want %d/%d",
					got.ConsecutivePasses, got.ConsecutiveFails, tt.wantPasses, tt.wantFails)
			}
			if got.Transitions != tt.wantTransitions {
				t.Errorf("Transitions = %d, want %d", got.Transitions, tt.wantTransitions)
			}
			var wantLast time.Time
			if n := len(tt.probes); n > 0 {
				wantLast = at.Add(time.Duration(n-1) * time.Second)
			}
			if !got.LastProbe.Equal(wantLast) {
				t.Errorf("LastProbe = %v, want %v", got.LastProbe, wantLast)
			}
			if got.Ejected || !got.EjectedUntil.IsZero() {
				t.Errorf("Ejected = %v until %v, want not ejected", got.Ejected, got.EjectedUntil)
			}
		})
	}
}

func TestStatusName(t *testing.T) {
	if got := NewStatus("api-1", nil).Name(); got != "api-1" {
		t.Fatalf("Name() = %q, want %q", got, "api-1")
	}
}

// TestStatusConcurrentUse runs the writers beside Healthy for the race
// detector.
func TestStatusConcurrentUse(t *testing.T) {
	s := NewStatus("b1", nil)
	s.SetThresholds(1, 1)
	defer s.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.RecordProbe(Result{OK: i%2 == 0})
			s.ReportFailure(time.Now(), PassiveConfig{MaxFails: 2, Window: time.Second})
			_ = s.Snapshot()
		}
	})
	for range 10000 {
		_ = s.Healthy()
	}
	close(stop)
	wg.Wait()
}

func TestHealthyDoesNotAllocate(t *testing.T) {
	s := NewStatus("b1", nil)
	if allocs := testing.AllocsPerRun(1000, func() { _ = s.Healthy() }); allocs != 0 {
		t.Fatalf("Healthy allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkHealthy(b *testing.B) {
	s := NewStatus("b1", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !s.Healthy() {
				b.Fatal("backend reported down")
			}
		}
	})
}
