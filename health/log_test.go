package health

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// logBuffer is an io.Writer that a test can read while others write.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// logLine is the part of a JSON log record the tests assert.
type logLine struct {
	Level       string
	Msg         string
	Backend     string
	Reason      string
	Consecutive int
}

// lines decodes the records written so far.
func (b *logBuffer) lines(t *testing.T) []logLine {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []logLine
	for _, raw := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if raw == "" {
			continue
		}
		var l struct {
			Level, Msg, Backend, Reason string
			Consecutive                 int
		}
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		out = append(out, logLine(l))
	}
	return out
}

// newLoggedStatus returns a Status that logs JSON records to the returned
// buffer.
func newLoggedStatus(name string) (*Status, *logBuffer) {
	logs := &logBuffer{}
	return NewStatus(name, slog.New(slog.NewJSONHandler(logs, nil))), logs
}

func TestTransitionsAreLoggedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, logs := newLoggedStatus("api-1")
		defer s.Close()
		s.SetThresholds(2, 2)
		passive := PassiveConfig{MaxFails: 3, Window: 10 * time.Second, EjectFor: 30 * time.Second}

		s.RecordProbe(fail("status 503"))
		s.RecordProbe(fail("status 503")) // down
		s.RecordProbe(fail("timeout"))    // still down: no line
		s.RecordProbe(pass())
		s.RecordProbe(pass()) // up
		s.RecordProbe(pass()) // still up: no line
		for i := range passive.MaxFails {
			if s.ReportFailure(time.Now(), passive) {
				if i != passive.MaxFails-1 {
					t.Fatalf("threshold reached at failure %d, want %d", i+1, passive.MaxFails)
				}
				s.Eject(passive.EjectFor, passive.Reason()) // down
			}
		}
		s.Eject(passive.EjectFor, passive.Reason()) // already ejected: no line
		time.Sleep(passive.EjectFor)                // up again
		synctest.Wait()

		want := []logLine{
			{"WARN", "backend down", "api-1", "status 503", 2},
			{"INFO", "backend up", "api-1", "ok", 2},
			{"WARN", "backend down", "api-1", "passive: 3 failures within 10s", 3},
			{"INFO", "backend up", "api-1", "ejection expired", 3},
		}
		got := logs.lines(t)
		if len(got) != len(want) {
			t.Fatalf("logged %d lines, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("line %d = %+v, want %+v", i+1, got[i], want[i])
			}
		}
		if n := s.Snapshot().Transitions; n != uint64(len(want)) {
			t.Fatalf("Transitions = %d, want %d", n, len(want))
		}
	})
}

func TestMaskedVerdictIsNotLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, logs := newLoggedStatus("api-2")
		defer s.Close()
		s.SetThresholds(1, 1)
		s.Eject(time.Second, "passive: 1 failure within 1s") // down
		s.RecordProbe(fail("connection refused"))            // masked by the ejection
		time.Sleep(time.Second)                              // still down: no line
		synctest.Wait()
		s.RecordProbe(pass()) // up

		want := []logLine{
			{"WARN", "backend down", "api-2", "passive: 1 failure within 1s", 0},
			{"INFO", "backend up", "api-2", "ok", 1},
		}
		got := logs.lines(t)
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("logged %+v, want %+v", got, want)
		}
	})
}
