package gateway

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// The results a [ReloadRecord] may carry.
const (
	// ResultApplied: the config became a new generation.
	ResultApplied = "applied"
	// ResultRejected: the config could not be read, decoded or applied;
	// the running generation serves on.
	ResultRejected = "rejected"
	// ResultUnchanged: the config is the one running (only comments or
	// formatting changed, or the file was read again as it was), so no
	// generation was built.
	ResultUnchanged = "unchanged"
)

// ReloadRecord describes one attempt to load a config, applied or not, to
// reload a TLS file the config names (trigger certificate), or a
// generation that a changed DNS answer made (trigger dns).
type ReloadRecord struct {
	// Generation is the number of the generation the config became, or of
	// the generation that serves on when it was unchanged; 0 when it was
	// rejected.
	Generation uint64 `json:"generation"`
	// Hash is the hex SHA-256 of the config's bytes, or of the TLS file's;
	// empty when the file could not be read. A dns record has the hash of
	// the config that runs.
	Hash string `json:"hash"`
	// Trigger says what caused the attempt: start, watch or signal for
	// the config file, certificate for a TLS file, dns for a changed
	// answer.
	Trigger string `json:"trigger"`
	// File is the TLS file whose change a certificate reload read; empty
	// for the other triggers.
	File string `json:"file,omitempty"`
	// Name is the name whose answer changed, for the trigger dns.
	Name string `json:"name,omitempty"`
	// Time is when the attempt began.
	Time time.Time `json:"time"`
	// Duration is how long decoding, building and publishing took; 0 when
	// the file could not be read.
	Duration time.Duration `json:"-"`
	// Result is applied, rejected or unchanged.
	Result string `json:"result"`
	// Error is why the config was rejected.
	Error string `json:"error,omitempty"`
	// Carried, Added and Removed count the backends kept from the previous
	// generation, created, and retired.
	Carried int `json:"carried"`
	Added   int `json:"added"`
	Removed int `json:"removed"`
	// Listener is what an applied config did to the public listener, as
	// `gateway diff` predicts it: keep, restart (new settings, the socket
	// kept), move (a new address, bound before the old one retires),
	// start, stop, or none; empty when nothing was applied.
	Listener string `json:"listener,omitempty"`
}

// MarshalJSON adds the duration in seconds.
func (r ReloadRecord) MarshalJSON() ([]byte, error) {
	type plain ReloadRecord
	return json.Marshal(struct {
		plain
		DurationSeconds float64 `json:"durationSeconds"`
	}{plain(r), r.Duration.Seconds()})
}

// ok reports whether the attempt left the gateway serving what it was
// given: applied or unchanged.
func (r ReloadRecord) ok() bool { return r.Result != ResultRejected }

// configSource is the source of the records of the config file: the
// triggers start, watch and signal. Any other trigger, such as dns, is a
// source of its own.
const configSource = "config"

// sourceOf returns the source of a record with trigger.
func sourceOf(trigger string) string {
	switch trigger {
	case TriggerStart, TriggerWatch, TriggerSignal:
		return configSource
	}
	return trigger
}

// reloadHistory is how many reload records are kept of each source.
const reloadHistory = 20

// reloadLog keeps the most recent reload records of each source.
type reloadLog struct {
	mu       sync.Mutex
	seq      uint64
	bySource map[string][]loggedRecord
}

// loggedRecord is a record with the order it was added in.
type loggedRecord struct {
	ReloadRecord
	seq uint64
}

func (l *reloadLog) add(r ReloadRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySource == nil {
		l.bySource = make(map[string][]loggedRecord)
	}
	l.seq++
	src := sourceOf(r.Trigger)
	records := append(l.bySource[src], loggedRecord{r, l.seq})
	if len(records) > reloadHistory {
		records = append(records[:0], records[len(records)-reloadHistory:]...)
	}
	l.bySource[src] = records
}

// count returns how many records were ever added.
func (l *reloadLog) count() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// last returns the most recent record of source.
func (l *reloadLog) last(source string) (ReloadRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	records := l.bySource[source]
	if len(records) == 0 {
		return ReloadRecord{}, false
	}
	return records[len(records)-1].ReloadRecord, true
}

// Reloads returns the most recent reload records, the last 20 of each
// source (the config file, certificates, changed DNS answers), merged
// oldest first, so that a burst from one source never pushes another's
// error out.
func (g *Gateway) Reloads() []ReloadRecord {
	l := &g.reloads
	l.mu.Lock()
	var all []loggedRecord
	for _, records := range l.bySource {
		all = append(all, records...)
	}
	l.mu.Unlock()
	slices.SortFunc(all, func(a, b loggedRecord) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.seq, b.seq))
	})
	out := make([]ReloadRecord, len(all))
	for i, r := range all {
		out[i] = r.ReloadRecord
	}
	return out
}

// record keeps r, logs it once and counts it in the metrics. Records of
// other sources than the config file are logged where they are made.
func (g *Gateway) record(r ReloadRecord) {
	g.reloads.add(r)
	g.metrics.reloaded(r)
	if r.Trigger == TriggerDNS {
		attrs := []any{"name", r.Name, "duration", r.Duration.Round(time.Microsecond)}
		if r.Result == ResultApplied {
			g.logger.Info("name's addresses changed; generation applied", append(attrs, "generation", r.Generation,
				"carried", r.Carried, "added", r.Added, "removed", r.Removed)...)
		} else {
			g.logger.Error("name's addresses changed; generation rejected, the running one serves on", append(attrs, "error", r.Error)...)
		}
		return
	}
	if sourceOf(r.Trigger) != configSource {
		return
	}
	attrs := []any{"trigger", r.Trigger, "hash", ShortHash(r.Hash), "duration", r.Duration.Round(time.Microsecond)}
	switch r.Result {
	case ResultApplied:
		g.logger.Info("config applied", append(attrs, "generation", r.Generation,
			"carried", r.Carried, "added", r.Added, "removed", r.Removed)...)
		return
	case ResultUnchanged:
		g.logger.Info("config unchanged; the running generation serves on", append(attrs, "generation", r.Generation)...)
		return
	}
	msg := "config rejected; the running config keeps serving"
	if g.gen.Load() == nil {
		msg = "config rejected"
	}
	g.logger.Error(msg, append(attrs, "error", r.Error)...)
}

// ShortHash returns the first 12 hex digits of a config hash, the form the
// gateway's logs and `gateway status` show.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
