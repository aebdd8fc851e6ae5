package health

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// DefaultProbers is how many probes a [Scheduler] runs at once when
// [NewScheduler] is given no positive number.
const DefaultProbers = 64

// Scheduler runs the probes of many [Checker]s with a number of goroutines
// that does not grow with theirs: one timer holds the time of the next
// probe due, a heap orders the Checkers by the time of theirs, and at most
// a fixed number of prober goroutines run the probes that are due, each
// taking the next due probe once it has recorded one. A prober goroutine
// exits when no probe is due, so an idle Scheduler runs no goroutine, and
// one whose Checkers have all stopped leaves nothing behind.
//
// A probe that is due while every prober is busy waits for one, in the
// order the probes fell due: it starts late, and the next one is
// scheduled from its end, as always. A probe that runs out of time holds
// its prober for its timeout, so a Scheduler with n probers keeps every
// backend probed on time while fewer than n × interval / timeout of them
// time out.
//
// The methods of a Scheduler and of its Checkers are safe for concurrent
// use.
type Scheduler struct {
	probers int

	mu sync.Mutex
	// due holds the started Checkers waiting for their next probe,
	// earliest first.
	due dueHeap
	// ready holds the Checkers whose probe is due, in the order they fell
	// due, for the next free prober.
	ready []*Checker
	// busy counts the prober goroutines running.
	busy int
	// timer fires when the earliest Checker of due is due; timerAt is
	// when it is set to fire, zero when it is stopped.
	timer   *time.Timer
	timerAt time.Time
	// checkers counts the Checkers started and not stopped.
	checkers int
}

// NewScheduler returns a Scheduler that runs at most probers probes at
// once, or [DefaultProbers] when probers is not positive.
func NewScheduler(probers int) *Scheduler {
	if probers <= 0 {
		probers = DefaultProbers
	}
	return &Scheduler{probers: probers}
}

// NewChecker returns a [Checker] of s that probes with p under cfg and
// records the results in st, as the function [NewChecker] describes.
func (s *Scheduler) NewChecker(st *Status, p Prober, cfg CheckConfig) *Checker {
	cfg = cfg.WithDefaults()
	st.SetThresholds(cfg.HealthyThreshold, cfg.UnhealthyThreshold)
	st.resetRun()
	return &Checker{status: st, prober: p, cfg: cfg, sched: s, index: -1}
}

// Checkers returns how many Checkers of s probe: started and not
// stopped.
func (s *Scheduler) Checkers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkers
}

// start makes c's first probe due at once. s.mu must be held.
func (s *Scheduler) start(c *Checker) {
	s.checkers++
	s.ready = append(s.ready, c)
	s.spawn()
}

// stop takes c out of the schedule and cancels its probe in flight.
// s.mu must be held; c is marked stopped already. A c in s.ready stays
// there for a prober to skip.
func (s *Scheduler) stop(c *Checker) {
	if c.started {
		s.checkers--
	}
	if c.index >= 0 {
		heap.Remove(&s.due, c.index)
		s.arm()
	}
	if c.cancel != nil {
		c.cancel()
	}
}

// spawn starts prober goroutines for the due probes, up to s.probers in
// all. s.mu must be held.
func (s *Scheduler) spawn() {
	for n := min(len(s.ready), s.probers) - s.busy; n > 0; n-- {
		s.busy++
		go s.probe()
	}
}

// arm sets s.timer to fire when the earliest Checker of s.due is due, or
// stops it when none waits. s.mu must be held.
func (s *Scheduler) arm() {
	if len(s.due) == 0 {
		if s.timer != nil && !s.timerAt.IsZero() {
			s.timer.Stop()
			s.timerAt = time.Time{}
		}
		return
	}
	at := s.due[0].at
	if at.Equal(s.timerAt) {
		return
	}
	s.timerAt = at
	if s.timer == nil {
		s.timer = time.AfterFunc(time.Until(at), s.fire)
		return
	}
	s.timer.Reset(time.Until(at))
}

// fire moves the Checkers that are due from s.due to s.ready and starts
// probers for them.
func (s *Scheduler) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		s.ready = append(s.ready, heap.Pop(&s.due).(*Checker))
	}
	s.timerAt = time.Time{}
	s.arm()
	s.spawn()
}

// probe is a prober goroutine: it runs the due probes one after another,
// schedules each Checker's next probe from the end of its last, and
// returns when no probe is due.
func (s *Scheduler) probe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.ready) > 0 {
		c := s.ready[0]
		s.ready[0] = nil
		s.ready = s.ready[1:]
		if c.stopped {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		c.probing.Add(1)
		s.mu.Unlock()
		c.probe(ctx)
		cancel()
		s.mu.Lock()
		c.cancel = nil
		if !c.stopped {
			c.at = time.Now().Add(Jitter(c.cfg.Interval))
			heap.Push(&s.due, c)
			if c.index == 0 {
				s.arm()
			}
		}
		c.probing.Done()
	}
	if len(s.ready) == 0 {
		s.ready = nil // let the array of a burst go
	}
	s.busy--
}

// dueHeap orders Checkers by the time of their next probe; it implements
// [heap.Interface].
type dueHeap []*Checker

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *dueHeap) Push(x any) {
	c := x.(*Checker)
	c.index = len(*h)
	*h = append(*h, c)
}

func (h *dueHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	c.index = -1
	*h = old[:len(old)-1]
	return c
}
