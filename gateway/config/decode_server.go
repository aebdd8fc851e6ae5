package config

import (
	"errors"
	"fmt"
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

// serverIdentity returns what makes two server URLs the same backend:
// scheme, host and port, with the scheme's default port filled in and IP
// addresses in canonical form.
func serverIdentity(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if n, err := strconv.Atoi(port); err == nil {
		port = strconv.Itoa(n)
	}
	return u.Scheme + "://" + host + ":" + port
}
