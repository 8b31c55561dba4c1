#!/bin/bash
# bench/mixed.sh -- cache hits while other clients make cache misses: the hit latency of
# `mapproxy-ts serve` (master + N workers) against MapProxy under gunicorn with N sync workers, on
# the reference rig. Think of viewers browsing cached areas while one pans into new ones: the hits
# should not wait for the image work of the misses. Per target and run:
#
#   quiet  hits alone: wrk -c HIT_CONNS on random seeded tiles (rig lists/seed_tiles.txt), DURATION;
#          each connection pauses PACE_MS after every answer (bench/lib/paced_paths.lua), so the hit
#          load is about the same for every target (HIT_CONNS / (PACE_MS + latency) per second) and
#          a faster server does not take more CPU from the misses by drawing more hits
#   mixed  levels 9-10 are removed from the cache, then wrk -c COLD_CONNS walks
#          lists/cold_tiles_seq.txt (uncached meta tiles from the rig's MapServer) and, 2 s later,
#          the same hit load runs for DURATION beside it
#
# Recorded: hit req/s, p50/p90/p99/max in both phases, the misses' tiles/s and p99, upstream
# GetMaps. The same tile files and URLs for every target (the tc cache mapproxy-seed wrote).
#
# Targets: TS_VARIANTS (default "ts-N ts-N-jobs2 ts-N-pool3"; ts-<N|count>[-poolK][-jobsJ]: -poolK
# = --threadpool-size K, as in cluster.sh; -jobsJ = --image-jobs J, image work at once per worker,
# by default one fewer than the pool's threads, src/image/pool.ts)
# and mapproxy-N. Knobs: WORKERS=$(nproc) RUNS=2 DURATION=10s HIT_CONNS=8 PACE_MS=2 COLD_CONNS=4
# TS_BIND MP_BIND RIG RESEED BUILD OUT as in cluster.sh. Takes about 5 minutes with the defaults.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RIG="${RIG:-/work/shared/rig}"
WORKERS="${WORKERS:-$(nproc)}"
TS_VARIANTS="${TS_VARIANTS:-ts-N ts-N-jobs2 ts-N-pool3}"
RUNS="${RUNS:-2}"
DURATION="${DURATION:-10s}"
HIT_CONNS="${HIT_CONNS:-8}"
COLD_CONNS="${COLD_CONNS:-4}"
PACE_MS="${PACE_MS:-2}"
THREADS=1
CONNS="$HIT_CONNS"
TS_BIND="${TS_BIND:-127.0.0.1:9090}"
MP_BIND="${MP_BIND:-127.0.0.1:8080}"
RESEED="${RESEED:-0}"
BUILD="${BUILD:-auto}"
OUT="${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-mixed}"
TS_URL="http://$TS_BIND"
MP_URL="http://$MP_BIND"
MP_TARGET="mapproxy-N"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

require_loopback_bind TS_BIND "$TS_BIND"
require_loopback_bind MP_BIND "$MP_BIND"
[ "$TS_BIND" != "$MP_BIND" ] || die "TS_BIND and MP_BIND must differ"
require_positive RUNS "$RUNS"
require_positive WORKERS "$WORKERS"
require_positive HIT_CONNS "$HIT_CONNS"
require_positive COLD_CONNS "$COLD_CONNS"
case "$PACE_MS" in ''|*[!0-9]*) die "PACE_MS must be a whole number of milliseconds (0: no pause)" ;; esac
export PACE_MS
case "$DURATION" in [1-9]*s) ;; *) die "DURATION must be whole seconds like 10s, got $DURATION" ;; esac
for v in $TS_VARIANTS; do
  [[ "$v" =~ ^ts-(N|[1-9][0-9]*)(-pool[1-9][0-9]*)?(-jobs[1-9][0-9]*)?$ ]] || die "TS_VARIANTS: '$v' is not ts-<N|count>[-poolK][-jobsJ]"
done
require_loopback_sources "$HERE/mapproxy.yaml" "$RIG/mapproxy.yaml"
require_tools wrk curl node awk pgrep
require_rig start.sh stop.sh mkstatic.py seed.yaml lua/random_paths.lua lua/seq_paths.lua lists/seed_tiles.txt lists/cold_tiles_seq.txt

open_out
printf 'target\trun\tphase\thit_rps\thit_p50_ms\thit_p90_ms\thit_p99_ms\thit_max_ms\thit_errors\tmiss_tiles_per_s\tmiss_p99_ms\tmiss_errors\tupstream\n' > "$OUT/mixed.tsv"
install_cleanup
# the misses' wrk runs beside the hits' (WRK_PID): stopped by cleanup too
COLD_PID=""
trap '[ -n "$COLD_PID" ] && kill "$COLD_PID" 2>/dev/null; cleanup' EXIT

variant_workers() { local w="${1#ts-}"; w="${w%%-*}"; [ "$w" = N ] && w=$WORKERS; echo "$w"; }
variant_flags() {
  local p j f=""
  p=$(sed -nE 's/.*-pool([0-9]+)(-jobs[0-9]+)?$/\1/p' <<< "$1"); [ -n "$p" ] && f="--threadpool-size $p"
  j=$(sed -nE 's/.*-jobs([0-9]+)$/\1/p' <<< "$1"); [ -n "$j" ] && f="$f --image-jobs $j"
  echo "$f"
}
clear_cold_levels() { rm -rf "$TILES/09" "$TILES/10"; }
res() { grep '^RESULT' "$1" | tail -n1; }
errs() { local r; r=$(res "$1"); [ -n "$r" ] || { echo "no RESULT"; return; }; echo $(( $(getv non2xx "$r") + $(getv errors "$r") )); }
# wrk in the background and waited for, as common.sh's wrk_run: a signal then reaches the trap at once
# and cleanup stops the wrk that is running (WRK_PID)
wrk_bg() { # OUTFILE WRK-ARGS...
  local o="$1"; shift
  wrk "$@" > "$o" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID"; WRK_PID=""
}

