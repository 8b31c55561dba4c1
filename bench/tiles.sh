#!/bin/bash
# bench/tiles.sh -- mapproxy-ts against MapProxy 1.15 and nginx on the reference rig (issue 1,
# acceptance 5). One invocation measures, on the same tile files and the same URLs:
#
#   hit   cache hits: a random TMS tile of the 2720 seeded ones (rig lists/seed_tiles.txt,
#         lua/random_paths.lua) from mapproxy-ts serve-develop (1 Node process), from MapProxy under
#         gunicorn with 1 sync worker, and from nginx static (rig mkstatic.py hard links, :8082).
#         All three read the same files: the tc cache that mapproxy-seed wrote into rig/cache_data.
#   cold  meta-tile throughput on cache misses: levels 9-10 are removed, then wrk walks
#         lists/cold_tiles_seq.txt once (lua/seq_paths.lua) against mapproxy-ts and against
#         MapProxy (1 sync worker), both in front of the rig's MapServer; upstream GetMaps are the
#         lines of rig/run/logs/upstream_access.log.
#   and after the runs: peak RSS (VmHWM) per server process, server CPU ms per request
#   (utime+stime from /proc), the machine load. Summary: stdout and $OUT/summary.md.
#
# Knobs (environment):
#   RUNS=2  DURATION=10s  THREADS=2  CONNS=32   wrk settings; every target gets the same ones
#   PHASES="hit cold"    which parts to run
#   TS_BIND=127.0.0.1:9090  MP_BIND=127.0.0.1:8080   where the two servers listen (loopback only)
#   STATIC_URL=http://127.0.0.1:8082                  the rig's static nginx (fixed by its nginx.conf)
#   RIG=/work/shared/rig  the reference rig
#   RESEED=0      1: clear the rig cache and seed again even when all 2720 tiles are there
#   BUILD=auto    auto: `npm run build` when dist/ is missing or older than src/; 1: always; 0: never
#   PROFILE=0     1: afterwards, one more hit run against `node --cpu-prof` (not in the figures);
#                 the profile and its summary (bench/lib/cpuprofile-top.mjs) go to $OUT/profile/
#   OUT=bench/results/<time>   raw outputs (wrk output of every run, server logs, results.tsv)
# Defaults take about 3.5 minutes (plus ~30-90 s when the seed has to be made).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RIG="${RIG:-/work/shared/rig}"
RUNS="${RUNS:-2}"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
PHASES="${PHASES:-hit cold}"
TS_BIND="${TS_BIND:-127.0.0.1:9090}"
MP_BIND="${MP_BIND:-127.0.0.1:8080}"
STATIC_URL="${STATIC_URL:-http://127.0.0.1:8082}"
RESEED="${RESEED:-0}"
BUILD="${BUILD:-auto}"
PROFILE="${PROFILE:-0}"
OUT="${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)}"

TS_URL="http://$TS_BIND"
MP_URL="http://$MP_BIND"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

# ---- refuse anything that is not on the loopback -------------------------------------------------
require_loopback_bind TS_BIND "$TS_BIND"
require_loopback_bind MP_BIND "$MP_BIND"
require_loopback_url STATIC_URL "$STATIC_URL"
STATIC_URL="${STATIC_URL%/}"
require_loopback_sources "$HERE/mapproxy.yaml" "$RIG/mapproxy.yaml"
[ "$TS_BIND" != "$MP_BIND" ] || die "TS_BIND and MP_BIND must differ"
require_positive RUNS "$RUNS"
require_tools wrk curl node awk getconf
require_rig start.sh stop.sh mkstatic.py seed.yaml lua/random_paths.lua lua/seq_paths.lua lists/seed_tiles.txt lists/cold_tiles_seq.txt

open_out
printf 'when\ttarget\tpid\trole\tvmhwm_mib\tvmrss_mib\n' > "$RSS"
install_cleanup

# ---- the targets, their processes and memory -------------------------------------------------------
ts_pids() { echo "$TS_PID"; }
pids_of() { case "$1" in mapproxy-ts) ts_pids ;; mapproxy) mp_pids ;; nginx) nginx_pids ;; esac; }
url_of() { case "$1" in mapproxy-ts) echo "$TS_URL" ;; mapproxy) echo "$MP_URL" ;; nginx) echo "$STATIC_URL" ;; esac; }

