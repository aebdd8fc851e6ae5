package gateway

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/testcert"
)

// TestParseCertificates checks what a certificate file may hold: a
// chain, text around its blocks and blocks of other types pass; a file
// cut anywhere, or with a block that is not PEM, is refused, so that a
// chain read half written never loads without its intermediate.
func TestParseCertificates(t *testing.T) {
	ca := testcert.NewCA(t, "parse")
	chain := ca.Issue(t, testcert.ECDSA, time.Time{}, "a.example").CertPEM
	end := []byte("-----END CERTIFICATE-----\n")
	leafEnd := bytes.Index(chain, end) + len(end)
	leaf, inter := chain[:leafEnd], chain[leafEnd:]
	broken := []byte("-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n")
	key := []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n")

	for _, tt := range []struct {
		name  string
		data  []byte
		certs int
		err   string
	}{
		{"a chain", chain, 2, ""},
		{"text around the blocks", bytes.Join([][]byte{[]byte("subject=CN = a.example\n"), leaf, []byte("issuer=CN = parse\n"), inter, []byte("\n")}, nil), 2, ""},
		{"a key block beside the chain", append(append([]byte{}, chain...), key...), 2, ""},
		{"cut in the leaf", chain[:leafEnd/2], 0, "no PEM certificate in tls.crt"},
		{"cut in the leaf's END line", chain[:leafEnd-10], 0, "no PEM certificate in tls.crt"},
		{"cut in the intermediate", chain[:leafEnd+len(inter)/2], 0, "the PEM block after certificate 1 in tls.crt is cut short or malformed"},
		{"cut in the intermediate's END line", chain[:len(chain)-10], 0, "the PEM block after certificate 1 in tls.crt is cut short or malformed"},
		{"a broken block between", bytes.Join([][]byte{leaf, broken, inter}, nil), 0, "the PEM block after certificate 1 in tls.crt is cut short or malformed"},
		{"a broken block first", bytes.Join([][]byte{broken, chain}, nil), 0, "the PEM block before the first certificate in tls.crt is cut short or malformed"},
		{"no PEM", []byte("garbage\n"), 0, "no PEM certificate in tls.crt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ders, certs, err := parseCertificates(tt.data, "tls.crt", "certFile")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || len(ders) != tt.certs || len(certs) != tt.certs {
				t.Fatalf("%d certificates, error %v; want %d", len(certs), err, tt.certs)
			}
			if names := certs[0].DNSNames; len(names) != 1 || names[0] != "a.example" {
				t.Fatalf("the first certificate is for %v, want the leaf's a.example", names)
			}
		})
	}
}
