package adminclient

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatewayhq/gateway/gateway"
)

// WriteStatusTable renders body, the JSON of a [gateway.StatusReport] as
// the admin endpoint /status answers it (see [Status]), to w as the tables
// `gateway status` prints: a line about the generation, the last reload,
// the config watcher's error when it fails, the routes in match order,
// then each pool: a line for the name of each of its resolved servers, and
// its backends, with the name each came from when the pool has resolved
// servers; and the certificates when the config names any.
func WriteStatusTable(w io.Writer, body io.Reader) error {
	return writeStatusTable(w, body, time.Now())
}

// writeStatusTable is [WriteStatusTable] with the time that probe ages are
// counted from.
func writeStatusTable(w io.Writer, body io.Reader, now time.Time) error {
	var r gateway.StatusReport
	if err := json.NewDecoder(body).Decode(&r); err != nil {
		return fmt.Errorf("decode the /status answer: %w", err)
	}
	var out strings.Builder
	gen := r.Generation
	if gen.Number == 0 {
		out.WriteString("no config loaded")
	} else {
		fmt.Fprintf(&out, "generation %d  hash %s  loaded %s  from %s",
			gen.Number, gateway.ShortHash(gen.Hash), gen.LoadedAt.Format(time.RFC3339), gen.Source)
	}
	if r.Ready {
		out.WriteString("  (ready)\n")
	} else {
		out.WriteString("  (not ready)\n")
	}
	if rec := r.LastReload; rec != nil {
		fmt.Fprintf(&out, "last reload: %s by %s at %s", rec.Result, rec.Trigger, rec.Time.Format(time.RFC3339))
		if rec.Error != "" {
			out.WriteString(":\n  " + strings.ReplaceAll(strings.TrimRight(rec.Error, "\n"), "\n", "\n  "))
		}
		out.WriteByte('\n')
	}
	if w := r.Watch; w.State == gateway.WatchFailing {
		fmt.Fprintf(&out, "config watcher failing")
		if w.Since != nil {
			fmt.Fprintf(&out, " since %s", w.Since.Format(time.RFC3339))
		}
		fmt.Fprintf(&out, " (changes are found by polling): %s\n", w.Error)
	}
	if len(r.Routes) > 0 {
		out.WriteString("\nroutes\n")
		tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ROUTE\tMATCHES\tACTION")
		for _, rt := range r.Routes {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", orDash(rt.Name), orDash(routeMatches(rt)), orDash(routeAction(rt)))
		}
		tw.Flush()
	}
	for _, p := range r.Pools {
		fmt.Fprintf(&out, "\npool %s (%s)\n", p.Name, p.Algorithm)
		for _, n := range p.Resolved {
			writeResolved(&out, n, now)
		}
		resolved := len(p.Resolved) > 0
		tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "BACKEND\tSTATE\tREASON\tIN-FLIGHT\tREQUESTS\tFAILS\tLAST-PROBE\tCARRIED")
		if resolved {
			fmt.Fprint(tw, "\tSOURCE")
		}
		fmt.Fprintln(tw)
		for _, b := range p.Backends {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s",
				b.URL, backendState(b), orDash(b.Reason), b.InFlight, b.Requests, b.Failures,
				probeAge(b, now), yesNo(b.Carried))
			if resolved {
				fmt.Fprintf(tw, "\t%s", orDash(b.Source))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	if len(r.Certificates) > 0 {
		out.WriteString("\ncertificates\n")
		tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USE\tNAMES\tNOT-AFTER\tSHA-256\tCERT-FILE\tLAST-RELOAD")
		for _, c := range r.Certificates {
			reload := "ok"
			if c.ReloadError != "" {
				reload = "rejected: " + orDash(c.ReloadError)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Use, orDash(strings.Join(c.Names, ",")),
				c.NotAfter.Format(time.RFC3339), gateway.ShortHash(c.SHA256), c.CertFile, reload)
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// routeMatches is the MATCHES column: what the route matches, "any"
// for every request.
func routeMatches(rt gateway.RouteStatus) string {
	var parts []string
	if len(rt.Hosts) > 0 {
		parts = append(parts, "host "+strings.Join(rt.Hosts, ","))
	}
	if rt.PathPrefix != "" {
		parts = append(parts, "prefix "+rt.PathPrefix)
	}
	if rt.Path != "" {
		parts = append(parts, "path "+rt.Path)
	}
	if len(rt.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(rt.Methods, ","))
	}
	var headers []string
	for name, value := range rt.Headers {
		headers = append(headers, name+"="+value)
	}
	if len(headers) > 0 {
		slices.Sort(headers)
		parts = append(parts, "headers "+strings.Join(headers, ","))
	}
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, " ")
}

// routeAction is the ACTION column: the pool, the split or the
// redirect, with a rewrite and a rate limit.
func routeAction(rt gateway.RouteStatus) string {
	var s string
	switch rt.Action {
	case gateway.ActionSplit:
		var parts []string
		for _, p := range rt.Pools {
			parts = append(parts, fmt.Sprintf("%s %d", p.Pool, p.Weight))
		}
		s = "split " + strings.Join(parts, ", ")
		if rt.Sticky {
			s += " (sticky)"
		}
	case gateway.ActionRedirect:
		rd := rt.Redirect
		s = fmt.Sprintf("redirect %d", rd.Code)
		for _, part := range [][2]string{{"scheme", rd.Scheme}, {"host", rd.Host}, {"port", portText(rd.Port)}, {"prefix", rd.Prefix}} {
			if part[1] != "" {
				s += " " + part[0] + " " + part[1]
			}
		}
	default:
		s = "pool " + rt.Pool
	}
	if rt.RewritePrefix != "" {
		s += ", rewrite to " + rt.RewritePrefix
	}
	if rl := rt.RateLimit; rl != nil {
		s += fmt.Sprintf(", limit %g/s burst %d (%d clients)", rl.RequestsPerSecond, rl.Burst, rl.Clients)
	}
	return s
}

// portText is a port, or "" for none.
func portText(port int) string {
	if port == 0 {
		return ""
	}
	return strconv.Itoa(port)
}

// backendState is the STATE column: up, down, or ejected with its end.
func backendState(b gateway.BackendStatus) string {
	if b.Ejected && b.EjectedUntil != nil {
		return "ejected until " + b.EjectedUntil.Format(time.TimeOnly)
	}
	if b.State == "" {
		return "-"
	}
	return b.State
}

// writeResolved writes the line of a resolved server's name: the
// addresses of its last answer, how long ago that came, and the last
// lookup's error.
func writeResolved(out *strings.Builder, n gateway.ResolvedStatus, now time.Time) {
	addrs := "no address"
	if len(n.Addresses) > 0 {
		list := make([]string, len(n.Addresses))
		for i, a := range n.Addresses {
			list[i] = a.String()
		}
		addrs = strings.Join(list, ", ")
	}
	answered := "no answer yet"
	if n.ResolvedAt != nil {
		answered = "answered " + ago(*n.ResolvedAt, now)
	}
	fmt.Fprintf(out, "name %s: %s (%s)", n.Name, addrs, answered)
	if n.Error != "" {
		fmt.Fprintf(out, "; last lookup: %s", orDash(n.Error))
	}
	out.WriteByte('\n')
}

// probeAge is the LAST-PROBE column: how long ago the last probe ran and
// what it found, or "-" when none ran.
func probeAge(b gateway.BackendStatus, now time.Time) string {
	if b.LastProbe == nil {
		return "-"
	}
	s := ago(*b.LastProbe, now)
	if b.LastResult != "" {
		s += " (" + b.LastResult + ")"
	}
	return s
}

// ago says how long before now t was: "500ms ago", "13s ago".
func ago(t, now time.Time) string {
	age := max(now.Sub(t), 0)
	if age < 10*time.Second {
		age = age.Round(100 * time.Millisecond)
	} else {
		age = age.Round(time.Second)
	}
	return age.String() + " ago"
}

// orDash returns s with control characters escaped, so it stays in its
// column, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// yesNo renders b as yes or no.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