rss_row() { # WHEN TARGET PID ROLE
  local hwm rss
  hwm=$(mem_mib "$3" VmHWM)
  rss=$(mem_mib "$3" VmRSS)
  [ -n "$hwm" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$hwm" "$rss" >> "$RSS"
}
record_rss() {
  local m
  [ -n "$TS_PID" ] && rss_row "$1" mapproxy-ts "$TS_PID" "node process"
  m=$(cat "$RIG/run/gunicorn.pid" 2>/dev/null) && [ -n "$m" ] && {
    rss_row "$1" mapproxy "$(mp_worker)" "gunicorn sync worker"
    rss_row "$1" mapproxy "$m" "gunicorn master"
  }
}

clear_cold_levels() { rm -rf "$TILES/09" "$TILES/10"; }

# ---- 0. build, versions --------------------------------------------------------------------------
log "output: $OUT"
build_if_needed

{
  meta_machine_and_versions
  meta wrk_settings "-t$THREADS -c$CONNS -d$DURATION --timeout 60s --latency, $RUNS runs per target"
  meta phases "$PHASES"
  meta out "$OUT"
  meta cmd_ts "BENCH_CACHE_DIR=$CACHE_BASE node bin/mapproxy-ts.js serve-develop bench/mapproxy.yaml -b $TS_BIND"
  meta cmd_mp "MP_WORKERS=1 MP_WORKER_CLASS=sync MP_BIND=$MP_BIND $RIG/start.sh mapproxy  (gunicorn -w 1 -k sync --timeout 120 app:application -> rig/mapproxy.yaml)"
  meta cmd_static "$STATIC_URL: rig nginx static root = hard links made by mkstatic.py lists/seed_tiles.txt"
  meta cmd_hit "LIST=lists/seed_tiles.txt wrk -t$THREADS -c$CONNS -d$DURATION --timeout 60s --latency -s lua/random_paths.lua URL"
  meta cmd_cold "rm -rf cache levels 09 10; LIST=lists/cold_tiles_seq.txt NTHREADS=$THREADS wrk -t$THREADS -c$CONNS -d$DURATION --timeout 60s --latency -s lua/seq_paths.lua URL"
  meta cache "$TILES"
}

# ---- 1. upstream (MapServer behind nginx :8081, static nginx :8082) ------------------------------
start_rig_upstream

# ---- 2. seed once (mapproxy-seed, 170 GetMaps), then hard links for nginx -------------------------
ensure_seed
clear_cold_levels   # leftovers of an interrupted cold run would make the next one warm

# ---- 3. servers ----------------------------------------------------------------------------------
refuse_busy_servers
start_ts() { # [extra node options...]
  launch_ts "$OUT/mapproxy-ts.log" "$@" bin/mapproxy-ts.js serve-develop bench/mapproxy.yaml -b "$TS_BIND"
  wait_ts_probe "$OUT/mapproxy-ts.log"
}
log "starting MapProxy: gunicorn, 1 sync worker, on $MP_BIND"
start_rig_mapproxy 1
log "starting mapproxy-ts serve-develop on $TS_BIND"
start_ts
log "pids: mapproxy-ts $(ts_pids); mapproxy $(mp_pids); nginx $(nginx_pids)"

# The three must hand out the very same bytes for the same URL.
same=$(same_bytes mapproxy-ts "$TS_URL" MapProxy "$MP_URL" nginx "$STATIC_URL")
meta same_bytes "$same of $(awk 'NR % 907 == 1' "$SEED_LIST" | wc -l) sample tiles byte-identical from all three"
log "byte check: $same sample tiles identical from mapproxy-ts, MapProxy and nginx"

# ---- 4. cache hits -----------------------------------------------------------------------------------
if [[ " $PHASES " == *" hit "* ]]; then
  for i in $(seq 1 "$RUNS"); do
    for target in mapproxy-ts mapproxy nginx; do   # interleaved, so a noisy minute hits all three
      wrk_run hit "$target" "$i" "$SEED_LIST" random_paths.lua
    done
  done
  record_rss after-hits
fi

# ---- 5. cold meta tiles ------------------------------------------------------------------------------
if [[ " $PHASES " == *" cold "* ]]; then
  for i in $(seq 1 "$RUNS"); do
    for target in mapproxy-ts mapproxy; do
      drain "$(url_of "$target")$PROBE_PATH"
      settle_upstream
      clear_cold_levels
      sleep 1
      wrk_run cold "$target" "$i" "$COLD_LIST" seq_paths.lua
    done
  done
  clear_cold_levels   # leave the rig cache as seeded
fi
record_rss after-all
meta load_end "$(cat /proc/loadavg)"

# ---- 6. optional: CPU profile of the hit path (separate run, not in the figures) ---------------------
if [ "$PROFILE" = 1 ]; then
  log "profiling: restarting mapproxy-ts with --cpu-prof for one more hit run"
  stop_ts
  mkdir -p "$OUT/profile"
  start_ts --cpu-prof --cpu-prof-dir="$OUT/profile"
  drain "$TS_URL$PROBE_PATH"
  wrk_hits "$TS_URL" "$DURATION" "$OUT/profile/wrk.txt"
  stop_ts
  prof=$(ls -t "$OUT"/profile/*.cpuprofile 2>/dev/null | head -n1)
  if [ -n "$prof" ]; then
    node "$HERE/lib/cpuprofile-top.mjs" "$prof" 30 > "$OUT/profile/top.txt" 2>&1
    meta profile "$OUT/profile/top.txt ($(grep '^RESULT' "$OUT/profile/wrk.txt" | cut -d' ' -f2-4))"
    log "profile summary: $OUT/profile/top.txt"
  else
    log "WARNING: no .cpuprofile written"
  fi
fi

cleanup
node "$HERE/lib/summarize.mjs" "$OUT" > "$OUT/summary.md" || die "summarize failed"
echo
cat "$OUT/summary.md"
echo
echo "raw outputs: $OUT"
