package gateway

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes r as `gateway diff` prints it: one line for each
// listener, the access log and the dns settings, with the settings that
// change indented below; each pool that changes with its fields and
// every backend; each route that changes; and the backend counts.
// Unchanged pools and routes take a line in all.
func (r DiffReport) WriteText(w io.Writer) error {
	var b strings.Builder
	switch {
	case r.Changed:
	case r.Live:
		b.WriteString("no change: the running generation would serve on\n")
	default:
		b.WriteString("no change: applying NEW over OLD would change nothing\n")
	}
	writeListener(&b, "listener", r.Listener)
	writeListener(&b, "tls", r.TLS)
	writeListener(&b, "admin", r.Admin)
	writeFields(&b, "settings", r.Settings)
	unchangedPools := 0
	for _, p := range r.Pools {
		if p.Change == ChangeUnchanged {
			unchangedPools++
			continue
		}
		fmt.Fprintf(&b, "pool %s: %s\n", p.Name, p.Change)
		writeFields(&b, "", p.Fields)
		for _, bd := range p.Backends {
			writeBackend(&b, bd, r.Live)
		}
	}
	if unchangedPools > 0 {
		fmt.Fprintf(&b, "pools: %d unchanged\n", unchangedPools)
	}
	unchangedRoutes := 0
	for _, rt := range r.Routes {
		if rt.Change == ChangeUnchanged {
			unchangedRoutes++
			continue
		}
		fmt.Fprintf(&b, "route %s: %s\n", rt.Name, rt.Change)
		writeFields(&b, "", rt.Fields)
	}
	if unchangedRoutes > 0 {
		fmt.Fprintf(&b, "routes: %d unchanged\n", unchangedRoutes)
	}
	writeListener(&b, "accessLog", r.AccessLog)
	fmt.Fprintf(&b, "dns: %s\n", r.DNS.Change)
	writeFields(&b, "", r.DNS.Fields)
	for _, n := range r.DNS.Names {
		switch n.Change {
		case ChangeCarried:
			fmt.Fprintf(&b, "  carried  %s: kept with its current address set%s, not re-resolved by the reload\n", n.Name, addressList(n))
		case ChangeAdded:
			fmt.Fprintf(&b, "  added    %s: looked up before the new generation is built\n", n.Name)
		case ChangeRemoved:
			fmt.Fprintf(&b, "  removed  %s%s: no longer looked up\n", n.Name, addressList(n))
		}
	}
	c := r.Backends
	fmt.Fprintf(&b, "backends: %d carried, %d added, %d removed\n", c.Carried, c.Added, c.Removed)
	_, err := io.WriteString(w, b.String())
	return err
}

// addressList returns " (a, b)" for a name's live addresses, or "".
func addressList(n NameDiff) string {
	if n.Addresses == nil {
		return ""
	}
	parts := make([]string, len(n.Addresses))
	for i, a := range n.Addresses {
		parts[i] = a.String()
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// writeListener writes the line of a listener or file called what, and
// the settings that change below it.
func writeListener(b *strings.Builder, what string, d ListenerDiff) {
	name := orNone(d.To)
	switch d.Action {
	case "none":
		fmt.Fprintf(b, "%s: none\n", what)
	case "keep":
		if d.Change == ChangeChanged {
			fmt.Fprintf(b, "%s %s: settings changed, socket kept\n", what, name)
		} else {
			fmt.Fprintf(b, "%s %s: %s\n", what, name, d.Change)
		}
	case "restart":
		fmt.Fprintf(b, "%s %s: settings changed, socket kept; a new server takes over, open connections close after their next response\n", what, name)
	case "move":
		if what == "accessLog" {
			fmt.Fprintf(b, "%s %s → %s: path changed, the new file is opened first\n", what, d.From, d.To)
		} else {
			fmt.Fprintf(b, "%s %s → %s: address changed, new socket bound first; the old one closes once its clients have gone\n", what, d.From, d.To)
		}
	case "start":
		fmt.Fprintf(b, "%s %s: added\n", what, name)
	case "stop":
		fmt.Fprintf(b, "%s %s: removed\n", what, orNone(d.From))
	}
	writeFields(b, "", d.Fields)
	for _, c := range d.Certificates {
		if c.Change == ChangeUnchanged && d.Change == ChangeUnchanged {
			continue
		}
		before, after := certificateLine(c.Before), certificateLine(c.After)
		switch c.Change {
		case ChangeAdded:
			before = "none"
		case ChangeRemoved:
			after = "none"
		}
		fmt.Fprintf(b, "  certificate %s: %s, %s → %s\n", c.CertFile, c.Change, before, after)
	}
}

// certificateLine returns a certificate's fingerprint, short, and names,
// or "unknown" when its files could not be read.
func certificateLine(c *CertificateInfo) string {
	if c == nil {
		return "unknown"
	}
	return ShortHash(c.SHA256) + " (" + strings.Join(c.Names, ", ") + ")"
}

// writeFields writes each field on a line of its own, under a heading
// line when heading is not "".
func writeFields(b *strings.Builder, heading string, fields []FieldDiff) {
	if len(fields) == 0 {
		return
	}
	if heading != "" {
		b.WriteString(heading + ":\n")
	}
	for _, f := range fields {
		fmt.Fprintf(b, "  %s %s → %s: %s\n", f.Key, orUnset(f.From), orUnset(f.To), f.Effect)
	}
}

// orUnset returns v, or "(unset)" for "".
func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

// writeBackend writes the line of one backend.
func writeBackend(b *strings.Builder, d BackendDiff, live bool) {
	fmt.Fprintf(b, "  %-8s %s", d.Change, d.URL)
	if d.Source != "" {
		fmt.Fprintf(b, " (%s)", d.Source)
	}
	state := ""
	if d.Health != nil && d.InFlight != nil {
		state = fmt.Sprintf("%s, %d in flight", *d.Health, *d.InFlight)
	}
	switch d.Change {
	case ChangeCarried:
		b.WriteString(": state kept")
	case ChangeUpdated:
		b.WriteString(": state kept, settings applied in place")
	case ChangeAdded:
		if d.Source != "" && d.Health == nil && !live {
			b.WriteString(": its addresses are backends, probed at once, new connections")
		} else {
			b.WriteString(": probed at once, new connections")
		}
	case ChangeRemoved:
		// One form, "N requests in flight will finish", for every N, so
		// that a program reading the text finds it.
		if d.InFlight == nil {
			b.WriteString(": its requests in flight will finish")
		} else {
			fmt.Fprintf(b, ": %d requests in flight will finish", *d.InFlight)
		}
	}
	if state != "" && d.Change != ChangeRemoved {
		fmt.Fprintf(b, " (%s)", state)
	} else if d.Health != nil && d.Change == ChangeRemoved {
		fmt.Fprintf(b, " (%s)", *d.Health)
	}
	b.WriteString("\n")
	for _, f := range d.Settings {
		fmt.Fprintf(b, "      %s %s → %s\n", f.Key, orUnset(f.From), orUnset(f.To))
	}
}
