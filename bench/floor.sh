#!/bin/bash
# bench/floor.sh -- what a cache hit can cost in one Node process: mapproxy-ts serve-develop against
# bench/lib/node-floor.mjs in each of its file-reading modes, on the same tc files and URLs as
# bench/tiles.sh (rig lists/seed_tiles.txt, lua/random_paths.lua). Needs the seed that tiles.sh
# leaves in rig/cache_data (no upstream needed). Reports req/s, p50/p99 and server CPU ms/req.
#
# Knobs: RUNS=2 DURATION=10s THREADS=2 CONNS=32 PORT=9097 RIG=/work/shared/rig
#        MODES="mapproxy-ts filehandle callback readfile sync statcache"  OUT=bench/results/<time>-floor
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RIG="${RIG:-/work/shared/rig}"
RUNS="${RUNS:-2}"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
PORT="${PORT:-9097}"
MODES="${MODES:-mapproxy-ts filehandle callback readfile sync statcache}"
OUT="${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-floor}"
CACHE_BASE="$RIG/cache_data"
TILES="$CACHE_BASE/world_cache_EPSG3857"
LIST="$RIG/lists/seed_tiles.txt"
URL="http://127.0.0.1:$PORT"
CLK_TCK=$(getconf CLK_TCK)
export RIG_LUA="$RIG/lua"

die() { echo "floor.sh: $*" >&2; exit 2; }
case "$PORT" in ''|*[!0-9]*) die "PORT must be a number" ;; esac
[ -f "$ROOT/dist/cli/main.js" ] || (cd "$ROOT" && npm run build >/dev/null) || die "npm run build failed"
/usr/bin/python3 "$RIG/mkstatic.py" "$LIST" "$TILES" "$(mktemp -d)" > /dev/null 2>&1 \
  || die "the rig cache is not seeded: run bench/tiles.sh first"
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "something already listens on 127.0.0.1:$PORT"
mkdir -p "$OUT"

SRV=""
stop_srv() {
  [ -n "$SRV" ] || return 0
  kill -TERM "$SRV" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SRV" 2>/dev/null
  wait "$SRV" 2>/dev/null
  SRV=""
}
trap stop_srv EXIT
trap 'exit 130' INT TERM
cpu() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }

printf '| server | run | req/s | p50 ms | p99 ms | non-2xx/err | server CPU ms/req | load1 |\n|---|---|---|---|---|---|---|---|\n' > "$OUT/floor.md"
for mode in $MODES; do
  if [ "$mode" = mapproxy-ts ]; then
    (cd "$ROOT" && BENCH_CACHE_DIR="$CACHE_BASE" exec node bin/mapproxy-ts.js serve-develop bench/mapproxy.yaml -b "127.0.0.1:$PORT") > "$OUT/$mode.log" 2>&1 &
  else
    node "$HERE/lib/node-floor.mjs" "$TILES" "$PORT" "$mode" > "$OUT/$mode.log" 2>&1 &
  fi
  SRV=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null -m 2 "$URL$(head -n1 "$LIST")" && break; sleep 0.2; done
  for i in $(seq 1 "$RUNS"); do
    la=$(cut -d' ' -f1 /proc/loadavg); c0=$(cpu "$SRV")
    LIST="$LIST" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 60s --latency -s "$RIG/lua/random_paths.lua" "$URL" > "$OUT/${mode}_run$i.txt" 2>&1
    c1=$(cpu "$SRV")
    r=$(grep '^RESULT' "$OUT/${mode}_run$i.txt")
    g() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    ms=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$(g requests)" 'BEGIN{ if (n>0) printf "%.3f", d*1000/hz/n; else print "-" }')
    echo "| $mode | $i | $(g rps) | $(g p50_ms) | $(g p99_ms) | $(g non2xx)/$(g errors) | $ms | $la |" | tee -a "$OUT/floor.md"
    sleep 1
  done
  stop_srv
done
echo "table: $OUT/floor.md"
