// Command chart draws the results of the gateway's benchmark as an SVG
// bar chart: one panel per scenario, one bar per proxy, each labelled with
// its requests per second, its ratio to nginx, its p99 latency and its CPU
// time per request; then a panel of the memory per idle connection (one
// bar per proxy, shorter is better) and the figures of the gateway with
// 10,000 backends.
//
//	chart -csv results.csv -o chart.svg -meta "Run: 2026-11-25" -meta "Machine: 2 CPUs"
//
// The CSV is the one run.sh writes: a header line, then one row per
// scenario and target with the columns scenario, connections, path,
// target, requests_per_sec, p50_ms, p99_ms, max_ms, cpu_us_per_req,
// errors, ratio_to_nginx, value and unit. The rows of the scenarios
// "idle" and "scale" have a value and a unit in place of the throughput
// figures. Each -meta line is printed under the title.
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
	target               string
	rps, p99, ratio, cpu float64
	errors               string
	// value and unit are the figure of an "idle" or "scale" row.
	value float64
	unit  string
}

// measured reports whether the scenario called name has figures with a
// unit (the "idle" and "scale" rows) rather than throughput.
func measured(name string) bool { return name == "idle" || name == "scale" }

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
	for _, name := range []string{"scenario", "connections", "path", "target", "requests_per_sec", "p99_ms", "cpu_us_per_req", "errors", "ratio_to_nginx", "value", "unit"} {
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
		res := result{target: row[col["target"]], errors: row[col["errors"]], unit: row[col["unit"]]}
		name := row[col["scenario"]]
		names, to := []string{"requests_per_sec", "p99_ms", "cpu_us_per_req", "ratio_to_nginx"}, []*float64{&res.rps, &res.p99, &res.cpu, &res.ratio}
		if measured(name) {
			names, to = []string{"value"}, []*float64{&res.value}
		}
		for i, column := range names {
			if *to[i], err = num(column); err != nil {
				return nil, err
			}
		}
		s := byName[name]
		if s == nil {
			s = &scenario{name: name, label: fmt.Sprintf("%s: %s connections, GET %s", name, row[col["connections"]], row[col["path"]])}
			switch name {
			case "idle":
				s.label = fmt.Sprintf("idle: memory per idle keep-alive client connection, %s connections (shorter is better)", row[col["connections"]])
			case "scale":
				s.label = "scale: the gateway alone, 2,000 pools of 5 servers health-checked every 2s"
			}
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
	fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"title\">Reverse proxies on one machine: requests per second (longer is better), CPU per request, memory</text>\n", left, y)
	for _, line := range meta {
		y += 18
		fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"meta\">%s</text>\n", left, y, html.EscapeString(line))
	}
	y += 16
	for _, s := range scenarios {
		y += 28
		fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"panel\">%s</text>\n", left, y, html.EscapeString(s.label))
		y += 10
		if s.name == "scale" {
			for _, r := range s.results {
				y += 18
				fmt.Fprintf(&body, "<text x=\"%d\" y=\"%d\" class=\"value\">%s %s</text>\n", left+labelWidth, y, strconv.FormatFloat(r.value, 'f', -1, 64), html.EscapeString(r.unit))
			}
			y += 8
			continue
		}
		top := 0.0
		for _, r := range s.results {
			top = max(top, r.rps, r.value)
		}
		for _, r := range s.results {
			length := 0.0
			if top > 0 {
				length = max(r.rps, r.value) / top * barWidth
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
			note := fmt.Sprintf("%s req/s · %.2f× nginx · p99 %s ms · %s µs CPU/req", thousands(r.rps), r.ratio, strconv.FormatFloat(r.p99, 'f', -1, 64), strconv.FormatFloat(r.cpu, 'f', -1, 64))
			switch {
			case measured(s.name):
				note = thousands(r.value) + " " + r.unit
			case r.target == "direct":
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
