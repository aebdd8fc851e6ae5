package health

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestReportFailureWindow(t *testing.T) {
	tests := []struct {
		name string
		cfg  PassiveConfig
		at   []time.Duration // when each failure is reported
		want []bool          // what each report returns
	}{
		{
			name: "threshold within the window",
			cfg:  PassiveConfig{MaxFails: 3, Window: 10 * time.Second},
			at:   []time.Duration{0, time.Second, 2 * time.Second},
			want: []bool{false, false, true},
		},
		{
			name: "failures outside the window do not count",
			cfg:  PassiveConfig{MaxFails: 3, Window: 10 * time.Second},
			at:   []time.Duration{0, 11 * time.Second, 12 * time.Second, 13 * time.Second},
			want: []bool{false, false, false, true},
		},
		{
			name: "a failure exactly one window old has left it",
			cfg:  PassiveConfig{MaxFails: 3, Window: 10 * time.Second},
			at:   []time.Duration{0, 5 * time.Second, 10 * time.Second},
			want: []bool{false, false, false},
		},
		{
			name: "the window slides",
			cfg:  PassiveConfig{MaxFails: 3, Window: 10 * time.Second},
			at:   []time.Duration{0, 6 * time.Second, 12 * time.Second, 15 * time.Second},
			want: []bool{false, false, false, true},
		},
		{
			name: "reaching the threshold empties the window",
			cfg:  PassiveConfig{MaxFails: 3, Window: time.Minute},
			at: []time.Duration{0, time.Second, 2 * time.Second,
				3 * time.Second, 4 * time.Second, 5 * time.Second},
			want: []bool{false, false, true, false, false, true},
		},
		{
			name: "one failure is enough with MaxFails 1",
			cfg:  PassiveConfig{MaxFails: 1, Window: time.Second},
			at:   []time.Duration{0, time.Millisecond},
			want: []bool{true, true},
		},
		{
			name: "MaxFails 0 is off",
			cfg:  PassiveConfig{MaxFails: 0, Window: time.Minute},
			at:   []time.Duration{0, 0, 0, 0},
			want: []bool{false, false, false, false},
		},
		{
			name: "a zero window never ages failures",
			cfg:  PassiveConfig{MaxFails: 3},
			at:   []time.Duration{0, time.Hour, 24 * time.Hour},
			want: []bool{false, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStatus("b1", nil)
			base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			for i, d := range tt.at {
				if got := s.ReportFailure(base.Add(d), tt.cfg); got != tt.want[i] {
					t.Fatalf("report %d at +%v = %v, want %v", i+1, d, got, tt.want[i])
				}
			}
			if !s.Healthy() {
				t.Fatal("ReportFailure alone took the backend down")
			}
		})
	}
}

func TestPassiveConfigReason(t *testing.T) {
	tests := []struct {
		cfg  PassiveConfig
		want string
	}{
		{PassiveConfig{MaxFails: 3, Window: 10 * time.Second}, "passive: 3 failures within 10s"},
		{PassiveConfig{MaxFails: 5, Window: 1500 * time.Millisecond}, "passive: 5 failures within 1.5s"},
		{PassiveConfig{MaxFails: 2}, "passive: 2 failures"},
		{PassiveConfig{MaxFails: 1, Window: time.Minute}, "passive: 1 failure within 1m0s"},
	}
	for _, tt := range tests {
		if got := tt.cfg.Reason(); got != tt.want {
			t.Errorf("%+v.Reason() = %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestEjectThenActiveVerdictUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewStatus("b1", nil)
		defer s.Close()
		start := time.Now()
		s.Eject(10*time.Second, "passive: 3 failures within 10s")
		snap := s.Snapshot()
		if s.Healthy() || !snap.Ejected || snap.Reason != "passive: 3 failures within 10s" {
			t.Fatalf("after Eject: healthy %v ejected %v reason %q", s.Healthy(), snap.Ejected, snap.Reason)
		}
		if want := start.Add(10 * time.Second); !snap.EjectedUntil.Equal(want) {
			t.Fatalf("EjectedUntil = %v, want %v", snap.EjectedUntil, want)
		}
		if !snap.ActiveHealthy {
			t.Fatal("Eject changed the active verdict")
		}
		s.RecordProbe(pass()) // probes go on meanwhile; they do not end the ejection
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		if s.Healthy() {
			t.Fatal("the backend came back before the ejection ended")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		snap = s.Snapshot()
		if !s.Healthy() || snap.Ejected || !snap.EjectedUntil.IsZero() || snap.Reason != "ejection expired" {
			t.Fatalf("after the ejection: healthy %v ejected %v until %v reason %q",
				s.Healthy(), snap.Ejected, snap.EjectedUntil, snap.Reason)
		}
		if snap.Transitions != 2 {
			t.Fatalf("Transitions = %d, want 2", snap.Transitions)
		}
	})
}

func TestEjectThenActiveVerdictDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewStatus("b1", nil)
		defer s.Close()
		s.SetThresholds(1, 1)
		s.Eject(10*time.Second, "passive: 3 failures within 10s")
		s.RecordProbe(fail("status 503")) // the active verdict turns down meanwhile
		snap := s.Snapshot()
		if snap.ActiveHealthy || snap.Reason != "passive: 3 failures within 10s" || snap.Transitions != 1 {
			t.Fatalf("during the ejection: %+v", snap)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		snap = s.Snapshot()
		if s.Healthy() || snap.Ejected || snap.Reason != "status 503" || snap.Transitions != 1 {
			t.Fatalf("after the ejection: healthy %v, %+v; want down for status 503, one transition",
				s.Healthy(), snap)
		}
		s.RecordProbe(pass())
		if !s.Healthy() {
			t.Fatal("a pass after the ejection did not bring the backend up")
		}
	})
}

func TestEjectWhileActiveDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewStatus("b1", nil)
		defer s.Close()
		s.SetThresholds(1, 1)
		s.RecordProbe(fail("timeout"))
		s.Eject(time.Second, "passive: 3 failures within 10s")
		snap := s.Snapshot()
		if !snap.Ejected || snap.Reason != "timeout" || snap.Transitions != 1 {
			t.Fatalf("ejecting a down backend: %+v; want ejected, reason timeout, one transition", snap)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if snap := s.Snapshot(); snap.Healthy || snap.Ejected || snap.Transitions != 1 {
			t.Fatalf("after the ejection: %+v; want down, not ejected, one transition", snap)
		}
	})
}

func TestEjectExtends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewStatus("b1", nil)
		defer s.Close()
		start := time.Now()
		s.Eject(10*time.Second, "first")
		time.Sleep(5 * time.Second)
		s.Eject(20*time.Second, "second") // reaches further: extends to 25s
		s.Eject(time.Second, "third")     // reaches less far: ignored
		snap := s.Snapshot()
		if want := start.Add(25 * time.Second); !snap.EjectedUntil.Equal(want) {
			t.Fatalf("EjectedUntil = %v, want %v", snap.EjectedUntil, want)
		}
		if snap.Reason != "first" || snap.Transitions != 1 {
			t.Fatalf("reason %q transitions %d, want the first ejection's only", snap.Reason, snap.Transitions)
		}
		time.Sleep(20*time.Second - time.Nanosecond)
		synctest.Wait()
		if s.Healthy() {
			t.Fatal("the backend came back before the extended ejection ended")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if !s.Healthy() || s.Snapshot().Transitions != 2 {
			t.Fatalf("after the extended ejection: %+v", s.Snapshot())
		}
	})
}

func TestEjectIgnoresNonPositiveDuration(t *testing.T) {
	s := NewStatus("b1", nil)
	s.Eject(0, "zero")
	s.Eject(-time.Second, "negative")
	if !s.Healthy() || s.Snapshot().Ejected {
		t.Fatal("a non-positive ejection took the backend down")
	}
}

func TestCloseStopsEjectionTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewStatus("b1", nil)
		s.Eject(10*time.Second, "passive")
		s.Close()
		s.Close()
		time.Sleep(time.Minute)
		synctest.Wait()
		snap := s.Snapshot()
		if !snap.Ejected || snap.Transitions != 1 {
			t.Fatalf("the ejection timer fired after Close: %+v", snap)
		}
	})
}

func TestEjectAfterCloseDoesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewStatus("b1", nil)
		s.Close()
		s.Eject(10*time.Second, "passive")
		if !s.Healthy() || s.Snapshot().Ejected {
			t.Fatal("Eject after Close took the backend down")
		}
	})
}
