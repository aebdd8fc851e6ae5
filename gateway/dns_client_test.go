package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

func TestDNSClientAnswers(t *testing.T) {
	srv := startDNSServer(t)
	srv.set("v4.gateway.test", "127.0.0.3", "127.0.0.2", "127.0.0.3")
	srv.set("dual.gateway.test", "fd00::2", "127.0.0.2", "::ffff:127.0.0.4")
	srv.set("nodata.gateway.test")
	srv.fail("servfail.gateway.test", rcodeServFail)
	srv.fail("refused.gateway.test", rcodeRefused)
	srv.silence("silent.gateway.test")
	var many []string
	for i := range 200 {
		many = append(many, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	}
	srv.set("many.gateway.test", many...)
	sortedMany := func() []netip.Addr {
		var out []netip.Addr
		for _, a := range many {
			out = append(out, netip.MustParseAddr(a))
		}
		slices.SortFunc(out, netip.Addr.Compare)
		return out
	}()

	client := newDNSClient(config.DNSConfig{Resolvers: []string{srv.addr}, Timeout: 300 * time.Millisecond})
	for _, tt := range []struct {
		name   string
		result string
		addrs  []netip.Addr
		err    string
	}{
		{"v4.gateway.test", resolveOK, []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}, ""},
		{"dual.gateway.test", resolveOK, []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("fd00::2")}, ""},
		{"many.gateway.test", resolveOK, sortedMany, ""},
		{"nxdomain.gateway.test", resolveEmpty, nil, "lookup nxdomain.gateway.test on " + srv.addr + ": no such host (NXDOMAIN, or no A or AAAA record)"},
		{"nodata.gateway.test", resolveEmpty, nil, "lookup nodata.gateway.test on " + srv.addr + ": no such host"},
		{"servfail.gateway.test", resolveError, nil, "lookup servfail.gateway.test on " + srv.addr + ": server misbehaving"},
		{"refused.gateway.test", resolveError, nil, "lookup refused.gateway.test on " + srv.addr + ": server misbehaving"},
		{"silent.gateway.test", resolveTimeout, nil, "lookup silent.gateway.test on " + srv.addr + ": i/o timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := client.lookup(context.Background(), tt.name)
			if a.result != tt.result || !slices.Equal(a.addrs, tt.addrs) {
				t.Fatalf("lookup: %s %v (%v), want %s %v", a.result, a.addrs, a.err, tt.result, tt.addrs)
			}
			if tt.err == "" && a.err != nil || tt.err != "" && (a.err == nil || !strings.HasPrefix(a.err.Error(), tt.err)) {
				t.Fatalf("lookup error %v, want one starting %q", a.err, tt.err)
			}
		})
	}
	if a, aaaa := srv.queried("v4.gateway.test"); a != 1 || aaaa != 1 {
		t.Errorf("a lookup sent %d A and %d AAAA queries, want one of each", a, aaaa)
	}
}

// TestDNSClientNextResolver checks that a resolver that fails hands the
// lookup to the next one, and that one that says the name has no address
// does not.
func TestDNSClientNextResolver(t *testing.T) {
	closed, failing, good := startDNSServer(t), startDNSServer(t), startDNSServer(t)
	closed.udp.Close()
	down := closed.addr
	failing.fail("app.gateway.test", rcodeServFail)
	good.set("app.gateway.test", "127.0.0.2")
	client := newDNSClient(config.DNSConfig{Resolvers: []string{down, failing.addr, good.addr}, Timeout: time.Second})
	if a := client.lookup(context.Background(), "app.gateway.test"); a.result != resolveOK || len(a.addrs) != 1 {
		t.Fatalf("lookup past a closed port and a SERVFAIL: %s %v %v, want the third resolver's address", a.result, a.addrs, a.err)
	}

	empty := startDNSServer(t)
	empty.fail("app.gateway.test", rcodeNXDomain)
	client = newDNSClient(config.DNSConfig{Resolvers: []string{empty.addr, good.addr}, Timeout: time.Second})
	if a := client.lookup(context.Background(), "app.gateway.test"); a.result != resolveEmpty {
		t.Fatalf("lookup after an NXDOMAIN: %s %v, want empty: the first answer stands", a.result, a.addrs)
	}
	if a, aaaa := good.queried("app.gateway.test"); a != 1 || aaaa != 1 {
		t.Fatalf("the resolver after an NXDOMAIN got %d A and %d AAAA queries, want only those of the first lookup", a, aaaa)
	}

	client = newDNSClient(config.DNSConfig{Resolvers: []string{down}, Timeout: time.Second})
	if a := client.lookup(context.Background(), "app.gateway.test"); a.result != resolveError || !strings.Contains(a.err.Error(), "on "+down+": ") {
		t.Fatalf("lookup on a closed port: %s %v, want an error naming the resolver", a.result, a.err)
	}
}

