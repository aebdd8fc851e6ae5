package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatewayhq/gateway/gateway/config"
)

// The results of a lookup, as gateway_dns_resolutions_total counts them
// in its label result.
const (
	// resolveOK: an answer with addresses.
	resolveOK = "ok"
	// resolveEmpty: an answer that the name has no address: NXDOMAIN,
	// or NOERROR without A or AAAA records. What a headless Service
	// scaled to zero answers.
	resolveEmpty = "empty"
	// resolveTimeout: no resolver answered in time.
	resolveTimeout = "timeout"
	// resolveError: every resolver failed otherwise: SERVFAIL, REFUSED,
	// unreachable, or an answer that could not be read.
	resolveError = "error"
)

// resolveResults lists the results, in the order [nameWatch] counts them.
var resolveResults = [...]string{resolveOK, resolveEmpty, resolveTimeout, resolveError}

// answer is what one lookup of a name came to.
type answer struct {
	// addrs are the addresses of an ok answer, sorted, each once; nil
	// otherwise.
	addrs []netip.Addr
	// result is one of [resolveResults].
	result string
	// err says why there are no addresses; nil for an ok answer.
	err error
}

// lookupFunc looks name up and says what came of it; ctx ends the lookup
// early. [dnsClient.lookup] is the one the gateway uses.
type lookupFunc func(ctx context.Context, name string) answer

// dnsClient looks up the names of resolved servers. It asks the
// standard library's DNS client (net.Resolver with PreferGo) for the A
// and AAAA records of the name, fully qualified, sent together to one
// resolver with the timeout as the bound of both; it asks the next
// resolver only when one fails, not when one answers that the name has
// no address. The standard library sends the queries, asks again over
// TCP when an answer comes truncated, and answers a name with a dot that
// /etc/hosts lists from that file (it looks a name up as fully
// qualified there too, and keys a single-label name without the dot).
type dnsClient struct {
	// servers are the resolvers' addresses, "IP:port", and resolvers the
	// clients that ask them, one each.
	servers   []string
	resolvers []*net.Resolver
	timeout   time.Duration
}

// resolvConf is the file that names the system's resolvers.
const resolvConf = "/etc/resolv.conf"

// newDNSClient returns the client that cfg configures: it asks the
// resolvers cfg names, or else the nameservers of /etc/resolv.conf, read
// now.
func newDNSClient(cfg config.DNSConfig) *dnsClient {
	servers := cfg.Resolvers
	if len(servers) == 0 {
		data, _ := os.ReadFile(resolvConf)
		servers = nameservers(data)
	}
	c := &dnsClient{servers: servers, timeout: cfg.Timeout}
	for _, server := range servers {
		var d net.Dialer
		c.resolvers = append(c.resolvers, &net.Resolver{
			PreferGo: true,
			// A failure of A or of AAAA fails the lookup, so that a
			// flaky resolver cannot drop one family from the set.
			StrictErrors: true,
			// The standard library dials the servers of resolv.conf;
			// every query goes to this one instead.
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, server)
			},
		})
	}
	return c
}

// lookup asks the resolvers in turn for the addresses of name, each
// within the client's timeout, until one answers.
func (c *dnsClient) lookup(ctx context.Context, name string) answer {
	fqdn := name + "."
	last := answer{result: resolveError, err: errors.New("no resolver")}
	for i, r := range c.resolvers {
		qctx, cancel := context.WithTimeout(ctx, c.timeout)
		addrs, err := r.LookupNetIP(qctx, "ip", fqdn)
		cancel()
		last = toAnswer(name, c.servers[i], addrs, err)
		if last.result == resolveOK || last.result == resolveEmpty || ctx.Err() != nil {
			break
		}
	}
	return last
}

// toAnswer turns what the resolver at server said of name into an
// answer: the addresses sorted and each once, or why there are none.
func toAnswer(name, server string, addrs []netip.Addr, err error) answer {
	if err == nil {
		for i, a := range addrs {
			addrs[i] = a.Unmap().WithZone("")
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		if len(addrs) == 0 {
			return answer{result: resolveEmpty, err: fmt.Errorf("lookup %s on %s: no address", name, server)}
		}
		return answer{addrs: addrs, result: resolveOK}
	}
	cause := err.Error()
	var de *net.DNSError
	if errors.As(err, &de) {
		// The error's own text names the server the standard library
		// thought it asked, from resolv.conf, not the one dialled.
		cause = de.Err
	}
	a := answer{result: resolveError, err: fmt.Errorf("lookup %s on %s: %s", name, server, cause)}
	switch {
	case de != nil && de.IsNotFound:
		a.result, a.err = resolveEmpty, fmt.Errorf("lookup %s on %s: no such host (NXDOMAIN, or no A or AAAA record)", name, server)
	case de != nil && de.IsTimeout, errors.Is(err, context.DeadlineExceeded):
		a.result = resolveTimeout
	}
	return a
}

// nameservers returns the nameservers that a resolv.conf file lists, as
// "IP:53", in its order. A file that lists none gives the local server,
// 127.0.0.1:53 and [::1]:53, as the C library's resolver and the
// standard library's ask then.
func nameservers(resolvConf []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(resolvConf))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil {
			out = append(out, netip.AddrPortFrom(a.Unmap(), 53).String())
		}
	}
	if len(out) == 0 {
		return []string{"127.0.0.1:53", "[::1]:53"}
	}
	return out
}
