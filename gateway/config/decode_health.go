package config

import (
	"math"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// healthCheck decodes a `healthCheck` mapping into hc, overriding only
// the keys it sets, and returns those keys.
func (d *decoder) healthCheck(n *yaml.Node, path string, hc *HealthCheckConfig) map[string]mapEntry {
	f, ok := d.fields(n, path, "a mapping of health check settings",
		"enabled", "method", "path", "host", "interval", "timeout", "healthyThreshold", "unhealthyThreshold", "expectStatus")
	if !ok {
		return nil
	}
	d.setBool(f, path, "enabled", &hc.Enabled)
	if d.setChecked(f, path, "method", &hc.Method, checkMethod) {
		hc.Method = strings.ToUpper(hc.Method)
	}
	d.setChecked(f, path, "path", &hc.Path, checkProbePath)
	d.setChecked(f, path, "host", &hc.Host, checkProbeHost)
	d.setDuration(f, path, "interval", &hc.Interval, false)
	d.setDuration(f, path, "timeout", &hc.Timeout, false)
	d.setInt(f, path, "healthyThreshold", &hc.HealthyThreshold, 1, math.MaxInt32)
	d.setInt(f, path, "unhealthyThreshold", &hc.UnhealthyThreshold, 1, math.MaxInt32)
	if e, ok := f["expectStatus"]; ok {
		if rs, ok := d.expectStatus(e.value, keyPath(path, e.key)); ok {
			hc.ExpectStatus = rs
		}
	}
	return f
}

// checkMethod returns what is wrong with a probe's method, or "".
func checkMethod(m string) string {
	if m == "" || !hasOnlyNameChars(m, "!#$%&'*+-.^_`|~") {
		return "not an HTTP method; use a method such as HEAD or GET"
	}
	return ""
}

// checkProbePath returns what is wrong with a probe's path, or "".
func checkProbePath(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return `must start with "/"`
	case strings.ContainsFunc(p, isSpaceOrControl):
		return "must not contain spaces or control characters"
	}
	return ""
}

// checkProbeHost returns what is wrong with a probe's Host header, or "":
// it is a host name, an IPv4 address or an IPv6 address in brackets, with
// an optional port.
func checkProbeHost(h string) string {
	switch {
	case h == "":
		return "must not be empty; leave the key out to send the backend's address"
	case strings.Contains(h, "://"):
		return "must be a host without a scheme, such as example.com"
	case strings.Contains(h, "/"):
		return "must be a host without a path, such as example.com"
	}
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "invalid IPv6 address; write it in brackets, such as [::1]"
		}
		host, port = h[:end+1], h[end+1:]
		if a, err := netip.ParseAddr(host[1:end]); err != nil || !a.Is6() {
			return "invalid IPv6 address"
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i:]
	}
	switch {
	case strings.Contains(host, ":") && !strings.HasPrefix(host, "["):
		return "write an IPv6 address in brackets, such as [::1]"
	case port != "" && (port[0] != ':' || !validPort(port[1:])):
		return "the port must be a number from 1 to 65535"
	case !strings.HasPrefix(host, "[") && !isHostName(host):
		return "invalid host name"
	}
	return ""
}

// validPort reports whether p is a port number from 1 to 65535.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && isASCIIDigits(p) && n >= 1 && n <= 65535
}

// isSpaceOrControl reports whether r may not appear in a request target.
func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}

// statusForms says how an expected status is written.
const statusForms = `a status such as 200, a range such as "200-399", or a list of those`

// expectStatus decodes `expectStatus`: one status or range, or a list.
func (d *decoder) expectStatus(n *yaml.Node, path string) ([]StatusRange, bool) {
	v := d.follow(n)
	if v == nil {
		return nil, false
	}
	if v.Kind != yaml.SequenceNode {
		r, ok := d.statusRange(n, path)
		return []StatusRange{r}, ok
	}
	if len(v.Content) == 0 {
		d.add(n, path, "", "empty; list at least one status")
		return nil, false
	}
	out := make([]StatusRange, 0, len(v.Content))
	allOK := true
	for i, item := range v.Content {
		r, ok := d.statusRange(item, itemPath(path, i))
		allOK = allOK && ok
		out = append(out, r)
	}
	return out, allOK
}

// statusRange decodes one status, 200 or "200", or range, "200-399".
func (d *decoder) statusRange(n *yaml.Node, path string) (StatusRange, bool) {
	v := d.scalar(n, path, statusForms)
	if v == nil {
		return StatusRange{}, false
	}
	var lo, hi string
	switch v.ShortTag() {
	case tagInt:
		lo = v.Value
		if i, err := parseYAMLInt(v.Value); err == nil {
			lo = strconv.FormatInt(i, 10)
		}
		hi = lo
	case tagStr:
		var isRange bool
		lo, hi, isRange = strings.Cut(v.Value, "-")
		if !isRange {
			hi = lo
		}
		lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
	default:
		d.typeError(n, v, path, statusForms)
		return StatusRange{}, false
	}
	l, errLo := strconv.Atoi(lo)
	h, errHi := strconv.Atoi(hi)
	switch {
	case errLo != nil || errHi != nil || !isASCIIDigits(lo) || !isASCIIDigits(hi):
		d.addf(n, path, "expected %s", statusForms)
	case l < 100 || l > 599 || h < 100 || h > 599:
		d.addf(n, path, "a status must be from 100 to 599")
	case l > h:
		d.addf(n, path, "the range runs backwards; put the lower status first")
	default:
		return StatusRange{Lo: l, Hi: h}, true
	}
	return StatusRange{}, false
}

// passive decodes a `passive` mapping into p, overriding only the keys it
// sets.
func (d *decoder) passive(n *yaml.Node, path string, p *PassiveConfig) {
	f, ok := d.fields(n, path, "a mapping of passive health settings", "maxFails", "window", "ejectFor", "on5xx")
	if !ok {
		return
	}
	d.setInt(f, path, "maxFails", &p.MaxFails, 0, math.MaxInt32)
	d.setDuration(f, path, "window", &p.Window, false)
	d.setDuration(f, path, "ejectFor", &p.EjectFor, false)
	d.setBool(f, path, "on5xx", &p.On5xx)
}
