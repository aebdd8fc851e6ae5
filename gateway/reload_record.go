package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
)

// The results a [ReloadRecord] may carry.
const (
	ResultApplied  = "applied"
	ResultRejected = "rejected"
)

// ReloadRecord describes one attempt to load a config, applied or not.
type ReloadRecord struct {
	// Generation is the number of the generation the config became, or 0
	// when it was rejected.
	Generation uint64 `json:"generation"`
	// Hash is the hex SHA-256 of the config's bytes.
	Hash string `json:"hash"`
	// Trigger says what caused the attempt: start, watch or signal.
	Trigger string `json:"trigger"`
	// Time is when the attempt began.
	Time time.Time `json:"time"`
	// Duration is how long decoding, building and publishing took.
	Duration time.Duration `json:"-"`
	// Result is applied or rejected.
	Result string `json:"result"`
	// Error is why the config was rejected.
	Error string `json:"error,omitempty"`
	// Carried, Added and Removed count the backends kept from the previous
	// generation, created, and retired.
	Carried int `json:"carried"`
	Added   int `json:"added"`
	Removed int `json:"removed"`
}

// MarshalJSON adds the duration in seconds.
func (r ReloadRecord) MarshalJSON() ([]byte, error) {
	type plain ReloadRecord
	return json.Marshal(struct {
		plain
		DurationSeconds float64 `json:"durationSeconds"`
	}{plain(r), r.Duration.Seconds()})
}

// reloadHistory is how many reload records are kept.
const reloadHistory = 20

// reloadLog keeps the most recent reload records.
type reloadLog struct {
	mu      sync.Mutex
	records []ReloadRecord
}

func (l *reloadLog) add(r ReloadRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
	if len(l.records) > reloadHistory {
		l.records = append(l.records[:0], l.records[len(l.records)-reloadHistory:]...)
	}
}

// Reloads returns the most recent reload records, oldest first.
func (g *Gateway) Reloads() []ReloadRecord {
	g.reloads.mu.Lock()
	defer g.reloads.mu.Unlock()
	return append([]ReloadRecord(nil), g.reloads.records...)
}

// record keeps r, logs it once and counts it in the metrics.
func (g *Gateway) record(r ReloadRecord) {
	g.reloads.add(r)
	g.metrics.reloaded(r)
	attrs := []any{"trigger", r.Trigger, "hash", ShortHash(r.Hash), "duration", r.Duration.Round(time.Microsecond)}
	if r.Result == ResultApplied {
		g.logger.Info("config applied", append(attrs, "generation", r.Generation,
			"carried", r.Carried, "added", r.Added, "removed", r.Removed)...)
		return
	}
	msg := "config rejected; the running config keeps serving"
	if g.gen.Load() == nil {
		msg = "config rejected"
	}
	g.logger.Error(msg, append(attrs, "error", r.Error)...)
}

// hashOf returns the hex SHA-256 of data.
func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ShortHash returns the first 12 hex digits of a config hash, the form the
// gateway's logs and `gateway status` show.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
