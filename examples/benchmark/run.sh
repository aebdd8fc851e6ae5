#!/usr/bin/env bash
# Compares the gateway with nginx, HAProxy and Caddy on one Linux machine:
# each proxies round-robin to the same three loopback upstreams and wrk
# measures it in turn, in five scenarios: over plain HTTP with 64
# connections, 256 connections and 64 KiB responses, and over HTTPS, all
# serving the same ECDSA P-256 certificate, with 64 keep-alive connections
# (tls) and with a new TLS connection for every request (tls-close, wrk's
# `-H 'Connection: close'`), and over HTTP/2 with h2load (h2: 64
# connections of 10 streams each, against nginx's `http2`). Prints a table
# per scenario with each proxy's ratio to nginx and its CPU time per
# request (cpu_us: the CPU its own processes spent, divided by the requests
# served), then runs idle.sh (memory per idle client connection, beside
# nginx and HAProxy) and scale.sh (the gateway alone with 10,000
# backends), writes the figures
# to results.csv and draws chart.svg.
#
#   examples/benchmark/run.sh [-d SECONDS] [-o DIR]
#
#   -d  seconds of load per target and scenario (default 10)
#   -o  where results.csv and chart.svg go (default: this script's folder)
#
# Needs go, curl, openssl, wrk, nginx and haproxy; Caddy is measured when it
# is installed and skipped otherwise, and the h2 scenario runs when h2load
# (Debian's nghttp2-client) is installed. Nothing is installed or downloaded: the
# gateway, the upstream and the chart program are built from this
# repository. The machine runs the proxy, the upstreams and wrk at once, so
# compare the rows of one run, not runs with each other.
set -euo pipefail

DUR=10
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE
while getopts d:o: opt; do
  case $opt in
    d) DUR=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,25p' "$0" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$HERE/../.." && pwd)
mkdir -p "$OUT"

# tool_path prints the path of a program, looking in sbin too, where nginx and
# haproxy live on Debian and Ubuntu.
tool_path() {
  command -v "$1" 2>/dev/null && return
  for d in /usr/sbin /usr/local/sbin /sbin; do
    if [ -x "$d/$1" ]; then echo "$d/$1"; return; fi
  done
  return 1
}
missing=()
for tool in go curl openssl wrk nginx haproxy; do tool_path "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: please install ${missing[*]} (for example: apt-get install nginx-light haproxy wrk openssl)" >&2
  exit 1
fi
NGINX=$(tool_path nginx) HAPROXY=$(tool_path haproxy)
CADDY=$(tool_path caddy || true)
H2LOAD=$(tool_path h2load || true)
[ -n "$H2LOAD" ] || echo "h2load is not installed (apt-get install nghttp2-client): skipping the h2 scenario" >&2

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building the gateway, the upstream and the chart program" >&2
(cd "$ROOT" && go build -o "$WORK/gateway" . &&
  go build -o "$WORK/upstream" ./examples/benchmark/upstream &&
  go build -o "$WORK/chart" ./examples/benchmark/chart)

# One ECDSA P-256 certificate for 127.0.0.1 that every proxy serves.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/haproxy.pem"

UP=(127.0.0.1:19311 127.0.0.1:19312 127.0.0.1:19313)
for i in "${!UP[@]}"; do
  "$WORK/upstream" -listen "${UP[$i]}" -name "b$i" >"$WORK/upstream$i.log" 2>&1 &
  PIDS+=($!)
  if [ "$i" = 0 ]; then PID_direct=$!; fi
done

