package gateway

import (
	"testing"
	"time"
)

func TestCoarseDeadline(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		name     string
		after    time.Duration // since t0
		d        time.Duration
		wantAt   time.Duration // since t0
		wantMove bool
	}{
		{"the first wait arms with an eighth of slack", 0, 8 * time.Second, 9 * time.Second, true},
		{"a wait soon after keeps it", 500 * time.Millisecond, 8 * time.Second, 9 * time.Second, false},
		{"within the timeout of it, it moves", 1500 * time.Millisecond, 8 * time.Second, 10500 * time.Millisecond, true},
		{"a longer timeout moves it out", 1500 * time.Millisecond, 16 * time.Second, 18500 * time.Millisecond, true},
		{"a shorter timeout moves it in", 1500 * time.Millisecond, 800 * time.Millisecond, 2400 * time.Millisecond, true},
		{"and then holds", 1600 * time.Millisecond, 800 * time.Millisecond, 2400 * time.Millisecond, false},
		{"the slack is at most a second", 2 * time.Second, time.Minute, 63 * time.Second, true},
	}
	var c coarseDeadline
	for _, s := range steps {
		at, move := c.next(t0.Add(s.after), s.d)
		if got := at.Sub(t0); got != s.wantAt || move != s.wantMove {
			t.Fatalf("%s: next(t0+%v, %v) = t0+%v, %t; want t0+%v, %t", s.name, s.after, s.d, got, move, s.wantAt, s.wantMove)
		}
	}
}
