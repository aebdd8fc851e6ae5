package gateway

import (
	"slices"
	"strings"
	"testing"
)

// TestForwardedForJoinsRepeatedHeaders checks that X-Forwarded-For lines
// the client repeated reach the backend as one header, in order, with the
// client's address last, so no stale second line follows the joined one.
func TestForwardedForJoinsRepeatedHeaders(t *testing.T) {
	tests := []struct {
		name, lines string
		want        []string
	}{
		{"none", "", []string{"127.0.0.1"}},
		{"one", "X-Forwarded-For: 203.0.113.7\r\n", []string{"203.0.113.7, 127.0.0.1"}},
		{"two", "X-Forwarded-For: 203.0.113.7\r\nx-forwarded-for: 198.51.100.2, 192.0.2.9\r\n", []string{"203.0.113.7, 198.51.100.2, 192.0.2.9, 127.0.0.1"}},
	}
	b := startBackend(t, "a", nil)
	_, base := startGateway(t, poolConfig("round_robin", "", b.URL))
	addr := strings.TrimPrefix(base, "http://")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := string(sendRaw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"+tt.lines+"\r\n"))
			if !strings.HasPrefix(answer, "HTTP/1.1 200") {
				t.Fatalf("answer %q, want 200", firstLine(answer))
			}
			r := <-b.last
			if got := r.Header.Values("X-Forwarded-For"); !slices.Equal(got, tt.want) {
				t.Fatalf("backend saw X-Forwarded-For %q, want %q", got, tt.want)
			}
		})
	}
}
