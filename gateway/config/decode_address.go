package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// addressForms says how a listen address is written.
const addressForms = `an address such as ":8080" or "127.0.0.1:8080", or a port number`

// listenAddresses decodes `listen` (or its alias `port`) and `admin`.
func (d *decoder) listenAddresses(f map[string]mapEntry, c *Config) {
	listen, hasListen := f["listen"]
	listenOK := true
	if port, hasPort := f["port"]; hasPort {
		if hasListen {
			d.add(port.at, port.key, "", "port is another name for listen; set only one of them")
			hasListen, listenOK = false, false
		} else {
			listen, hasListen = port, true
		}
	}
	if hasListen {
		addr, ok := d.address(listen.value, listen.key, "")
		switch {
		case ok && addr == "":
			d.add(listen.value, listen.key, "", "must not be empty; use "+addressForms)
			listenOK = false
		case ok:
			c.Listen = addr
		default:
			listenOK = false
		}
	}
	admin, ok := f["admin"]
	if !ok {
		return
	}
	addr, ok := d.address(admin.value, admin.key, "127.0.0.1")
	if !ok {
		return
	}
	if listenOK && addr != "" && sameListener(c.Listen, addr) {
		d.addf(admin.value, admin.key, "the admin listener needs an address apart from listen %q", c.Listen)
		return
	}
	c.Admin = addr
}

// address decodes a listener's address: a port number, ":port" or
// "host:port", where a missing host becomes defaultHost. An empty string
// gives "".
func (d *decoder) address(n *yaml.Node, path, defaultHost string) (string, bool) {
	v := d.scalar(n, path, addressForms)
	if v == nil {
		return "", false
	}
	var host, port string
	switch v.ShortTag() {
	case tagInt:
		i, err := parseYAMLInt(v.Value)
		if err != nil {
			i = -1
		}
		port = strconv.FormatInt(i, 10)
	case tagStr:
		switch {
		case v.Value == "":
			return "", true
		case isASCIIDigits(v.Value):
			port = v.Value
		default:
			h, p, err := net.SplitHostPort(v.Value)
			if err != nil || (h != "" && !isHostName(h) && !isIP(h)) {
				d.addf(n, path, "invalid address; use %s", addressForms)
				return "", false
			}
			host, port = h, p
		}
	default:
		d.typeError(n, v, path, addressForms)
		return "", false
	}
	num, err := strconv.Atoi(port)
	if err != nil || !isASCIIDigits(port) || num > 65535 {
		d.addf(n, path, "the port must be a number from 0 to 65535")
		return "", false
	}
	if host == "" {
		host = defaultHost
	}
	return net.JoinHostPort(host, strconv.Itoa(num)), true
}

// sameListener reports whether listeners on addresses a and b would claim
// the same port: the ports match and the hosts match or either is a
// wildcard. Port 0 picks a free port, so it never clashes.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return wildcard(ha) || wildcard(hb) || strings.EqualFold(ha, hb)
}

// isASCIIDigits reports whether s is a non-empty run of ASCII digits.
func isASCIIDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isIP reports whether s is an IP address, with an optional IPv6 zone.
func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// isHostName reports whether s is made of the characters host names use:
// letters, digits, '-', '_' and '.', at most 253 of them.
func isHostName(s string) bool {
	return s != "" && len(s) <= 253 && hasOnlyNameChars(s, "-_.")
}

// hasOnlyNameChars reports whether s holds only ASCII letters, digits
// and bytes of punct.
func hasOnlyNameChars(s, punct string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return false
		}
	}
	return true
}

// trustedProxies decodes a list of IP addresses and CIDR prefixes.
func (d *decoder) trustedProxies(n *yaml.Node, path string) []netip.Prefix {
	list, _ := d.items(n, path, "a list of IP addresses and CIDR prefixes", "")
	var out []netip.Prefix
	for i, item := range list {
		s, ok := d.str(item, itemPath(path, i))
		if !ok {
			continue
		}
		p, err := parseTrustedProxy(s)
		if err != nil {
			d.addf(item, itemPath(path, i), "%v", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// parseTrustedProxy parses a CIDR prefix such as "10.0.0.0/8", or a bare
// IP address, which stands for itself alone.
func parseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf(`invalid CIDR prefix; use a prefix such as "10.0.0.0/8" or an IP address`)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf(`invalid IP address; use an IP address or a prefix such as "10.0.0.0/8"`)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("an IPv6 zone is not allowed here")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
