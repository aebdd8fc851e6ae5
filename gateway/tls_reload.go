package gateway

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"time"
)

// Certificates reload like the config: [Run] has the watcher watch every
// TLS file the running config names ([Gateway.watchedPaths]), by the same
// rules as the config file (the directory watched, symbolic links
// followed, events debounced), and hands each read of one to
// [Gateway.certificateRead]. What is made of the file is read again and
// checked as a whole: a key pair is applied only when its key matches its
// certificate and its chain parses, so that a tool that writes the key
// and then the certificate makes one rejected attempt (the mismatched
// moment) and then one applied, while the previous certificate serves
// throughout. Nothing else changes: no generation is built, and the
// connections already open keep the certificate they were made with.

// certificateRead takes what the watcher read at TLS file r.Path and
// reloads every key pair and CA bundle of the running config read from it.
func (g *Gateway) certificateRead(r FileRead) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.tls.Load()
	if st == nil || g.closed {
		return
	}
	keys := slices.SortedFunc(func(yield func(pairKey) bool) {
		for k := range st.pairs {
			if (k.certFile == r.Path || k.keyFile == r.Path) && !yield(k) {
				return
			}
		}
	}, func(a, b pairKey) int {
		return cmp.Or(cmp.Compare(a.certFile, b.certFile), cmp.Compare(a.keyFile, b.keyFile))
	})
	for _, k := range keys {
		p := st.pairs[k]
		loaded := p.certHash
		if r.Path == p.keyFile {
			loaded = p.keyHash
		}
		g.reloadTLSFile(r, p.certFile, loaded, func() (*keyPair, *caBundle, bool, error) {
			next, err := loadKeyPair(p.certFile, p.keyFile)
			if err != nil {
				return nil, nil, false, err
			}
			return next, nil, next.certHash == p.certHash && next.keyHash == p.keyHash, nil
		})
	}
	if b := st.cas[r.Path]; b != nil {
		g.reloadTLSFile(r, b.file, b.hash, func() (*keyPair, *caBundle, bool, error) {
			next, err := loadCABundle(b.file, "caFile")
			if err != nil {
				return nil, nil, false, err
			}
			return nil, next, next.hash == b.hash, nil
		})
	}
}

// reloadTLSFile reloads what label (a pair's certFile, or a CA file) names
// after the watcher read r, whose content was loaded with the hash loaded:
// load reads it again, and returns the new pair or bundle, or that it is
// the same as the one serving, or why it cannot be used. A read of the
// content that serves is skipped when the last attempt succeeded, whether
// the watcher found it (a touch) or a signal asked for it: a SIGHUP reads
// every TLS file again, and records of nothing would push the
// certificates' last errors out of /reloads. Every other attempt is recorded with
// trigger certificate, counted and logged once; a new pair or bundle is
// published with one atomic store, and backends whose TLS material it
// changes get new connections.
func (g *Gateway) reloadTLSFile(r FileRead, label, loaded string, load func() (*keyPair, *caBundle, bool, error)) {
	st := g.tls.Load()
	_, failing := st.failed[label]
	rec := ReloadRecord{Trigger: TriggerCertificate, File: r.Path, Time: time.Now()}
	if r.Err == nil {
		rec.Hash = hashOf(r.Data)
		if rec.Hash == loaded && !failing {
			return
		}
	}
	p, b, same, err := load()
	switch {
	case err != nil:
		rec.Result, rec.Error = ResultRejected, fileMessage(err)
		g.tls.Store(st.marked(label, rec.Error))
	case same:
		rec.Result = ResultUnchanged
		g.tls.Store(st.marked(label, ""))
	default:
		next := st.with(p, b).marked(label, "")
		g.tls.Store(next)
		g.rotateBackendTLS(st, next)
		rec.Result = ResultApplied
	}
	if gen := g.gen.Load(); gen != nil && rec.ok() {
		rec.Generation = gen.number
	}
	rec.Duration = time.Since(rec.Time)
	g.record(rec)

	args := []any{"file", r.Path, "duration", rec.Duration.Round(time.Microsecond)}
	switch {
	case err != nil:
		g.logger.Error("TLS file rejected; the previous certificate keeps serving", append(args, "error", rec.Error)...)
	case same:
		g.logger.Info("TLS file unchanged", args...)
	case p != nil:
		g.logger.Info("certificate reloaded; new handshakes get it", append(args, "certFile", p.certFile,
			"names", p.names, "notAfter", p.leaf().NotAfter, "sha256", p.fingerprint)...)
	default:
		g.logger.Info("CA file reloaded; new handshakes verify with it", args...)
	}
}

// fileMessage returns what is wrong with a TLS file, as err says it.
func fileMessage(err error) string {
	var fe *fileError
	if errors.As(err, &fe) {
		return fe.message
	}
	return err.Error()
}

// marked returns a copy of st in which the last reload of label failed
// with message, or succeeded when message is "".
func (st *tlsState) marked(label, message string) *tlsState {
	next := *st
	next.failed = maps.Clone(st.failed)
	if next.failed == nil {
		next.failed = make(map[string]string)
	}
	if message != "" {
		next.failed[label] = message
	} else {
		delete(next.failed, label)
	}
	return &next
}

// rotateBackendTLS gives every backend whose TLS material old had and next
// replaced the new material: new connections, its health state kept.
func (g *Gateway) rotateBackendTLS(old, next *tlsState) {
	for s, ct := range old.clients {
		if nt := next.clients[s]; nt != nil && nt != ct {
			for _, b := range g.live {
				b.rotateTLS(ct, nt)
			}
		}
	}
}
