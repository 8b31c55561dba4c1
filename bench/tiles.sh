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

CACHE_BASE="$RIG/cache_data"                 # rig/mapproxy.yaml: globals.cache.base_dir
TILES="$CACHE_BASE/world_cache_EPSG3857"     # <cache name>_<grid srs>, tc layout
UPLOG="$RIG/run/logs/upstream_access.log"
SEED_LIST="$RIG/lists/seed_tiles.txt"
COLD_LIST="$RIG/lists/cold_tiles_seq.txt"
TS_URL="http://$TS_BIND"
MP_URL="http://$MP_BIND"
PROBE_PATH="/tms/1.0.0/"
CLK_TCK=$(getconf CLK_TCK)
export RIG_LUA="$RIG/lua" NTHREADS="$THREADS"

die() { echo "tiles.sh: $*" >&2; exit 2; }

# ---- refuse anything that is not on the loopback -------------------------------------------------
loopback_bind() { case "$1" in 127.0.0.1:[0-9]*|localhost:[0-9]*) return 0 ;; *) return 1 ;; esac; }
loopback_bind "$TS_BIND" || die "refusing: TS_BIND must be 127.0.0.1:PORT or localhost:PORT, got $TS_BIND"
loopback_bind "$MP_BIND" || die "refusing: MP_BIND must be 127.0.0.1:PORT or localhost:PORT, got $MP_BIND"
case "$STATIC_URL" in http://127.0.0.1:[0-9]*|http://localhost:[0-9]*) ;; *) die "refusing: STATIC_URL must be on the loopback, got $STATIC_URL" ;; esac
STATIC_URL="${STATIC_URL%/}"
for f in "$HERE/mapproxy.yaml" "$RIG/mapproxy.yaml"; do
  [ -r "$f" ] || die "missing $f"
  if grep -E '^\s*url:' "$f" | grep -vqE 'url:\s*https?://(127\.0\.0\.1|localhost)[:/]'; then
    die "refusing: $f has a source url that is not on the loopback"
  fi
done
[ "$TS_BIND" != "$MP_BIND" ] || die "TS_BIND and MP_BIND must differ"
case "$RUNS" in ''|*[!0-9]*|0) die "RUNS must be a positive integer" ;; esac
for c in wrk curl node awk getconf; do command -v "$c" >/dev/null || die "$c missing (rig/setup.sh installs wrk)"; done
for f in start.sh stop.sh mkstatic.py seed.yaml lua/random_paths.lua lua/seq_paths.lua lists/seed_tiles.txt lists/cold_tiles_seq.txt; do
  [ -e "$RIG/$f" ] || die "rig file missing: $RIG/$f"
done
[ -f "$RIG/data/world.tif" ] || die "rig data missing: run $RIG/setup.sh first"

listening() { # host:port -> 0 when something accepts connections there
  local h="${1%:*}" p="${1##*:}"
  [ "$h" = localhost ] && h=127.0.0.1
  (exec 3<>"/dev/tcp/$h/$p") 2>/dev/null
}
alive_pidfile() { [ -s "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

mkdir -p "$OUT"
LOG="$OUT/bench.log"
RESULTS="$OUT/results.tsv"
RSS="$OUT/rss.tsv"
META="$OUT/meta.txt"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }
meta() { echo "$1=$2" >> "$META"; }
: > "$META"
printf 'phase\ttarget\trun\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\trequests\tnon2xx\terrors\tcpu_ms_per_req\tupstream\tupstream_late\twraps\tload1\tbox_busy_pct\tother_cores\twrk_cores\n' > "$RESULTS"
printf 'when\ttarget\tpid\trole\tvmhwm_mib\tvmrss_mib\n' > "$RSS"

# ---- cleanup: stop exactly what this script started ----------------------------------------------
TS_PID=""
STARTED_MP=0
STARTED_UP=0
WRK_PID=""
stop_ts() {
  [ -n "$TS_PID" ] || return 0
  kill -TERM "$TS_PID" 2>/dev/null
  local i
  for i in $(seq 1 50); do kill -0 "$TS_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$TS_PID" 2>/dev/null && { log "mapproxy-ts $TS_PID did not stop, sending KILL"; kill -KILL "$TS_PID" 2>/dev/null; }
  wait "$TS_PID" 2>/dev/null
  TS_PID=""
}
cleanup() {
  trap - EXIT INT TERM
  [ -n "$WRK_PID" ] && { pkill -TERM -P "$WRK_PID" 2>/dev/null; kill "$WRK_PID" 2>/dev/null; }
  stop_ts
  [ "$STARTED_MP" = 1 ] && "$RIG/stop.sh" mapproxy >> "$LOG" 2>&1
  [ "$STARTED_UP" = 1 ] && "$RIG/stop.sh" upstream >> "$LOG" 2>&1
  STARTED_MP=0 STARTED_UP=0
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---- measuring helpers -----------------------------------------------------------------------------
uplines() { wc -l < "$UPLOG"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
getv() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }
box_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; } # busy total
cpu_ticks() { # utime+stime (all threads) of the given pids
  local t=0 p v
  for p in "$@"; do
    v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
    [ -n "$v" ] && t=$((t + v))
  done
  echo "$t"
}
ts_pids() { echo "$TS_PID"; }
mp_pids() { local m; m=$(cat "$RIG/run/gunicorn.pid" 2>/dev/null) || return 0; echo "$m $(pgrep -P "$m" | tr '\n' ' ')"; }
mp_worker() { local m; m=$(cat "$RIG/run/gunicorn.pid" 2>/dev/null) || return 0; pgrep -P "$m" | head -n1; }
nginx_pids() { local m; m=$(cat "$RIG/run/nginx.pid" 2>/dev/null) || return 0; echo "$m $(pgrep -P "$m" | tr '\n' ' ')"; }
pids_of() { case "$1" in mapproxy-ts) ts_pids ;; mapproxy) mp_pids ;; nginx) nginx_pids ;; esac; }
url_of() { case "$1" in mapproxy-ts) echo "$TS_URL" ;; mapproxy) echo "$MP_URL" ;; nginx) echo "$STATIC_URL" ;; esac; }

