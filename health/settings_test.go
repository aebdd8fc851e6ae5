package health

import (
	"testing"
	"testing/synctest"
	"time"
)

// The tests of what a change of a backend's settings does to its Status.

func TestNewCheckerRestartsTheRun(t *testing.T) {
	s := NewStatus("b1", nil)
	s.SetThresholds(2, 1)
	s.RecordProbe(fail("status 503")) // down
	s.RecordProbe(pass())             // one of two passes
	NewChecker(s, proberFunc(nil), CheckConfig{HealthyThreshold: 2})
	if snap := s.Snapshot(); snap.Healthy || snap.ConsecutivePasses != 0 || snap.LastResult != "ok" {
		t.Fatalf("after a new Checker: %+v; want down, no passes, the last result kept", snap)
	}
	s.RecordProbe(pass())
	if s.Healthy() {
		t.Fatal("one pass under the new Checker brought the backend up; want two")
	}
	s.RecordProbe(pass())
	if !s.Healthy() {
		t.Fatal("two passes under the new Checker left the backend down")
	}
}

func TestDisableActive(t *testing.T) {
	tests := []struct {
		name            string
		down, eject     bool
		wantHealthy     bool
		wantReason      string
		wantTransitions uint64
	}{
		{name: "up stays up", wantHealthy: true, wantReason: "starting"},
		{name: "down comes up", down: true, wantHealthy: true, wantReason: "active checks off", wantTransitions: 2},
		{name: "ejected stays out", down: true, eject: true, wantHealthy: false, wantReason: "status 503", wantTransitions: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, logs := newLoggedStatus("b1")
				defer s.Close()
				s.SetThresholds(2, 1)
				s.RecordProbe(pass())
				if tt.down {
					s.RecordProbe(fail("status 503"))
				}
				if tt.eject {
					s.Eject(time.Minute, "passive: 3 failures")
				}
				s.DisableActive()
				snap := s.Snapshot()
				if snap.Healthy != tt.wantHealthy || !snap.ActiveHealthy || snap.Reason != tt.wantReason || snap.Transitions != tt.wantTransitions {
					t.Fatalf("after DisableActive: %+v; want healthy %v, active verdict up, reason %q, %d transitions",
						snap, tt.wantHealthy, tt.wantReason, tt.wantTransitions)
				}
				if snap.ConsecutivePasses != 0 || snap.ConsecutiveFails != 0 || !snap.LastProbe.IsZero() || snap.LastResult != "" {
					t.Fatalf("after DisableActive the probes are remembered: %+v", snap)
				}
				lines := logs.lines(t)
				if tt.wantTransitions == 2 {
					if last := lines[len(lines)-1]; last.Msg != "backend up" || last.Reason != "active checks off" {
						t.Fatalf("last log line %+v, want backend up for active checks off", last)
					}
				}
				if tt.eject {
					time.Sleep(time.Minute)
					synctest.Wait()
					if snap := s.Snapshot(); !snap.Healthy || snap.Reason != "ejection expired" {
						t.Fatalf("after the ejection: %+v; want up, the active verdict being up", snap)
					}
				}
			})
		})
	}
}

func TestDisablePassive(t *testing.T) {
	tests := []struct {
		name        string
		down, eject bool
		wantHealthy bool
		wantReason  string
	}{
		{name: "not ejected", wantHealthy: true, wantReason: "starting"},
		{name: "ejected comes back", eject: true, wantHealthy: true, wantReason: "passive health off"},
		{name: "ejected and down stays down", down: true, eject: true, wantHealthy: false, wantReason: "timeout"},
	}
	passive := PassiveConfig{MaxFails: 2, Window: time.Minute, EjectFor: time.Minute}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := NewStatus("b1", nil)
				defer s.Close()
				s.SetThresholds(1, 1)
				if tt.down {
					s.RecordProbe(fail("timeout"))
				}
				if tt.eject {
					s.Eject(time.Minute, "passive: 2 failures")
				}
				s.ReportFailure(time.Now(), passive)
				s.DisablePassive()
				snap := s.Snapshot()
				if snap.Healthy != tt.wantHealthy || snap.Ejected || !snap.EjectedUntil.IsZero() || snap.Reason != tt.wantReason {
					t.Fatalf("after DisablePassive: %+v; want healthy %v, not ejected, reason %q", snap, tt.wantHealthy, tt.wantReason)
				}
				if s.ReportFailure(time.Now(), passive) {
					t.Fatal("a failure from before DisablePassive counted towards the threshold")
				}
				// The stopped ejection timer changes nothing later.
				time.Sleep(2 * time.Minute)
				synctest.Wait()
				if again := s.Snapshot(); again.Transitions != snap.Transitions || again.Reason != snap.Reason {
					t.Fatalf("an ended ejection's timer fired: %+v, was %+v", again, snap)
				}
			})
		})
	}
}

func TestSetNameNamesLaterTransitions(t *testing.T) {
	s, logs := newLoggedStatus("http://a:08080")
	s.SetThresholds(1, 1)
	s.SetName("http://a:8080")
	s.RecordProbe(fail("timeout"))
	if got := s.Name(); got != "http://a:8080" {
		t.Fatalf("Name() = %q after SetName", got)
	}
	if lines := logs.lines(t); len(lines) != 1 || lines[0].Backend != "http://a:8080" {
		t.Fatalf("log lines %+v, want one for backend http://a:8080", lines)
	}
}
