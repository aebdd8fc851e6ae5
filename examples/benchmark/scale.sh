#!/usr/bin/env bash
# Measures the gateway alone with 10,000 backends: 2,000 pools of 5 servers
# (five loopback upstreams, each listed in every pool), every backend
# health-checked every 2 seconds, and a route per pool. nginx and HAProxy
# have no live reload of a config to compare with, so the gateway is
# measured alone. Prints, after the checks have run for a while:
#
#   rss_mib       resident memory of the gateway
#   goroutines    go_goroutines from /metrics
#   kept_ms       the durationSeconds of a reload that keeps every backend
#                 (clientIdleTimeout changed), median of 3
#   new_ms        the same for a reload that replaces every backend (every
#                 pool renamed), median of 3
#   quiet_p99_ms  proxied p99 of wrk -c16 with no reload
#   reload_p99_ms the same while the config is reloaded every second,
#                 alternating kept and all-new reloads
#
#   examples/benchmark/scale.sh [-b GATEWAY_BINARY] [-o CSV] [-d SECONDS]
#
#   -b  the gateway to measure (default: built from this repository)
#   -o  append the figures to this CSV (run.sh's results.csv) as "scale"
#       rows
#   -d  seconds of each wrk run (default 10)
#
# Needs go, curl and wrk.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GW="" CSV="" DUR=10
while getopts b:o:d: opt; do
  case $opt in
    b) GW=$OPTARG ;;
    o) CSV=$OPTARG ;;
    d) DUR=$OPTARG ;;
    *) sed -n "2,24p" "$0" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || true

(cd "$ROOT" && go build -o "$WORK/upstream" ./examples/benchmark/upstream)
if [ -z "$GW" ]; then
  (cd "$ROOT" && go build -o "$WORK/gateway" .)
  GW=$WORK/gateway
fi

UP=(127.0.0.1:19351 127.0.0.1:19352 127.0.0.1:19353 127.0.0.1:19354 127.0.0.1:19355)
for i in "${!UP[@]}"; do
  "$WORK/upstream" -listen "${UP[$i]}" -name "b$i" >/dev/null 2>&1 &
  PIDS+=($!)
done

# config PREFIX IDLE writes 2,000 pools named PREFIX0..PREFIX1999, pool n
# routed from /rn/, with clientIdleTimeout IDLE.
config() {
  awk -v prefix="$1" -v idle="$2" -v up="${UP[*]}" 'BEGIN {
    n = split(up, u, " ")
    printf "{\"listen\": \"127.0.0.1:18351\", \"admin\": \"127.0.0.1:18352\", \"clientIdleTimeout\": \"%s\",\n", idle
    printf " \"healthCheck\": {\"interval\": \"2s\", \"timeout\": \"1s\"},\n \"pools\": {\n"
    for (p = 0; p < 2000; p++) {
      printf "  \"%s%d\": {\"servers\": [", prefix, p
      for (i = 1; i <= n; i++) printf "%s\"http://%s\"", (i > 1 ? ", " : ""), u[i]
      printf "]}%s\n", (p < 1999 ? "," : "")
    }
    printf " },\n \"routes\": [\n"
    for (p = 0; p < 2000; p++) printf "  {\"pathPrefix\": \"/r%d/\", \"pool\": \"%s%d\"}%s\n", p, prefix, p, (p < 1999 ? "," : "")
    printf " ]}\n"
  }'
}
config p 60s >"$WORK/gw.json"
"$GW" run --config "$WORK/gw.json" --watch=false --log-level warn >"$WORK/gw.log" 2>&1 &
GP=$!
PIDS+=($GP)
for _ in $(seq 300); do curl -fsS -o /dev/null http://127.0.0.1:18351/r1/ 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null http://127.0.0.1:18351/r1/ || { echo "the gateway does not answer; its log:" >&2; tail -5 "$WORK/gw.log" >&2; exit 1; }
sleep 6 # three rounds of checks

rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$GP/status"; }
goroutines() { curl -fsS http://127.0.0.1:18352/metrics | awk '$1 == "go_goroutines" {print $2}'; }
# reload PREFIX IDLE rewrites the config, sends SIGHUP and prints the
# reload's duration in milliseconds once /reloads shows a new record.
reload() {
  local before after
  before=$(curl -fsS http://127.0.0.1:18352/reloads | grep -o '"time"' | wc -l)
  config "$1" "$2" >"$WORK/gw.json.new" && mv "$WORK/gw.json.new" "$WORK/gw.json"
  kill -HUP "$GP"
  for _ in $(seq 200); do
    after=$(curl -fsS http://127.0.0.1:18352/reloads | grep -o '"time"' | wc -l)
    [ "$after" != "$before" ] && break
    sleep 0.05
  done
  curl -fsS http://127.0.0.1:18352/reloads | grep -o '"durationSeconds": *[0-9.e-]*' | tail -1 |
    awk -F: '{printf "%.1f\n", $2 * 1000}'
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# p99 loads /r1/ with wrk and prints its p99 in milliseconds.
p99() {
  wrk -t1 -c16 -d"${DUR}s" --latency http://127.0.0.1:18351/r1/ |
    awk '$1 == "99%" {v = $2; n = v + 0; u = v; sub(/^[0-9.]+/, "", u); printf "%.2f\n", n * (u == "us" ? 0.001 : u == "s" ? 1000 : 1)}'
}

RSS=$(rss_mib) GOR=$(goroutines)
QUIET=$(p99)
KEPT=$( (for i in 1 2 3; do reload p "6${i}s"; done) | median)
NEW=$( (for prefix in q p q; do reload "$prefix" 60s; done) | median)
# Load /r1/ while the config is reloaded every second: kept, all-new,
# kept, ...
(
  prefix=q
  for i in $(seq $((DUR - 1))); do
    sleep 1
    if [ $((i % 2)) = 1 ]; then
      reload "$prefix" "7${i}s" >/dev/null
    else
      prefix=$([ "$prefix" = p ] && echo q || echo p)
      reload "$prefix" 60s >/dev/null
    fi
  done
) &
RELOADER=$!
RELOAD_P99=$(p99)
wait $RELOADER || true
RSS_AFTER=$(rss_mib) GOR_AFTER=$(goroutines)

printf '%-16s %s\n' backends 10000 rss_mib "$RSS" goroutines "$GOR" kept_ms "$KEPT" new_ms "$NEW" \
  quiet_p99_ms "$QUIET" reload_p99_ms "$RELOAD_P99" rss_after_mib "$RSS_AFTER" goroutines_after "$GOR_AFTER"
if [ -n "$CSV" ]; then
  row() { echo "scale,16,\"/\",gateway,,,,,,\"0\",,$1,$2" >>"$CSV"; }
  row "$RSS" "MiB RSS with 10000 backends"
  row "$GOR" "goroutines with 10000 backends"
  row "$KEPT" "ms to reload keeping every backend"
  row "$NEW" "ms to reload replacing every backend"
  row "$QUIET" "ms proxied p99 without reloads"
  row "$RELOAD_P99" "ms proxied p99 during reloads"
fi
