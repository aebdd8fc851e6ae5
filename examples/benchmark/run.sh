#!/usr/bin/env bash
# Compares the gateway with nginx, HAProxy and Caddy on one Linux machine:
# each proxies round-robin to the same three loopback upstreams and wrk
# measures it in turn, in three scenarios (64 connections, 256 connections,
# 64 KiB responses). Prints a table per scenario with each proxy's ratio to
# nginx, writes the figures to results.csv and draws chart.svg.
#
#   examples/benchmark/run.sh [-d SECONDS] [-o DIR]
#
#   -d  seconds of load per target and scenario (default 10)
#   -o  where results.csv and chart.svg go (default: this script's folder)
#
# Needs go, curl, wrk, nginx and haproxy; Caddy is measured when it is
# installed and skipped otherwise. Nothing is installed or downloaded: the
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
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
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
for tool in go curl wrk nginx haproxy; do tool_path "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: please install ${missing[*]} (for example: apt-get install nginx-light haproxy wrk)" >&2
  exit 1
fi
NGINX=$(tool_path nginx) HAPROXY=$(tool_path haproxy)
CADDY=$(tool_path caddy || true)

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

UP=(127.0.0.1:19311 127.0.0.1:19312 127.0.0.1:19313)
for i in "${!UP[@]}"; do
  "$WORK/upstream" -listen "${UP[$i]}" -name "b$i" >"$WORK/upstream$i.log" 2>&1 &
  PIDS+=($!)
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
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK/nginx" >"$WORK/nginx.log" 2>&1 &
PIDS+=($!)

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
backend pool
  balance roundrobin
  server b0 ${UP[0]}
  server b1 ${UP[1]}
  server b2 ${UP[2]}
CONF
"$HAPROXY" -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)

TARGETS=("direct ${UP[0]}" "nginx 127.0.0.1:18311" "haproxy 127.0.0.1:18312")
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
CONF
  HOME=$WORK XDG_DATA_HOME=$WORK XDG_CONFIG_HOME=$WORK "$CADDY" run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
  PIDS+=($!)
  TARGETS+=("caddy 127.0.0.1:18313")
else
  echo "caddy is not installed: skipping it" >&2
fi

cat >"$WORK/gateway.json" <<CONF
{"port": "127.0.0.1:18314", "healthCheckInterval": "2s", "servers": ["http://${UP[0]}", "http://${UP[1]}", "http://${UP[2]}"]}
CONF
"$WORK/gateway" run --config "$WORK/gateway.json" >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
TARGETS+=("gateway 127.0.0.1:18314")

for t in "${TARGETS[@]}"; do
  addr=${t#* }
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://$addr/" 2>/dev/null && break; sleep 0.1; done
  if ! curl -fsS -o /dev/null "http://$addr/"; then
    echo "${t%% *} does not answer on $addr; its log:" >&2
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

CSV=$OUT/results.csv
echo "scenario,connections,path,target,requests_per_sec,p50_ms,p99_ms,max_ms,errors,ratio_to_nginx" >"$CSV"
SCENARIOS=("c64 64 /" "c256 256 /" "64KiB 64 /bytes?n=65536")
for s in "${SCENARIOS[@]}"; do
  read -r name conns path <<<"$s"
  rows=()
  for t in "${TARGETS[@]}"; do
    target=${t%% *} addr=${t#* }
    wrk -t2 -c"$conns" -d1s "http://$addr$path" >/dev/null # warm-up
    out=$(wrk -t2 -c"$conns" -d"${DUR}s" --latency "http://$addr$path")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
    p99=$(ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
    mx=$(ms "$(awk '$1=="Latency" {print $4}' <<<"$out")")
    errs=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); s = s (s == "" ? "" : "; ") $0} END {print (s == "" ? 0 : s)}' <<<"$out")
    rows+=("$target $rps $p50 $p99 $mx $errs")
  done
  base=$(printf '%s\n' "${rows[@]}" | awk '$1 == "nginx" {print $2}')
  echo
  echo "$name: $conns connections, GET $path, ${DUR}s per target"
  printf '%-8s %12s %10s %10s %10s %9s  %s\n' target req/s p50_ms p99_ms max_ms x_nginx errors
  for r in "${rows[@]}"; do
    read -r target rps p50 p99 mx errs <<<"$r"
    ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
    printf '%-8s %12s %10s %10s %10s %9s  %s\n' "$target" "$rps" "$p50" "$p99" "$mx" "$ratio" "$errs"
    echo "$name,$conns,\"$path\",$target,$rps,$p50,$p99,$mx,\"$errs\",$ratio" >>"$CSV"
  done
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
version() { "$@" 2>&1 | head -1 | sed 's/ - https:.*//; s/ Copyright.*//' | tr -s ' ' || true; }
meta=(
  -meta "Run $(date -u '+%Y-%m-%d %H:%M UTC'), ${DUR}s of wrk -t2 per bar, on $(nproc) CPUs (${cpu:-unknown CPU}), Linux $(uname -r)"
  -meta "gateway $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) built with $(version go version)"
  -meta "$(version "$NGINX" -v); $(version "$HAPROXY" -v)"
  -meta "${CADDY:+caddy $(version "$CADDY" version); }$(version wrk -v)"
)
"$WORK/chart" -csv "$CSV" -o "$OUT/chart.svg" "${meta[@]}"
echo
echo "wrote $CSV and $OUT/chart.svg"
