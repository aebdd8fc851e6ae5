package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// parseServerURL parses a backend's URL: scheme http or https, a host and
// an optional port, nothing else. The scheme and host are lowercased; the
// rest is kept as written.
func parseServerURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("missing scheme; write it as %q", "http://"+raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("the scheme must be http or https")
	case u.User != nil:
		return nil, errors.New("user info is not allowed in a server URL")
	case u.Hostname() == "":
		return nil, errors.New("missing host")
	case u.Path != "" && u.Path != "/":
		return nil, errors.New(`a server URL has no path (only "/"); routes choose paths`)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("a query is not allowed in a server URL")
	case strings.Contains(raw, "#"):
		return nil, errors.New("a fragment is not allowed in a server URL")
	}
	if strings.HasSuffix(u.Host, ":") {
		return nil, errors.New("empty port; leave out the ':' or give a port")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("the port must be a number from 1 to 65535")
		}
	}
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

// CanonicalURL returns the canonical spelling of a server URL,
// "scheme://host:port": scheme and host lowercased, the scheme's default
// port filled in, the port without leading zeros and an IP address in its
// canonical form (an IPv4-mapped IPv6 address as IPv4, IPv6 in brackets).
// Two server URLs with the same canonical spelling name the same server:
// the duplicate check of a pool's servers compares them, and the gateway
// identifies a pool's backend by it, so a reload that only respells a URL
// keeps the backend.
func CanonicalURL(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	port := u.Port()
	if n, err := strconv.Atoi(port); err == nil {
		port = strconv.Itoa(n)
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
