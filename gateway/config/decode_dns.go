package config

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// defaultDNS returns the `dns` settings a file leaves out.
func defaultDNS() DNSConfig {
	return DNSConfig{Refresh: 5 * time.Second, Timeout: 2 * time.Second}
}

// dns decodes the `dns` mapping into c.
func (d *decoder) dns(n *yaml.Node, path string, c *DNSConfig) {
	f, ok := d.fields(n, path, "a mapping of DNS settings", "resolvers", "refresh", "timeout")
	if !ok {
		return
	}
	if e, ok := f["resolvers"]; ok {
		c.Resolvers = d.resolvers(e.value, keyPath(path, e.key))
	}
	d.setDuration(f, path, "refresh", &c.Refresh, false)
	d.setDuration(f, path, "timeout", &c.Timeout, false)
}

// resolvers decodes a list of DNS servers, each an IP address with an
// optional port.
func (d *decoder) resolvers(n *yaml.Node, path string) []string {
	list, _ := d.items(n, path, "a list of DNS server addresses", "empty; leave the key out to use the nameservers of /etc/resolv.conf")
	var out []string
	seen := map[string]int{}
	for i, item := range list {
		s, ok := d.str(item, itemPath(path, i))
		if !ok {
			continue
		}
		addr, err := parseResolver(s)
		if err != nil {
			d.addf(item, itemPath(path, i), "%v", err)
			continue
		}
		if j, dup := seen[addr]; dup {
			d.addf(item, itemPath(path, i), "the same resolver as resolvers[%d]", j)
			continue
		}
		seen[addr] = i
		out = append(out, addr)
	}
	return out
}

// resolverForms says how a resolver is written.
const resolverForms = `an IP address with an optional port, such as "10.96.0.10", "10.96.0.10:53" or "[fd00::10]:53"`

// parseResolver parses a DNS server's address, an IP address with an
// optional port (53 when left out), into "IP:port".
func parseResolver(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		host := s
		if h, _, err := net.SplitHostPort(s); err == nil {
			host = h
		}
		if isHostName(host) && strings.ContainsFunc(host, unicode.IsLetter) {
			return "", errors.New("a resolver is an IP address, not a name; use " + resolverForms)
		}
		return "", errors.New("invalid resolver address; use " + resolverForms)
	}
	if ap.Port() == 0 {
		return "", errors.New("the port must be a number from 1 to 65535")
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String(), nil
}

// checkResolvable returns what keeps host, a server URL's host, from
// being looked up in DNS, or "".
func checkResolvable(host string) string {
	const name = "resolve: true needs a DNS name in url: labels of 1 to 63 letters, digits, '-' and '_', joined by '.'"
	if isIP(host) {
		return "resolve: true needs a host name in url, not an IP address"
	}
	trimmed := strings.TrimSuffix(host, ".")
	if !isHostName(trimmed) {
		return name
	}
	for label := range strings.SplitSeq(trimmed, ".") {
		if label == "" || len(label) > 63 {
			return name
		}
	}
	return ""
}

// Name returns the host name of the server's URL, lowercased and
// without a trailing dot: for a resolved server ([ServerConfig.Resolve]),
// the name its addresses are looked up under, as a fully qualified name.
func (s ServerConfig) Name() string {
	return strings.TrimSuffix(strings.ToLower(s.URL.Hostname()), ".")
}
