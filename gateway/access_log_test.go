package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// accessLogLines shuts g down, which writes out its access log, and
// returns the lines of the file at path with the time and duration, which
// vary, replaced by T and D.
func accessLogLines(t *testing.T, g *Gateway, path string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	return readLogLines(t, path)
}

var (
	logTime     = regexp.MustCompile(`"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)
	logDuration = regexp.MustCompile(`"duration_ms":\d+\.\d{3}`)
)

// readLogLines returns the lines of the access log at path with the time
// and duration replaced by T and D.
func readLogLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for line := range strings.Lines(string(data)) {
		if !json.Valid([]byte(line)) {
			t.Errorf("not a JSON line: %q", line)
		}
		line = logTime.ReplaceAllString(line, `"time":"T"`)
		line = logDuration.ReplaceAllString(line, `"duration_ms":D`)
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	return lines
}

func TestAccessLogLines(t *testing.T) {
	b := startBackend(t, "backend", nil)
	down := closedAddr(t)
	path := filepath.Join(t.TempDir(), "access.log")
	g, public := startGateway(t, routedConfig(down, b.URL)+"accessLog: "+path+"\n")
	host := strings.TrimPrefix(public, "http://")
	get(t, http.DefaultClient, public+`/a?q="x"`)
	sendRefused(t, public)

	want := []string{
		`{"time":"T","client":"127.0.0.1","method":"GET","host":"` + host + `","path":"/a?q=\"x\"","status":200,"bytes":7,"duration_ms":D,"pool":"p","backend":"` + b.URL + `","route":"routes[1]"}`,
		`{"time":"T","client":"127.0.0.1","method":"GET","host":"` + host + `","path":"/dead","status":502,"bytes":28,"duration_ms":D,"pool":"dead","backend":"","route":"routes[0]"}`,
		`{"time":"T","client":"127.0.0.1","method":"DELETE","host":"elsewhere.example","path":"/","status":404,"bytes":32,"duration_ms":D,"pool":"","backend":"","route":""}`,
	}
	got := accessLogLines(t, g, path)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("access log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAccessLogTimeAndDuration(t *testing.T) {
	b := startBackend(t, "backend", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	})
	path := filepath.Join(t.TempDir(), "access.log")
	before := time.Now()
	g, public := startGateway(t, poolConfig("round_robin", "", b.URL)+"accessLog: "+path+"\n")
	get(t, http.DefaultClient, public+"/")
	after := time.Now()
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Time     time.Time `json:"time"`
		Duration float64   `json:"duration_ms"`
	}
	if err := json.Unmarshal(data, &line); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	if line.Time.Before(before.Truncate(time.Millisecond)) || line.Time.After(after) {
		t.Errorf("time %v is not within the request, %v to %v", line.Time, before, after)
	}
	if line.Duration < 20 || line.Duration > float64(after.Sub(before).Milliseconds()+1) {
		t.Errorf("duration_ms %v; the backend took 20ms and the test %v", line.Duration, after.Sub(before))
	}
}

func TestAccessLogReopensOnReload(t *testing.T) {
	b := startBackend(t, "backend", nil)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	base := poolConfig("round_robin", "", b.URL)
	g, public := startGateway(t, base+"accessLog: "+first+"\n")
	get(t, http.DefaultClient, public+"/1")
	waitLogged(t, first, "/1")
	reloadOK(t, g, base+"accessLog: "+second+"\n")
	get(t, http.DefaultClient, public+"/2")
	waitLogged(t, second, "/2")
	reloadOK(t, g, base)
	get(t, http.DefaultClient, public+"/3")
	reloadOK(t, g, base+"accessLog: "+second+"\n")
	get(t, http.DefaultClient, public+"/4")

	got := accessLogLines(t, g, second)
	if len(got) != 2 || !strings.Contains(got[0], `"path":"/2"`) || !strings.Contains(got[1], `"path":"/4"`) {
		t.Errorf("second log:\n%s\nwant the lines of /2 and /4", strings.Join(got, "\n"))
	}
	if got := readLogLines(t, first); len(got) != 1 || !strings.Contains(got[0], `"path":"/1"`) {
		t.Errorf("first log:\n%s\nwant the line of /1 alone", strings.Join(got, "\n"))
	}
}

// waitLogged waits until the access log at path has a line for path p.
func waitLogged(t *testing.T, path, p string) {
	t.Helper()
	waitUntil(t, "the line of "+p, func() bool {
		data, _ := os.ReadFile(path)
		return strings.Contains(string(data), `"path":"`+p+`"`)
	})
}

func TestAccessLogOpenFailureRejectsConfig(t *testing.T) {
	b := startBackend(t, "backend", nil)
	base := poolConfig("round_robin", "", b.URL)
	g, _ := startGateway(t, base)
	bad := filepath.Join(t.TempDir(), "missing", "access.log")
	rec, err := g.Load("test.yaml", []byte(base+"accessLog: "+bad+"\n"), TriggerWatch)
	if err == nil || rec.Result != ResultRejected || !strings.Contains(err.Error(), "accessLog") {
		t.Fatalf("reload with an access log that cannot open: %+v, %v; want rejected", rec, err)
	}
	if g.current().number != 1 {
		t.Errorf("generation %d after a rejected reload", g.current().number)
	}
}

func TestAccessEntryJSON(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		entry accessEntry
		want  string
	}{{
		name: "proxied",
		entry: accessEntry{start: start, duration: 1234567 * time.Nanosecond, client: netip.MustParseAddr("192.0.2.1"), route: "api",
			method: []byte("GET"), host: []byte("example.com"), path: []byte("/a?b=c"),
			status: 200, bytes: 512, pool: "web", backend: "http://10.0.0.1:8080"},
		want: `{"time":"2025-01-02T02:04:05.678Z","client":"192.0.2.1","method":"GET","host":"example.com","path":"/a?b=c","status":200,"bytes":512,"duration_ms":1.235,"pool":"web","backend":"http://10.0.0.1:8080","route":"api"}`,
	}, {
		name: "escaped",
		entry: accessEntry{start: start, client: netip.MustParseAddr("2001:db8::1"),
			method: []byte("GET"), host: []byte("h\"\\"), path: []byte("/\x00\t\n\u2028\xff\u00e9"),
			status: 404, pool: "", backend: ""},
		want: `{"time":"2025-01-02T02:04:05.678Z","client":"2001:db8::1","method":"GET","host":"h\"\\","path":"/\u0000\t\n\u2028\ufffdé","status":404,"bytes":0,"duration_ms":0.000,"pool":"","backend":"","route":""}`,
	}, {
		name:  "no client",
		entry: accessEntry{start: start, status: 503},
		want:  `{"time":"2025-01-02T02:04:05.678Z","client":"","method":"","host":"","path":"","status":503,"bytes":0,"duration_ms":0.000,"pool":"","backend":"","route":""}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.entry.appendJSON(nil))
			if got != tt.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é€𝄞", "a\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, []byte(s))
		if string(appendJSONString(nil, s)) != string(out) {
			t.Fatalf("string and []byte forms differ for %q", s)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, out, err)
		}
		want, _ := json.Marshal(s)
		var wantStr string
		json.Unmarshal(want, &wantStr)
		if got != wantStr {
			t.Fatalf("%q decodes to %q, encoding/json gives %q", s, got, wantStr)
		}
		if !utf8.Valid(out) {
			t.Fatalf("%q encodes to invalid UTF-8 %q", s, out)
		}
	})
}
