package gateway

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CertificateStatus describes a certificate the running config names: one
// the HTTPS listener serves, or one shown to backends.
type CertificateStatus struct {
	// CertFile and KeyFile are the files it was read from.
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// Use is "server" for a certificate the HTTPS listener serves, and
	// "client" for one shown to backends.
	Use string `json:"use"`
	// Subject is the leaf's subject, Names its DNS names.
	Subject string   `json:"subject"`
	Names   []string `json:"names"`
	// NotAfter is when the leaf expires.
	NotAfter time.Time `json:"notAfter"`
	// SHA256 is the hex SHA-256 fingerprint of the leaf.
	SHA256 string `json:"sha256"`
	// ReloadError is why the last reload of the files was rejected; the
	// certificate described is the one that serves on. Empty when the
	// last reload applied.
	ReloadError string `json:"reloadError,omitempty"`
}

// certificates describes every certificate of st, in config order.
func (st *tlsState) certificates() []CertificateStatus {
	if st == nil {
		return nil
	}
	var out []CertificateStatus
	for _, ref := range st.refs {
		p := st.pairs[ref.key]
		use := "client"
		if ref.server {
			use = "server"
		}
		out = append(out, CertificateStatus{
			CertFile: p.certFile, KeyFile: p.keyFile, Use: use,
			Subject: p.leaf().Subject.String(), Names: slices.Clone(p.names),
			NotAfter: p.leaf().NotAfter, SHA256: p.fingerprint,
			ReloadError: st.failed[p.certFile],
		})
	}
	return out
}

// The descriptions of the TLS metrics.
var (
	descCertExpiry = prometheus.NewDesc("gateway_tls_certificate_expiry_timestamp_seconds",
		"Unix time at which the certificate expires (its NotAfter), for each certificate served or shown to backends.",
		[]string{"certFile", "subject"}, nil)
	descCertReloadOK = prometheus.NewDesc("gateway_tls_certificate_last_reload_successful",
		"Whether the last reload of the TLS file was applied or unchanged (1) or rejected (0), by certificate or CA file.",
		[]string{"certFile"}, nil)
)

// collectTLS sends the TLS metrics of st.
func collectTLS(ch chan<- prometheus.Metric, st *tlsState) {
	if st == nil {
		return
	}
	ok := func(file string) float64 {
		if _, failed := st.failed[file]; failed {
			return 0
		}
		return 1
	}
	seen := make(map[string]bool)
	for _, ref := range st.refs {
		p := st.pairs[ref.key]
		if seen[p.certFile] {
			continue
		}
		seen[p.certFile] = true
		ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue,
			float64(p.leaf().NotAfter.Unix()), p.certFile, p.leaf().Subject.String())
		ch <- prometheus.MustNewConstMetric(descCertReloadOK, prometheus.GaugeValue, ok(p.certFile), p.certFile)
	}
	for _, file := range slices.SortedFunc(func(yield func(string) bool) {
		for f := range st.cas {
			if !yield(f) {
				return
			}
		}
	}, cmp.Compare) {
		if !seen[file] {
			ch <- prometheus.MustNewConstMetric(descCertReloadOK, prometheus.GaugeValue, ok(file), file)
		}
	}
}