func TestNameservers(t *testing.T) {
	for _, tt := range []struct {
		name, conf string
		want       []string
	}{
		{"kubernetes", "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n", []string{"10.96.0.10:53"}},
		{"several and IPv6", "nameserver 10.0.0.1\nnameserver fd00::53 # site\n;nameserver 10.0.0.9\nnameserver fe80::1%eth0\n", []string{"10.0.0.1:53", "[fd00::53]:53", "[fe80::1%eth0]:53"}},
		{"tabs and junk", "nameserver\t10.0.0.2\nnameserver not-an-ip\nnameserver\nnameservers 10.0.0.3\n", []string{"10.0.0.2:53"}},
		{"none", "search example.com\n", []string{"127.0.0.1:53", "[::1]:53"}},
		{"empty", "", []string{"127.0.0.1:53", "[::1]:53"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nameservers([]byte(tt.conf)); !slices.Equal(got, tt.want) {
				t.Errorf("nameservers = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzNameservers(f *testing.F) {
	f.Add([]byte("nameserver 10.96.0.10\noptions ndots:5\n"))
	f.Add([]byte("nameserver fe80::1%eth0 ; x\n# nameserver 1.2.3.4\n"))
	f.Fuzz(func(t *testing.T, conf []byte) {
		for _, s := range nameservers(conf) {
			if _, err := netip.ParseAddrPort(s); err != nil {
				t.Fatalf("nameservers gave %q, which does not parse: %v", s, err)
			}
		}
	})
}

// TestResolveNames checks the lookups of validate --resolve: each name
// once, in config order, in the spelling it is looked up under.
func TestResolveNames(t *testing.T) {
	srv := startDNSServer(t)
	srv.set("a.gateway.test", "127.0.0.3", "127.0.0.2")
	srv.fail("b.gateway.test", rcodeNXDomain)
	srv.silence("c.gateway.test")
	cfg, err := config.Decode("t.yaml", []byte(fmt.Sprintf(`dns: {resolvers: [%q], timeout: 200ms}
pools:
  p:
    servers:
      - {url: "http://a.gateway.test:8080", resolve: true}
      - {url: "http://b.gateway.test", resolve: true}
      - http://static.gateway.test
  q:
    servers:
      - {url: "https://c.gateway.test", resolve: true}
      - {url: "http://A.Gateway.Test.:9090", resolve: true}
routes:
  - {pathPrefix: /q, pool: q}
  - {pool: p}
`, srv.addr)))
	if err != nil {
		t.Fatal(err)
	}
	got := ResolveNames(context.Background(), cfg)
	want := []struct {
		name, addrs, err string
		answered         bool
	}{
		{"a.gateway.test", "[127.0.0.2 127.0.0.3]", "", true},
		{"b.gateway.test", "[]", "no such host", true},
		{"c.gateway.test", "[]", "i/o timeout", false},
	}
	if len(got) != len(want) {
		t.Fatalf("ResolveNames = %+v, want %d names", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || fmt.Sprint(g.Addresses) != w.addrs || (g.ResolvedAt != nil) != w.answered ||
			(w.err == "") != (g.Error == "") || !strings.Contains(g.Error, w.err) {
			t.Errorf("name %d: %+v, want %s %s answered %t error %q", i, g, w.name, w.addrs, w.answered, w.err)
		}
	}
	if a, aaaa := srv.queried("static.gateway.test"); a+aaaa != 0 {
		t.Error("a server that is not resolved was looked up")
	}
}
