package reload

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestSaveToCallbackLatency reports the distribution of the time from the
// end of an in-place save to the callback over a series of saves. It asserts
// only the delivery bound; the numbers are for the log (go test -v).
func TestSaveToCallbackLatency(t *testing.T) {
	const saves = 20
	r, path := watchFile(t, t.TempDir(), "version: 0\n", Options{})

	latencies := make([]time.Duration, 0, saves)
	for i := 1; i <= saves; i++ {
		content := fmt.Sprintf("version: %d\n", i)
		writeFile(t, path, content)
		latencies = append(latencies, r.expect(t, content))
	}
	r.expectNone(t)

	slices.Sort(latencies)
	t.Logf("save->callback over %d in-place saves (debounce %v): min %v p50 %v p99 %v max %v",
		saves, DefaultDebounce, latencies[0], percentile(latencies, 50), percentile(latencies, 99),
		latencies[len(latencies)-1])
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}
