#!/usr/bin/env bash
# Memory per idle keep-alive client connection, for the gateway beside
# nginx and HAProxy on the same upstream: each proxy's resident memory
# (its processes and their children) before and after N connections that
# each sent one request and then stay idle, divided by N.
#
#   [N=5000] [CSV=results.csv] examples/benchmark/idle.sh [GATEWAY_BINARY]
#
# GATEWAY_BINARY is the gateway to measure (default: built from this
# repository), N the number of idle connections (default 5000); with CSV
# set, one "idle" row per proxy is appended to that file (run.sh's
# results.csv).
#
# Needs go, curl, nginx and haproxy.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GW=${1:-} N=${N:-5000} CSV=${CSV:-}
sbin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true; }
NGINX=$(sbin nginx) HAPROXY=$(sbin haproxy)

WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || true

(cd "$ROOT" && go build -o "$WORK/upstream" ./examples/benchmark/upstream && go build -o "$WORK/idle" ./examples/benchmark/idleconns)
if [ -z "$GW" ]; then
  (cd "$ROOT" && go build -o "$WORK/gateway" .)
  GW=$WORK/gateway
fi
"$WORK/upstream" -listen 127.0.0.1:19341 -name a >/dev/null 2>&1 &
PIDS+=($!)

# rss prints the resident memory in bytes of a process and its children.
rss() {
  local all=$1 p
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do all="$all $p"; done
  for p in $all; do awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$p/status" 2>/dev/null || true; done | awk '{s += $1} END {print s + 0}'
}
# measure NAME PID ADDR prints NAME and its bytes per idle connection.
measure() {
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://$3/" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  local before after ip
  before=$(rss "$2")
  "$WORK/idle" -addr "$3" -n "$N" -hold 60s >"$WORK/idle.out" 2>&1 &
  ip=$!
  for _ in $(seq 600); do grep -q ready "$WORK/idle.out" && break; sleep 0.1; done
  sleep 1
  after=$(rss "$2")
  kill "$ip" 2>/dev/null || true
  wait "$ip" 2>/dev/null || true
  if ! grep -q ready "$WORK/idle.out"; then
    echo "$1: the connections did not all open: $(tail -1 "$WORK/idle.out")" >&2
    return
  fi
  local per=$(((after - before) / N))
  printf '%-8s %10d bytes per idle connection (RSS %d MiB before, %d MiB after)\n' "$1" "$per" $((before >> 20)) $((after >> 20))
  if [ -n "$CSV" ]; then
    echo "idle,$N,\"/\",$1,,,,,,\"0\",,$per,bytes per idle connection" >>"$CSV"
  fi
}

printf '{"port": "127.0.0.1:18341", "servers": ["http://127.0.0.1:19341"]}\n' >"$WORK/gateway.json"
"$GW" run --config "$WORK/gateway.json" >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
measure gateway $! 127.0.0.1:18341

if [ -n "$NGINX" ]; then
  mkdir -p "$WORK/nginx"
  printf '%s\n' "worker_processes 2; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log; daemon off;" \
    "worker_rlimit_nofile 65536; events { worker_connections 20000; }" \
    "http { access_log off; keepalive_timeout 120s; keepalive_requests 100000;" \
    "  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; upstream u { server 127.0.0.1:19341; keepalive 16; }" \
    "  server { listen 127.0.0.1:18342; location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }" \
    >"$WORK/nginx.conf"
  "$NGINX" -c "$WORK/nginx.conf" -p "$WORK/nginx" >/dev/null 2>&1 &
  PIDS+=($!)
  measure nginx $! 127.0.0.1:18342
fi
if [ -n "$HAPROXY" ]; then
  cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 2
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 30s
  timeout http-keep-alive 120s
frontend fe
  bind 127.0.0.1:18343
  default_backend b
backend b
  server a 127.0.0.1:19341
CONF
  "$HAPROXY" -f "$WORK/haproxy.cfg" >/dev/null 2>&1 &
  PIDS+=($!)
  measure haproxy $! 127.0.0.1:18343
fi
