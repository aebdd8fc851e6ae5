package adminclient_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway"
	"github.com/gatewayhq/gateway/gateway/adminclient"
)

// startGateway runs a gateway with an admin listener on one pool "p" of
// the backend at url, and returns it with the config it was given.
func startGateway(t *testing.T, url string) (*gateway.Gateway, string) {
	t.Helper()
	config := "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\npools:\n  p:\n    algorithm: round_robin\n" +
		"    healthCheck: {enabled: false}\n    servers:\n      - " + url + "\n"
	g := gateway.New(gateway.Options{})
	if _, err := g.Load("test.yaml", []byte(config), gateway.TriggerStart); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g, config
}

func TestWriteStatusTableOfRunningGateway(t *testing.T) {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(b.Close)
	g, config := startGateway(t, b.URL)
	body, err := adminclient.Status(context.Background(), g.AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := adminclient.WriteStatusTable(&out, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(config))
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "generation 1  hash "+hex.EncodeToString(sum[:6])) {
		t.Errorf("header %q", lines[0])
	}
	if !strings.Contains(out.String(), "\npool p (round_robin)\nBACKEND ") || !strings.Contains(out.String(), b.URL+"  up ") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestStatusTakesAddressOrURL(t *testing.T) {
	const answer = `{"ready": true}` + "\n"
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(answer))
	}))
	t.Cleanup(admin.Close)
	for _, addr := range []string{admin.Listener.Addr().String(), admin.URL} {
		body, err := adminclient.Status(context.Background(), addr)
		if err != nil || string(body) != answer {
			t.Errorf("Status(%q) = %q, %v; want %q", addr, body, err, answer)
		}
	}
}

func TestStatusErrors(t *testing.T) {
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(unavailable.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	closed := gone.Listener.Addr().String()
	gone.Close()

	for _, tc := range []struct {
		name, addr string
		want       string // a substring, or the whole message when exact
		exact      bool
	}{
		{"refused", closed, "connection refused (is the admin listener configured with `admin:`?)", false},
		{"not 200", unavailable.Listener.Addr().String(), unavailable.URL + " answered 503 Service Unavailable", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := adminclient.Status(context.Background(), tc.addr)
			switch {
			case err == nil:
				t.Fatalf("Status(%q) = %q, want an error", tc.addr, body)
			case tc.exact && err.Error() != tc.want, !tc.exact && !strings.HasSuffix(err.Error(), tc.want):
				t.Fatalf("Status(%q) error %q, want %q", tc.addr, err, tc.want)
			}
		})
	}
}