# After a run a server may still work off queued requests (a sync worker cannot see that wrk closed
# the connection): wait until a cheap probe answers in under 0.1 s, as rig/bench.sh does.
drain() {
  local i t
  for i in $(seq 1 120); do
    t=$(curl -s -o /dev/null -m 60 -w '%{time_total}' "$1" 2>/dev/null || echo 9)
    awk -v t="$t" 'BEGIN{exit !(t < 0.1)}' && break
    sleep 0.5
  done
  sleep 1
}
# Wait until the upstream log has not grown for 2 s: mapproxy-ts answers the probe while it still
# creates meta tiles for requests wrk abandoned, so a quick probe alone does not mean "idle".
settle_upstream() {
  local a b i
  a=$(uplines)
  for i in $(seq 1 60); do
    sleep 2; b=$(uplines)
    [ "$a" = "$b" ] && return 0
    a=$b
  done
  log "WARNING: upstream still busy after 120 s"
}

# wrk_run PHASE TARGET RUN LIST SCRIPT: one measured wrk run; appends a row to results.tsv
wrk_run() {
  local phase="$1" target="$2" run="$3" list="$4" script="$5"
  local url outf pids c0 c1 b0 b1 u0 u1 u2 la req cpu t wrk_ticks busy_pct other wrk_cores r
  url=$(url_of "$target")
  outf="$OUT/${phase}_${target}_run${run}.txt"
  pids=$(pids_of "$target")
  drain "$url$PROBE_PATH"
  la=$(load1); u0=$(uplines); c0=$(cpu_ticks $pids); read -r b0 t <<< "$(box_ticks)"; local t0=$t
  # `times` in the subshell reports the CPU its waited-for child (wrk) used
  ( LIST="$list" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 60s --latency -s "$RIG/lua/$script" "$url" > "$outf" 2>&1
    times > "$outf.times" ) &   # not in a pipeline: that would be another subshell without children
  WRK_PID=$!
  wait "$WRK_PID"; WRK_PID=""
  c1=$(cpu_ticks $pids); read -r b1 t <<< "$(box_ticks)"; u1=$(uplines)
  if [ "$phase" = cold ]; then settle_upstream; fi
  u2=$(uplines)
  r=$(grep '^RESULT' "$outf" | tail -n1)
  [ -n "$r" ] || { log "$phase $target run $run: wrk printed no RESULT line, see $outf"; r="RESULT requests=0"; }
  req=$(getv requests "$r")
  cpu="-"
  [ "${req:-0}" -gt 0 ] && cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$req" 'BEGIN{printf "%.3f", d*1000/hz/n}')
  # wrk's own CPU (children user+sys, "0m1.230s 0m0.450s")
  wrk_ticks=$(awk 'END{ s=0; for (i=1;i<=2;i++){ split($i,a,"m"); sub("s","",a[2]); s+=a[1]*60+a[2] } printf "%.0f", s*100 }' "$outf.times" 2>/dev/null)
  busy_pct=$(awk -v b=$((b1 - b0)) -v t=$((t - t0)) 'BEGIN{ if (t>0) printf "%.0f", 100*b/t; else print "-" }')
  # cores used by everything else on the box (other processes, and the upstream during cold runs)
  local ncpu; ncpu=$(nproc)
  other=$(awk -v b=$((b1 - b0)) -v t=$((t - t0)) -v s=$((c1 - c0)) -v w="${wrk_ticks:-0}" -v hz="$CLK_TCK" -v n="$ncpu" \
    'BEGIN{ if (t<=0) {print "-"; exit} secs=t/n/hz; o=(b-s-w*hz/100)/hz/secs; if (o<0) o=0; printf "%.2f", o }')
  wrk_cores=$(awk -v w="${wrk_ticks:-0}" -v t=$((t - t0)) -v hz="$CLK_TCK" -v n="$ncpu" 'BEGIN{ if (t<=0) {print "-"; exit} printf "%.2f", (w/100)/(t/n/hz) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$phase" "$target" "$run" "$(getv rps "$r")" "$(getv p50_ms "$r")" "$(getv p90_ms "$r")" "$(getv p99_ms "$r")" \
    "$(getv max_ms "$r")" "$req" "$(getv non2xx "$r")" "$(getv errors "$r")" "$cpu" $((u1 - u0)) $((u2 - u1)) \
    "$(getv wraps "$r")" "$la" "$busy_pct" "$other" "$wrk_cores" >> "$RESULTS"
  log "$phase $target run $run: rps=$(getv rps "$r") p50=$(getv p50_ms "$r") p99=$(getv p99_ms "$r") non2xx=$(getv non2xx "$r") err=$(getv errors "$r") cpu_ms/req=$cpu upstream=$((u1 - u0))(+$((u2 - u1))) load1=$la box=${busy_pct}% other=${other} cores"
}

rss_row() { # WHEN TARGET PID ROLE
  local hwm rss
  hwm=$(awk '/^VmHWM/{printf "%.1f", $2/1024}' "/proc/$3/status" 2>/dev/null)
  rss=$(awk '/^VmRSS/{printf "%.1f", $2/1024}' "/proc/$3/status" 2>/dev/null)
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
need_build=0
if [ ! -f "$ROOT/dist/cli/main.js" ]; then need_build=1
elif [ "$BUILD" = 1 ]; then need_build=1
elif [ "$BUILD" = auto ] && [ -n "$(find "$ROOT/src" -name '*.ts' -newer "$ROOT/dist/cli/main.js" -print -quit)" ]; then need_build=1
fi
if [ "$need_build" = 1 ]; then
  log "building mapproxy-ts (npm run build)"
  (cd "$ROOT" && npm run build) > "$OUT/build.log" 2>&1 || {
    [ -f "$ROOT/dist/cli/main.js" ] || die "npm run build failed, see $OUT/build.log"
    log "WARNING: npm run build reported errors (see $OUT/build.log); measuring the dist/ it emitted"
  }
fi

{
  meta date "$(date -Is)"
  meta host "$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  meta cpu "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  meta load_start "$(cat /proc/loadavg)"
  meta niceness "$(ps -o ni= -p $$ | tr -d ' ')"
  meta busiest_at_start "$(ps -eo pcpu=,comm= --sort=-pcpu | head -n5 | awk '{printf "%s %s%%; ", $2, $1}')"
  meta node "$(node --version)"
  meta mapproxy_ts "$(node -p "require('$ROOT/package.json').version") git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted src changes')"
  meta sharp "$(node -p "require('$ROOT/node_modules/sharp/package.json').version" 2>/dev/null)"
  meta mapproxy "$(/usr/bin/python3 -c 'from mapproxy.version import version; print(version)' 2>/dev/null) (python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())'))"
  meta gunicorn "$(/usr/bin/gunicorn --version 2>&1 | head -n1)"
  meta nginx "$(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')"
  meta wrk "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"
  meta mapserver "$(/usr/lib/cgi-bin/mapserv -v 2>/dev/null | head -n1 | cut -d' ' -f1-3)"
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
if alive_pidfile "$RIG/run/nginx.pid" && alive_pidfile "$RIG/run/mapserv.pid"; then
  log "rig upstream already running: using it, and leaving it running afterwards"
else
  listening 127.0.0.1:8081 && die "something else listens on 127.0.0.1:8081 (not the rig's nginx)"
  log "starting the rig upstream (rig/start.sh upstream)"
  STARTED_UP=1
  "$RIG/start.sh" upstream >> "$LOG" 2>&1 || die "rig/start.sh upstream failed, see $LOG"
fi
[ -r "$UPLOG" ] || die "upstream access log not readable: $UPLOG"

# ---- 2. seed once (mapproxy-seed, 170 GetMaps), then hard links for nginx -------------------------
if [ "$RESEED" != 1 ] && /usr/bin/python3 "$RIG/mkstatic.py" "$SEED_LIST" > "$OUT/mkstatic.log" 2>&1; then
  log "cache complete ($(tail -n1 "$OUT/mkstatic.log")); not seeding again (RESEED=1 forces)"
  meta seed "reused the existing seed in $TILES"
else
  log "seeding: mapproxy-seed -f rig/mapproxy.yaml -s rig/seed.yaml --seed world_seed -c 2"
  rm -rf "$TILES"
  u0=$(uplines); s0=$(date +%s.%N)
  (cd "$RIG" && /usr/bin/mapproxy-seed -f "$RIG/mapproxy.yaml" -s "$RIG/seed.yaml" --seed world_seed -c 2) > "$OUT/seed.log" 2>&1 \
    || die "mapproxy-seed failed, see $OUT/seed.log"
  s1=$(date +%s.%N); sleep 1; u1=$(uplines)
  secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.1f", b-a}')
  log "seeded in ${secs}s with $((u1 - u0)) upstream GetMaps"
  meta seed "mapproxy-seed -c 2: $secs s, $((u1 - u0)) upstream GetMaps"
  /usr/bin/python3 "$RIG/mkstatic.py" "$SEED_LIST" > "$OUT/mkstatic.log" 2>&1 || die "mkstatic.py: $(tail -n1 "$OUT/mkstatic.log")"
fi
clear_cold_levels   # leftovers of an interrupted cold run would make the next one warm

# ---- 3. servers ----------------------------------------------------------------------------------
alive_pidfile "$RIG/run/gunicorn.pid" && die "a rig MapProxy (gunicorn $(cat "$RIG/run/gunicorn.pid")) already runs; stop it first ($RIG/stop.sh mapproxy)"
listening "$MP_BIND" && die "something already listens on $MP_BIND (set MP_BIND)"
listening "$TS_BIND" && die "something already listens on $TS_BIND (set TS_BIND)"
start_ts() { # [extra node options...]
  (cd "$ROOT" && BENCH_CACHE_DIR="$CACHE_BASE" exec node "$@" bin/mapproxy-ts.js serve-develop bench/mapproxy.yaml -b "$TS_BIND") >> "$OUT/mapproxy-ts.log" 2>&1 &
  TS_PID=$!
  local i
  for i in $(seq 1 100); do
    curl -s -o /dev/null -m 2 "$TS_URL$PROBE_PATH" && return 0
    kill -0 "$TS_PID" 2>/dev/null || die "mapproxy-ts exited at start, see $OUT/mapproxy-ts.log"
    sleep 0.2
  done
  die "mapproxy-ts does not answer on $TS_URL"
}
log "starting MapProxy: gunicorn, 1 sync worker, on $MP_BIND"
STARTED_MP=1
MP_WORKERS=1 MP_WORKER_CLASS=sync MP_BIND="$MP_BIND" "$RIG/start.sh" mapproxy >> "$LOG" 2>&1 || die "rig/start.sh mapproxy failed, see $LOG"
log "starting mapproxy-ts serve-develop on $TS_BIND"
start_ts
log "pids: mapproxy-ts $(ts_pids); mapproxy $(mp_pids); nginx $(nginx_pids)"

# The three must hand out the very same bytes for the same URL.
same=0
for u in $(awk 'NR % 907 == 1' "$SEED_LIST"); do
  a=$(curl -s -m 30 "$TS_URL$u" | md5sum | cut -c1-32); b=$(curl -s -m 30 "$MP_URL$u" | md5sum | cut -c1-32); c=$(curl -s -m 30 "$STATIC_URL$u" | md5sum | cut -c1-32)
  if [ "$a" = "$b" ] && [ "$b" = "$c" ]; then same=$((same + 1)); else log "WARNING: $u differs: mapproxy-ts $a, MapProxy $b, nginx $c"; fi
done
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
  LIST="$SEED_LIST" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 60s --latency -s "$RIG/lua/random_paths.lua" "$TS_URL" > "$OUT/profile/wrk.txt" 2>&1
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