mkdir -p "$WORK/nginx"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
  upstream pool { server ${UP[0]}; server ${UP[1]}; server ${UP[2]}; keepalive 128; }
  server { listen 127.0.0.1:18311; location / { proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server {
    listen 127.0.0.1:18321 ssl;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
    ssl_session_cache shared:SSL:10m;
    location / { proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    # keepalive_requests: nginx closes an HTTP/2 connection after 1000
    # requests by default, and h2load does not open another.
    listen 127.0.0.1:18331 ssl http2;
    keepalive_requests 100000000;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
    ssl_session_cache shared:SSL:10m;
    location / { proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK/nginx" >"$WORK/nginx.log" 2>&1 &
PIDS+=($!)
PID_nginx=$!

cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 2
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:18312
  default_backend pool
frontend fe_tls
  bind 127.0.0.1:18322 ssl crt $WORK/haproxy.pem alpn http/1.1
  default_backend pool
frontend fe_h2
  bind 127.0.0.1:18332 ssl crt $WORK/haproxy.pem alpn h2,http/1.1
  default_backend pool
backend pool
  balance roundrobin
  server b0 ${UP[0]}
  server b1 ${UP[1]}
  server b2 ${UP[2]}
CONF
"$HAPROXY" -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
PID_haproxy=$!

TARGETS=("direct ${UP[0]}" "nginx 127.0.0.1:18311" "haproxy 127.0.0.1:18312")
TLS_TARGETS=("nginx 127.0.0.1:18321" "haproxy 127.0.0.1:18322")
# HTTP/2: nginx and HAProxy on listeners of their own that offer h2;
# Caddy and the gateway offer h2 on their one TLS listener.
H2_TARGETS=("nginx 127.0.0.1:18331" "haproxy 127.0.0.1:18332")
if [ -n "$CADDY" ]; then
  cat >"$WORK/Caddyfile" <<CONF
{
  admin off
  auto_https off
}
http://127.0.0.1:18313 {
  reverse_proxy ${UP[0]} ${UP[1]} ${UP[2]} {
    lb_policy round_robin
  }
}
https://127.0.0.1:18323 {
  tls $WORK/cert.pem $WORK/key.pem
  reverse_proxy ${UP[0]} ${UP[1]} ${UP[2]} {
    lb_policy round_robin
  }
}
CONF
  HOME=$WORK XDG_DATA_HOME=$WORK XDG_CONFIG_HOME=$WORK "$CADDY" run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
  PIDS+=($!)
  PID_caddy=$!
  TARGETS+=("caddy 127.0.0.1:18313")
  TLS_TARGETS+=("caddy 127.0.0.1:18323")
  H2_TARGETS+=("caddy 127.0.0.1:18323")
else
  echo "caddy is not installed: skipping it" >&2
fi

cat >"$WORK/gateway.json" <<CONF
{"port": "127.0.0.1:18314", "healthCheckInterval": "2s", "servers": ["http://${UP[0]}", "http://${UP[1]}", "http://${UP[2]}"],
 "tls": {"listen": "127.0.0.1:18324", "certificates": [{"certFile": "cert.pem", "keyFile": "key.pem"}]}}
CONF
"$WORK/gateway" run --config "$WORK/gateway.json" >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
PID_gateway=$!
TARGETS+=("gateway 127.0.0.1:18314")
TLS_TARGETS+=("gateway 127.0.0.1:18324")
H2_TARGETS+=("gateway 127.0.0.1:18324")

for t in "${TARGETS[@]}" "${TLS_TARGETS[@]/ / https://}" "${H2_TARGETS[@]/ / https://}"; do
  addr=${t#* }
  case $addr in https://*) url=$addr/ ;; *) url=http://$addr/ ;; esac
  for _ in $(seq 100); do curl -fsSk -o /dev/null "$url" 2>/dev/null && break; sleep 0.1; done
  if ! curl -fsS --cacert "$WORK/cert.pem" -o /dev/null "$url"; then
    echo "${t%% *} does not answer at $url; its log:" >&2
    tail -5 "$WORK/${t%% *}"*.log >&2 || true
    exit 1
  fi
done

# ms converts a wrk duration (850.00us, 2.35ms, 1.02s, 1.50m) to milliseconds.
ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
    printf "%.2f", n * f
  }'
}

# ticks prints the CPU time, in clock ticks, that a process and its
# children have used so far.
ticks() {
  local all=$1 p
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do all="$all $p"; done
  for p in $all; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'
}
HZ=$(getconf CLK_TCK)

CSV=$OUT/results.csv
# Rows of the throughput scenarios leave value and unit empty; the rows
# idle.sh and scale.sh add have only those (and the target).
echo "scenario,connections,path,target,requests_per_sec,p50_ms,p99_ms,max_ms,cpu_us_per_req,errors,ratio_to_nginx,value,unit" >"$CSV"
# h2load_run loads https://$1$2 over HTTP/2 with $3 connections of 10
# streams each for DUR seconds, and prints req/s, p50, p99 and max in ms
# (from h2load's per-request log), the CPU per request of the process $4
# and its children in microseconds, and the failed requests.
h2load_run() {
  "$H2LOAD" -t2 -c"$3" -m10 -D 1 "https://$1$2" >/dev/null # warm-up
  local out t0 t1
  rm -f "$WORK/h2load.log"
  t0=$(ticks "$4")
  out=$("$H2LOAD" -t2 -c"$3" -m10 -D "$DUR" --log-file="$WORK/h2load.log" "https://$1$2")
  t1=$(ticks "$4")
  local rps errs cpu
  rps=$(awk '/^finished in/ {print $4}' <<<"$out")
  # "requests: T total, S started, D done, OK succeeded, F failed, E
  # errored, T timeout" and "status codes: N 2xx, N 3xx, N 4xx, N 5xx".
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" '/^requests:/ {n = $6} END {printf "%.1f", (n > 0 ? (b - a) / hz * 1e6 / n : 0)}' <<<"$out")
  errs=$(awk '/^requests:/ {f = $10 + $12 + $14} /^status codes:/ {n = $5 + $7 + $9}
    END {s = ""; if (f) s = f " failed"; if (n) s = s (s == "" ? "" : "; ") n " non-2xx"; print (s == "" ? 0 : s)}' <<<"$out")
  # The log has a line per request: start (us since the epoch), status,
  # duration (us), written by two threads: only whole lines are read.
  echo "$rps $(awk -F'\t' 'NF == 3 && $2 >= 100 && $2 < 600 {print $3}' "$WORK/h2load.log" | sort -n | awk '{d[NR] = $1} END {
    i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
    printf "%.2f %.2f %.2f", d[i50] / 1000, d[i99] / 1000, d[NR] / 1000}') $cpu $errs"
}

# Each scenario: name, connections, path, scheme (h2: HTTP/2 over TLS,
# with h2load), and whether every request closes its connection (so that
# each one makes a new TLS handshake).
SCENARIOS=("c64 64 / http keep" "c256 256 / http keep" "64KiB 64 /bytes?n=65536 http keep"
  "tls 64 / https keep" "tls-close 64 / https close")
[ -n "$H2LOAD" ] && SCENARIOS+=("h2 64 / h2 keep")
for s in "${SCENARIOS[@]}"; do
  read -r name conns path scheme conn <<<"$s"
  rows=()
  targets=("${TARGETS[@]}")
  [ "$scheme" = https ] && targets=("${TLS_TARGETS[@]}")
  [ "$scheme" = h2 ] && targets=("${H2_TARGETS[@]}")
  header=()
  [ "$conn" = close ] && header=(-H "Connection: close")
  for t in "${targets[@]}"; do
    target=${t%% *} addr=${t#* }
    pid=PID_$target
    if [ "$scheme" = h2 ]; then
      rows+=("$target $(h2load_run "$addr" "$path" "$conns" "${!pid}")")
      continue
    fi
    wrk -t2 -c"$conns" -d1s "${header[@]}" "$scheme://$addr$path" >/dev/null # warm-up
    t0=$(ticks "${!pid}")
    out=$(wrk -t2 -c"$conns" -d"${DUR}s" --latency "${header[@]}" "$scheme://$addr$path")
    t1=$(ticks "${!pid}")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$HZ" 'BEGIN {printf "%.1f", (n > 0 ? (b - a) / hz * 1e6 / n : 0)}')
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
    p99=$(ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
    mx=$(ms "$(awk '$1=="Latency" {print $4}' <<<"$out")")
    errs=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); s = s (s == "" ? "" : "; ") $0} END {print (s == "" ? 0 : s)}' <<<"$out")
    rows+=("$target $rps $p50 $p99 $mx $cpu $errs")
  done
  base=$(printf '%s\n' "${rows[@]}" | awk '$1 == "nginx" {print $2}')
  echo
  if [ "$scheme" = h2 ]; then
    echo "$name: $conns HTTP/2 connections of 10 streams (h2load), GET https://...$path, ${DUR}s per target"
  else
    echo "$name: $conns connections, GET $scheme://...$path${header:+ with Connection: close}, ${DUR}s per target"
  fi
  printf '%-8s %12s %10s %10s %10s %8s %9s  %s\n' target req/s p50_ms p99_ms max_ms cpu_us x_nginx errors
  for r in "${rows[@]}"; do
    read -r target rps p50 p99 mx cpu errs <<<"$r"
    ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
    printf '%-8s %12s %10s %10s %10s %8s %9s  %s\n' "$target" "$rps" "$p50" "$p99" "$mx" "$cpu" "$ratio" "$errs"
    echo "$name,$conns,\"$path\",$target,$rps,$p50,$p99,$mx,$cpu,\"$errs\",$ratio,," >>"$CSV"
  done
done

# The proxies of the throughput scenarios stop before the memory and
# scale measurements start.
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()
echo
echo "idle: memory per idle keep-alive client connection"
CSV=$CSV "$HERE/idle.sh" "$WORK/gateway"
echo
echo "scale: the gateway alone with 10,000 backends"
"$HERE/scale.sh" -b "$WORK/gateway" -o "$CSV"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
version() { "$@" 2>&1 | head -1 | sed 's/ - https:.*//; s/ Copyright.*//' | tr -s ' ' || true; }
meta=(
  -meta "Run $(date -u '+%Y-%m-%d %H:%M UTC'), ${DUR}s of wrk -t2 per bar, on $(nproc) CPUs (${cpu:-unknown CPU}), Linux $(uname -r)"
  -meta "gateway $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) built with $(version go version)"
  -meta "$(version "$NGINX" -v); $(version "$HAPROXY" -v)"
  -meta "${CADDY:+caddy $(version "$CADDY" version); }$(version wrk -v)${H2LOAD:+; h2load $("$H2LOAD" --version | awk '{print $2; exit}')}"
)
"$WORK/chart" -csv "$CSV" -o "$OUT/chart.svg" "${meta[@]}"
echo
echo "wrote $CSV and $OUT/chart.svg"
