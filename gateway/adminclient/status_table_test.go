package adminclient

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const statusJSON = `{
  "generation": {"number": 3, "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                 "loadedAt": "2025-01-02T03:04:05Z", "source": "gateway.yaml"},
  "pools": [
    {"name": "web", "algorithm": "round_robin", "backends": [
      {"url": "http://10.0.0.1:8080", "healthy": true, "state": "up", "reason": "ok",
       "consecutivePasses": 7, "consecutiveFails": 0, "lastProbe": "2025-01-02T03:05:00.5Z",
       "lastResult": "ok", "ejected": false, "ejectedUntil": null, "inFlight": 2,
       "requests": 1200, "failures": 1, "carried": true, "weight": 1},
      {"url": "http://10.0.0.2:8080", "healthy": false, "state": "down", "reason": "status 503",
       "consecutivePasses": 0, "consecutiveFails": 4, "lastProbe": "2025-01-02T03:04:48Z",
       "lastResult": "status 503", "ejected": false, "ejectedUntil": null, "inFlight": 0,
       "requests": 10, "failures": 0, "carried": false, "weight": 1}
    ]},
    {"name": "api", "algorithm": "least_connections", "backends": [
      {"url": "http://10.0.1.1:9000", "healthy": false, "state": "down", "reason": "passive: timeout",
       "consecutivePasses": 0, "consecutiveFails": 0, "lastProbe": null, "lastResult": "",
       "ejected": true, "ejectedUntil": "2025-01-02T03:05:10Z", "inFlight": 0,
       "requests": 5, "failures": 3, "carried": false, "weight": 1}
    ]}
  ],
  "routes": [
    {"name": "api-v2", "hosts": ["api.example.com", "*.api.example.com"], "pathPrefix": "/v2/",
     "methods": ["GET", "POST"], "headers": {"X-Canary": "always", "X-A": "b"}, "action": "split",
     "pools": [{"pool": "web", "weight": 95}, {"pool": "api", "weight": 5}], "sticky": true,
     "rewritePrefix": "/", "rateLimit": {"requestsPerSecond": 50, "burst": 100, "clients": 7}},
    {"name": "old-site", "hosts": ["old.example.com"], "action": "redirect",
     "redirect": {"scheme": "https", "host": "new.example.com", "code": 301}},
    {"name": "routes[2]", "path": "/exact", "action": "pool", "pool": "api"},
    {"name": "routes[3]", "action": "pool", "pool": "web"}
  ],
  "ready": true,
  "lastReload": {"generation": 0, "hash": "abc", "trigger": "watch", "time": "2025-01-02T03:04:30Z",
                 "result": "rejected", "error": "gateway.yaml:3:5: pools.web: unknown key\ngateway.yaml:9:1: routes: no pool", "carried": 0, "added": 0, "removed": 0}
}`

func TestWriteStatusTable(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 5, 1, 0, time.UTC)
	var out bytes.Buffer
	if err := writeStatusTable(&out, strings.NewReader(statusJSON), now); err != nil {
		t.Fatal(err)
	}
	want := `generation 3  hash 9f86d081884c  loaded 2025-01-02T03:04:05Z  from gateway.yaml  (ready)
last reload: rejected by watch at 2025-01-02T03:04:30Z:
  gateway.yaml:3:5: pools.web: unknown key
  gateway.yaml:9:1: routes: no pool

routes
ROUTE      MATCHES                                                                                            ACTION
api-v2     host api.example.com,*.api.example.com prefix /v2/ methods GET,POST headers X-A=b,X-Canary=always  split web 95, api 5 (sticky), rewrite to /, limit 50/s burst 100 (7 clients)
old-site   host old.example.com                                                                               redirect 301 scheme https host new.example.com
routes[2]  path /exact                                                                                        pool api
routes[3]  any                                                                                                pool web

pool web (round_robin)
BACKEND               STATE  REASON      IN-FLIGHT  REQUESTS  FAILS  LAST-PROBE            CARRIED
http://10.0.0.1:8080  up     ok          2          1200      1      500ms ago (ok)        yes
http://10.0.0.2:8080  down   status 503  0          10        0      13s ago (status 503)  no

pool api (least_connections)
BACKEND               STATE                   REASON            IN-FLIGHT  REQUESTS  FAILS  LAST-PROBE  CARRIED
http://10.0.1.1:9000  ejected until 03:05:10  passive: timeout  0          5         3      -           no
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestWriteStatusTableShowsWatcherFailure(t *testing.T) {
	body := strings.Replace(statusJSON, `"ready": true,`, `"ready": true,
  "watch": {"state": "failing", "error": "reload: too many open files", "since": "2025-01-02T03:04:40Z"},`, 1)
	var out bytes.Buffer
	if err := writeStatusTable(&out, strings.NewReader(body), time.Date(2025, 1, 2, 3, 5, 1, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	want := "  gateway.yaml:9:1: routes: no pool\n" +
		"config watcher failing since 2025-01-02T03:04:40Z (changes are found by polling): reload: too many open files\n" +
		"\nroutes\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("got:\n%s\nwant it to contain:\n%s", out.String(), want)
	}
}

func TestWriteStatusTableRejectsBadJSON(t *testing.T) {
	err := WriteStatusTable(&bytes.Buffer{}, strings.NewReader("<html>"))
	if err == nil || !strings.Contains(err.Error(), "decode the /status answer") {
		t.Fatalf("err = %v", err)
	}
}

// TestWriteStatusTableCertificates checks the table of certificates.
func TestWriteStatusTableCertificates(t *testing.T) {
	body := `{"generation": {"number": 1, "hash": "abcdef0123456789", "loadedAt": "2025-01-02T03:04:05Z", "source": "gw.yaml"},
  "pools": [], "ready": true,
  "certificates": [
    {"certFile": "/etc/tls/tls.crt", "keyFile": "/etc/tls/tls.key", "use": "server", "subject": "CN=a.example",
     "names": ["a.example", "*.a.example"], "notAfter": "2025-03-01T00:00:00Z", "sha256": "0123456789abcdef0123"},
    {"certFile": "/etc/tls/client.crt", "keyFile": "/etc/tls/client.key", "use": "client", "subject": "CN=gw",
     "names": [], "notAfter": "2025-02-01T00:00:00Z", "sha256": "fedcba9876543210fedc",
     "reloadError": "the key in /etc/tls/client.key does not match the certificate in /etc/tls/client.crt"}
  ]}`
	var out bytes.Buffer
	if err := writeStatusTable(&out, strings.NewReader(body), time.Now()); err != nil {
		t.Fatal(err)
	}
	want := `generation 1  hash abcdef012345  loaded 2025-01-02T03:04:05Z  from gw.yaml  (ready)

