package gateway

import "sync/atomic"

// maxSchedule bounds the length of a weighted schedule; larger weight sums
// are scaled down to fit.
const maxSchedule = 1 << 16

// weightedRoundRobin is nginx's smooth weighted round-robin, computed once
// per generation into a schedule that picks then walk with one atomic
// counter: weights 3:1 give the sequence a a b a, so 400 picks split exactly
// 300:100 and the light backend never gets two in a row. A backend of
// weight 0 is never picked.
type weightedRoundRobin struct {
	schedule []int32
	next     atomic.Uint64
}

var _ selector = (*weightedRoundRobin)(nil)

func newWeightedRoundRobin(weights []int) *weightedRoundRobin {
	return &weightedRoundRobin{schedule: smoothSchedule(weights)}
}

func (w *weightedRoundRobin) pick(p *pool, _ uint64, tried uint64) int {
	return w.take(p.weights, func(i int) bool { return p.usable(i, tried) })
}

// take takes the next slot of the schedule over weights whose item usable
// accepts, and returns its item, or -1 when usable accepts none with a
// weight above 0. It gives up at most one full schedule of slots, or
// twice as many as there are items, then scans: the light items are
// still reached when the heavy ones are not usable.
func (w *weightedRoundRobin) take(weights []int, usable func(int) bool) int {
	n := uint64(len(w.schedule))
	if n == 0 {
		return -1
	}
	for range min(n, uint64(len(weights))*2) {
		i := int(w.schedule[(w.next.Add(1)-1)%n])
		if usable(i) {
			return i
		}
	}
	for i, x := range weights {
		if x > 0 && usable(i) {
			return i
		}
	}
	return -1
}

// smoothSchedule returns one period of smooth weighted round-robin over
// weights: each step adds every weight to its current weight, picks the
// largest (the first on a tie) and subtracts the total from it.
func smoothSchedule(weights []int) []int32 {
	w := scaledWeights(weights)
	total := 0
	for _, x := range w {
		total += x
	}
	if total == 0 {
		return nil
	}
	current := make([]int, len(w))
	out := make([]int32, 0, total)
	for range total {
		best := -1
		for i, x := range w {
			if x == 0 {
				continue
			}
			current[i] += x
			if best < 0 || current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		out = append(out, int32(best))
	}
	return out
}

// scaledWeights divides weights by their greatest common divisor and, if
// their sum still exceeds maxSchedule, scales them down proportionally
// (keeping every positive weight at least 1).
func scaledWeights(weights []int) []int {
	g := 0
	for _, x := range weights {
		g = gcd(g, x)
	}
	out := make([]int, len(weights))
	total := 0
	for i, x := range weights {
		if g > 0 {
			x /= g
		}
		out[i] = x
		total += x
	}
	if total > maxSchedule {
		for i, x := range out {
			if x > 0 {
				out[i] = max(1, x*maxSchedule/total)
			}
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
