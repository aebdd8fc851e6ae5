package health_test

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/gatewayhq/gateway/health"
)

// newExampleLogger logs to standard output without timestamps, so that the
// examples' output is stable.
func newExampleLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func ExampleStatus_RecordProbe() {
	s := health.NewStatus("api-1", newExampleLogger())
	s.SetThresholds(2, 3) // rise 2, fall 3
	for _, r := range []health.Result{
		{Reason: "status 503"},
		{Reason: "status 503"},
		{Reason: "timeout"},
		{OK: true},
		{OK: true},
	} {
		s.RecordProbe(r)
		fmt.Println("healthy:", s.Healthy())
	}
	// Output:
	// healthy: true
	// healthy: true
	// level=WARN msg="backend down" backend=api-1 reason=timeout consecutive=3
	// healthy: false
	// healthy: false
	// level=INFO msg="backend up" backend=api-1 reason=ok consecutive=2
	// healthy: true
}

func ExampleStatus_ReportFailure() {
	s := health.NewStatus("api-1", newExampleLogger())
	defer s.Close()
	cfg := health.PassiveConfig{MaxFails: 3, Window: 10 * time.Second, EjectFor: 30 * time.Second}
	now := time.Now()
	for i := range 3 {
		if s.ReportFailure(now.Add(time.Duration(i)*time.Second), cfg) {
			// The gateway ejects only when the pool keeps another healthy
			// backend.
			s.Eject(cfg.EjectFor, cfg.Reason())
		}
	}
	snap := s.Snapshot()
	fmt.Println("healthy:", s.Healthy(), "ejected:", snap.Ejected)
	// Output:
	// level=WARN msg="backend down" backend=api-1 reason="passive: 3 failures within 10s" consecutive=3
	// healthy: false ejected: true
}

func ExampleNewChecker() {
	s := health.NewStatus("api-1", slog.Default())
	cfg := health.CheckConfig{
		Method:   "GET",
		Path:     "/healthz",
		Interval: 2 * time.Second,
		Timeout:  time.Second,
		Expect:   []health.StatusRange{{Lo: 200, Hi: 299}},
	}
	c := health.NewChecker(s, health.NewHTTPProber("http://127.0.0.1:8080", cfg), cfg)
	c.Start()
	defer c.Stop()
	// Selection algorithms now read s.Healthy() on every request.
}