certificates
USE     NAMES                  NOT-AFTER             SHA-256       CERT-FILE            LAST-RELOAD
server  a.example,*.a.example  2025-03-01T00:00:00Z  0123456789ab  /etc/tls/tls.crt     ok
client  -                      2025-02-01T00:00:00Z  fedcba987654  /etc/tls/client.crt  rejected: the key in /etc/tls/client.key does not match the certificate in /etc/tls/client.crt
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestWriteStatusTableResolved checks the lines of resolved names and the
// SOURCE column.
func TestWriteStatusTableResolved(t *testing.T) {
	body := `{
  "generation": {"number": 4, "hash": "abc", "loadedAt": "2025-01-02T03:04:05Z", "source": "gateway.yaml"},
  "pools": [
    {"name": "app", "algorithm": "round_robin", "backends": [
      {"url": "http://10.1.0.7:8080", "healthy": true, "state": "up", "reason": "starting", "lastProbe": null,
       "requests": 3, "carried": true, "weight": 1, "source": "app.default.svc.cluster.local"},
      {"url": "http://10.0.0.9:8080", "healthy": true, "state": "up", "reason": "starting", "lastProbe": null,
       "requests": 1, "carried": true, "weight": 1, "source": ""}
    ], "resolved": [
      {"name": "app.default.svc.cluster.local", "addresses": ["10.1.0.7"], "resolvedAt": "2025-01-02T03:05:00Z", "error": ""},
      {"name": "old.default.svc.cluster.local", "addresses": [], "resolvedAt": "2025-01-02T03:04:00Z",
       "error": "lookup old.default.svc.cluster.local on 10.96.0.10:53: no such host"},
      {"name": "web.default.svc.cluster.local", "addresses": ["10.1.0.8", "fd00::8"], "resolvedAt": "2025-01-02T03:04:59Z",
       "error": "lookup web.default.svc.cluster.local on 10.96.0.10:53: i/o timeout"},
      {"name": "new.default.svc.cluster.local", "addresses": [], "resolvedAt": null,
       "error": "lookup new.default.svc.cluster.local on 10.96.0.10:53: server misbehaving"}
    ]}
  ],
  "ready": true
}`
	var out bytes.Buffer
	if err := writeStatusTable(&out, strings.NewReader(body), time.Date(2025, 1, 2, 3, 5, 1, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	want := `generation 4  hash abc  loaded 2025-01-02T03:04:05Z  from gateway.yaml  (ready)

pool app (round_robin)
name app.default.svc.cluster.local: 10.1.0.7 (answered 1s ago)
name old.default.svc.cluster.local: no address (answered 1m1s ago); last lookup: lookup old.default.svc.cluster.local on 10.96.0.10:53: no such host
name web.default.svc.cluster.local: 10.1.0.8, fd00::8 (answered 2s ago); last lookup: lookup web.default.svc.cluster.local on 10.96.0.10:53: i/o timeout
name new.default.svc.cluster.local: no address (no answer yet); last lookup: lookup new.default.svc.cluster.local on 10.96.0.10:53: server misbehaving
BACKEND               STATE  REASON    IN-FLIGHT  REQUESTS  FAILS  LAST-PROBE  CARRIED  SOURCE
http://10.1.0.7:8080  up     starting  0          3         0      -           yes      app.default.svc.cluster.local
http://10.0.0.9:8080  up     starting  0          1         0      -           yes      -
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