start_ts_variant() { # VARIANT RUN
  local logf="$OUT/$1_run$2.log"
  listening "$TS_BIND" && die "something already listens on $TS_BIND (set TS_BIND)"
  # shellcheck disable=SC2046 # the flags split into words
  launch_ts "$logf" bin/mapproxy-ts.js serve bench/mapproxy.yaml -b "$TS_BIND" -w "$(variant_workers "$1")" --spare-workers 0 $(variant_flags "$1")
  wait_ts_probe "$logf"
}

# measure TARGET RUN URL: the quiet and the mixed phase against one running server
measure() {
  local t="$1" run="$2" url="$3" q="$OUT/quiet_$1_run$2.txt" h="$OUT/mixed_hits_$1_run$2.txt" c="$OUT/mixed_misses_$1_run$2.txt"
  local secs=${DURATION%s} u0 u1 r cr
  LIST="$SEED_LIST" wrk -t1 -c"$HIT_CONNS" -d3s -s "$HERE/lib/paced_paths.lua" "$url" > /dev/null 2>&1   # warm-up
  LIST="$SEED_LIST" wrk_bg "$q" -t1 -c"$HIT_CONNS" -d"$DURATION" --timeout 60s --latency -s "$HERE/lib/paced_paths.lua" "$url"
  r=$(res "$q")
  printf '%s\t%s\tquiet\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t-\t0\n' "$t" "$run" "$(getv rps "$r")" "$(getv p50_ms "$r")" \
    "$(getv p90_ms "$r")" "$(getv p99_ms "$r")" "$(getv max_ms "$r")" "$(errs "$q")" >> "$OUT/mixed.tsv"
  clear_cold_levels
  drain "$url$PROBE_PATH"
  u0=$(uplines)
  LIST="$COLD_LIST" NTHREADS=1 wrk -t1 -c"$COLD_CONNS" -d"$((secs + 4))s" --timeout 60s --latency -s "$RIG/lua/seq_paths.lua" "$url" > "$c" 2>&1 &
  COLD_PID=$!
  sleep 2
  LIST="$SEED_LIST" wrk_bg "$h" -t1 -c"$HIT_CONNS" -d"$DURATION" --timeout 60s --latency -s "$HERE/lib/paced_paths.lua" "$url"
  wait "$COLD_PID"; COLD_PID=""
  settle_upstream
  u1=$(uplines)
  r=$(res "$h"); cr=$(res "$c")
  printf '%s\t%s\tmixed\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$run" "$(getv rps "$r")" "$(getv p50_ms "$r")" \
    "$(getv p90_ms "$r")" "$(getv p99_ms "$r")" "$(getv max_ms "$r")" "$(errs "$h")" "$(getv rps "$cr")" \
    "$(getv p99_ms "$cr")" "$(errs "$c")" $((u1 - u0)) >> "$OUT/mixed.tsv"
  log "$t run $run: quiet hits $(getv rps "$(res "$q")") req/s p99 $(getv p99_ms "$(res "$q")") ms; with misses $(getv rps "$r") req/s p99 $(getv p99_ms "$r") ms; misses $(getv rps "$cr") tiles/s"
  clear_cold_levels
}

log "output: $OUT"
build_if_needed
{
  meta_machine_and_versions
  meta workers "$WORKERS"
  meta ts_variants "$TS_VARIANTS"
  meta wrk_hits "LIST=lists/seed_tiles.txt wrk -t1 -c$HIT_CONNS -d$DURATION --timeout 60s --latency -s bench/lib/paced_paths.lua URL, PACE_MS=$PACE_MS (3 s warm-up first)"
  meta wrk_misses "rm -rf levels 09 10; LIST=lists/cold_tiles_seq.txt wrk -t1 -c$COLD_CONNS -d$(( ${DURATION%s} + 4 ))s --latency -s lua/seq_paths.lua URL; the hits start 2 s after it"
  for v in $TS_VARIANTS; do meta "cmd_$v" "BENCH_CACHE_DIR=$CACHE_BASE node bin/mapproxy-ts.js serve bench/mapproxy.yaml -b $TS_BIND -w $(variant_workers "$v") --spare-workers 0 $(variant_flags "$v")"; done
  meta "cmd_$MP_TARGET" "gunicorn -w $WORKERS -k sync (rig/start.sh mapproxy)"
}
refuse_busy_servers
start_rig_upstream
ensure_seed
clear_cold_levels

for i in $(seq 1 "$RUNS"); do
  for v in $TS_VARIANTS; do
    start_ts_variant "$v" "$i"
    measure "$v" "$i" "$TS_URL"
    stop_ts
  done
  start_rig_mapproxy "$WORKERS"
  measure "$MP_TARGET" "$i" "$MP_URL"
  "$RIG/stop.sh" mapproxy >> "$LOG" 2>&1; STARTED_MP=0
done
meta load_end "$(cat /proc/loadavg)"
cleanup

node "$HERE/lib/summarize-mixed.mjs" "$OUT" > "$OUT/summary.md" || die "summarize failed"
echo
cat "$OUT/summary.md"
echo
echo "raw outputs: $OUT"
