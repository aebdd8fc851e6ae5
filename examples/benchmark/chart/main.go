// Command chart draws the results of the gateway's benchmark as an SVG
// bar chart: one panel per scenario, one bar per proxy, each labelled with
// its requests per second, its ratio to nginx and its p99 latency.
//
//	chart -csv results.csv -o chart.svg -meta "Run: 2026-11-25" -meta "Machine: 2 CPUs"
//
// The CSV is the one run.sh writes: a header line, then one row per
// scenario and target with the columns scenario, connections, path,
// target, requests_per_sec, p50_ms, p99_ms, max_ms, errors and
// ratio_to_nginx. Each -meta line is printed under the title.
package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("csv", "results.csv", "results to draw")
	out := flag.String("o", "chart.svg", "SVG file to write")
	var meta []string
	flag.Func("meta", "a line of context under the title (repeatable)", func(s string) error {
		meta = append(meta, s)
		return nil
	})
	flag.Parse()
	if err := run(*in, *out, meta); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in, out string, meta []string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	scenarios, err := readResults(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var svg bytes.Buffer
	draw(&svg, scenarios, meta)
	return os.WriteFile(out, svg.Bytes(), 0o644)
}

// result is one row of the CSV: one target measured in one scenario.
type result struct {
	target          string
	rps, p99, ratio float64
	errors          string
}

// scenario is the results of one load shape, in the order they were run.
type scenario struct {
	name, label string
	results     []result
}

// readResults reads the CSV into scenarios in the order they appear.
func readResults(r io.Reader) ([]*scenario, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) < 2 {
		return nil, errors.New("no results")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"scenario", "connections", "path", "target", "requests_per_sec", "p99_ms", "errors", "ratio_to_nginx"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("no %q column", name)
		}
	}
	var out []*scenario
	byName := map[string]*scenario{}
	for n, row := range rows[1:] {
		num := func(name string) (float64, error) {
			v, err := strconv.ParseFloat(row[col[name]], 64)
			if err != nil {
				return 0, fmt.Errorf("line %d: %s: %w", n+2, name, err)
			}
			return v, nil
		}
		res := result{target: row[col["target"]], errors: row[col["errors"]]}
		if res.rps, err = num("requests_per_sec"); err != nil {
			return nil, err
		}
		if res.p99, err = num("p99_ms"); err != nil {
			return nil, err
		}
		if res.ratio, err = num("ratio_to_nginx"); err != nil {
			return nil, err
		}
		name := row[col["scenario"]]
		s := byName[name]
		if s == nil {
			s = &scenario{name: name, label: fmt.Sprintf("%s: %s connections, GET %s", name, row[col["connections"]], row[col["path"]])}
			byName[name] = s
			out = append(out, s)
		}
		s.results = append(s.results, res)
	}
	return out, nil
}

// Layout, in SVG user units.
const (
	width      = 960
	left       = 24  // margin
	labelWidth = 84  // target names
	barWidth   = 500 // the longest bar
	rowHeight  = 26
	barHeight  = 18
)

// draw writes the chart as an SVG document.
func draw(w *bytes.Buffer, scenarios []*scenario, meta []string) {
	y := 40
	var body bytes.Buffer
	fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"title\">Reverse proxies on one machine: requests per second (higher is better)</text>\n", left, y)
	for _, line := range meta {
		y += 18
		fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"meta\">%s</text>\n", left, y, html.EscapeString(line))
	}
	y += 16
	for _, s := range scenarios {
		y += 28
		fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"panel\">%s</text>\n", left, y, html.EscapeString(s.label))
		y += 10
		top := 0.0
		for _, r := range s.results {
			top = max(top, r.rps)
		}
		for _, r := range s.results {
			length := 0.0
			if top > 0 {
				length = r.rps / top * barWidth
			}
			class := "bar"
			switch r.target {
			case "gateway":
				class = "bar gateway"
			case "direct":
				class = "bar direct"
			}
			x := left + labelWidth
			fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"label\">%s</text>\n", x-8, y+barHeight-4, html.EscapeString(r.target))
			fmt.Fprintf(&body, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" class=\"%s\"/>\n", x, y, length, barHeight, class)
			note := fmt.Sprintf("%s req/s · %.2f× nginx · p99 %s ms", thousands(r.rps), r.ratio, strconv.FormatFloat(r.p99, 'f', -1, 64))
			if r.target == "direct" {
				note = fmt.Sprintf("%s req/s · the upstream alone, no proxy", thousands(r.rps))
			}
			if r.errors != "" && r.errors != "0" {
				note += " · errors: " + r.errors
			}
			fmt.Fprintf(&body, "<text x=\"%.1f\" y=\"%d\" class=\"value\">%s</text>\n", float64(x)+length+6, y+barHeight-4, html.EscapeString(note))
			y += rowHeight
		}
	}
	y += 24
	fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"meta\">Ratios compare rows of one run only: the machine is shared by the proxy, the upstreams and wrk.</text>\n", left, y)
	height := y + 20

	fmt.Fprintf(w, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\">\n", width, height, width, height)
	w.WriteString(`<style>
.title { font-size: 17px; font-weight: bold; fill: #111; }
.meta { font-size: 12px; fill: #555; }
.panel { font-size: 14px; font-weight: bold; fill: #222; }
.label { font-size: 13px; fill: #222; text-anchor: end; }
.value { font-size: 12px; fill: #333; }
.bar { fill: #9aa9bc; }
.bar.direct { fill: #d5dbe3; }
.bar.gateway { fill: #2b6cb0; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
`)
	w.Write(body.Bytes())
	w.WriteString("</svg>\n")
}

// thousands formats v rounded to a whole number, with commas between
// groups of three digits.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
