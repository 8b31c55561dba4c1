# bench/lib/common.sh -- shell pieces shared by bench/tiles.sh and bench/cluster.sh: loopback-only
# refusals, the rig upstream and its seed, starting/stopping mapproxy-ts, one measured wrk run (CPU
# ticks from /proc, drain/probe, machine load), memory from /proc, build and versions, cleanup.
# Sourced, not run. The caller sets ROOT, RIG, OUT, THREADS, CONNS, DURATION (and BUILD, RESEED)
# first, and defines url_of TARGET and pids_of TARGET for wrk_run.
# shellcheck shell=bash

BENCH_NAME="${BENCH_NAME:-${0##*/}}"
CACHE_BASE="$RIG/cache_data"                 # rig/mapproxy.yaml: globals.cache.base_dir
TILES="$CACHE_BASE/world_cache_EPSG3857"     # <cache name>_<grid srs>, tc layout
UPLOG="$RIG/run/logs/upstream_access.log"
SEED_LIST="$RIG/lists/seed_tiles.txt"
# The URLs of the hit runs (cluster.sh's ZIPF_S makes a skewed one); every target gets the same.
HIT_LIST="${HIT_LIST:-$SEED_LIST}"
COLD_LIST="$RIG/lists/cold_tiles_seq.txt"
PROBE_PATH="/tms/1.0.0/"
CLK_TCK=$(getconf CLK_TCK)
export RIG_LUA="$RIG/lua" NTHREADS="$THREADS"

die() { echo "$BENCH_NAME: $*" >&2; exit 2; }

# ---- refuse anything that is not on the loopback -------------------------------------------------
loopback_bind() { case "$1" in 127.0.0.1:[0-9]*|localhost:[0-9]*) return 0 ;; *) return 1 ;; esac; }
require_loopback_bind() { # NAME VALUE
  loopback_bind "$2" || die "refusing: $1 must be 127.0.0.1:PORT or localhost:PORT, got $2"
}
require_loopback_url() { # NAME VALUE
  case "$2" in http://127.0.0.1:[0-9]*|http://localhost:[0-9]*) ;; *) die "refusing: $1 must be on the loopback, got $2" ;; esac
}
require_loopback_sources() { # CONFIG-FILE...: every `url:` must point at 127.0.0.1 or localhost
  local f
  for f in "$@"; do
    [ -r "$f" ] || die "missing $f"
    if grep -E '^\s*url:' "$f" | grep -vqE 'url:\s*https?://(127\.0\.0\.1|localhost)[:/]'; then
      die "refusing: $f has a source url that is not on the loopback"
    fi
  done
}
require_tools() { local c; for c in "$@"; do command -v "$c" >/dev/null || die "$c missing (rig/setup.sh installs wrk)"; done; }
require_rig() { # RIG-RELATIVE-FILE...
  local f
  for f in "$@"; do [ -e "$RIG/$f" ] || die "rig file missing: $RIG/$f"; done
  [ -f "$RIG/data/world.tif" ] || die "rig data missing: run $RIG/setup.sh first"
}
require_positive() { case "$2" in ''|*[!0-9]*|0) die "$1 must be a positive integer" ;; esac; }

listening() { # host:port -> 0 when something accepts connections there
  local h="${1%:*}" p="${1##*:}"
  [ "$h" = localhost ] && h=127.0.0.1
  (exec 3<>"/dev/tcp/$h/$p") 2>/dev/null
}
alive_pidfile() { [ -s "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

# ---- output folder: bench.log, results.tsv (one row per wrk run), meta.txt (key=value) -----------
open_out() {
  mkdir -p "$OUT"
  LOG="$OUT/bench.log"
  RESULTS="$OUT/results.tsv"
  RSS="$OUT/rss.tsv"
  META="$OUT/meta.txt"
  : > "$META"
  printf 'phase\ttarget\trun\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\trequests\tnon2xx\terrors\tcpu_ms_per_req\tupstream\tupstream_late\twraps\tload1\tbox_busy_pct\tother_cores\twrk_cores\n' > "$RESULTS"
}
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }
meta() { echo "$1=$2" >> "$META"; }

# ---- processes -----------------------------------------------------------------------------------
tree_pids() { # PID -> PID and all its descendants
  local c
  echo "$1"
  for c in $(pgrep -P "$1"); do tree_pids "$c"; done
}
mp_pids() { local m; m=$(cat "$RIG/run/gunicorn.pid" 2>/dev/null) || return 0; echo "$m $(pgrep -P "$m" | tr '\n' ' ')"; }
mp_worker() { local m; m=$(cat "$RIG/run/gunicorn.pid" 2>/dev/null) || return 0; pgrep -P "$m" | head -n1; }
nginx_pids() { local m; m=$(cat "$RIG/run/nginx.pid" 2>/dev/null) || return 0; echo "$m $(pgrep -P "$m" | tr '\n' ' ')"; }

# ---- cleanup: stop exactly what this script started ----------------------------------------------
TS_PID=""
STARTED_MP=0
STARTED_UP=0
WRK_PID=""
# launch_ts LOGFILE NODE-ARGS...: node in $ROOT with BENCH_CACHE_DIR = the rig cache, in the background
launch_ts() {
  local logf="$1"; shift
  (cd "$ROOT" && BENCH_CACHE_DIR="$CACHE_BASE" exec node "$@") >> "$logf" 2>&1 &
  TS_PID=$!
}
wait_ts_probe() { # LOGFILE: until mapproxy-ts answers the probe URL
  local i
  for i in $(seq 1 100); do
    curl -s -o /dev/null -m 2 "$TS_URL$PROBE_PATH" && return 0
    kill -0 "$TS_PID" 2>/dev/null || die "mapproxy-ts exited at start, see $1"
    sleep 0.2
  done
  die "mapproxy-ts does not answer on $TS_URL"
}
# SIGTERM to the mapproxy-ts process (the master, with `serve`) and wait for it and its children.
stop_ts() {
  [ -n "$TS_PID" ] || return 0
  local i p kids
  kids=$(tree_pids "$TS_PID" | tail -n +2)
  kill -TERM "$TS_PID" 2>/dev/null
  for i in $(seq 1 50); do kill -0 "$TS_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$TS_PID" 2>/dev/null && { log "mapproxy-ts $TS_PID did not stop, sending KILL"; kill -KILL "$TS_PID" 2>/dev/null; }
  wait "$TS_PID" 2>/dev/null
  for p in $kids; do
    for i in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { log "worker $p outlived its master, sending KILL"; kill -KILL "$p" 2>/dev/null; }
  done
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
install_cleanup() {
  trap cleanup EXIT
  trap 'log "interrupted"; exit 130' INT TERM
}

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
mem_mib() { # PID FIELD: a kB field of /proc/PID/status (VmHWM, VmRSS, RssAnon, ...) in MiB
  awk -v f="$2:" '$1 == f {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null
}
pss_mib() { awk '/^Pss:/{printf "%.1f", $2/1024}' "/proc/$1/smaps_rollup" 2>/dev/null; }

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

# wrk_hits URL DURATION OUTFILE: the hit load (random seeded tile) without measuring anything else
wrk_hits() {
  LIST="$HIT_LIST" wrk -t"$THREADS" -c"$CONNS" -d"$2" --timeout 60s --latency -s "$RIG/lua/random_paths.lua" "$1" > "$3" 2>&1
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

# ---- build, versions ---------------------------------------------------------------------------------
# BUILD=auto: `npm run build` when dist/ is missing or older than src/; 1: always; 0: never
build_if_needed() {
  local need_build=0
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
}
meta_machine_and_versions() {
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
}

# ---- the rig: upstream (MapServer behind nginx :8081, static nginx :8082), seed, MapProxy -----------
start_rig_upstream() {
  if alive_pidfile "$RIG/run/nginx.pid" && alive_pidfile "$RIG/run/mapserv.pid"; then
    log "rig upstream already running: using it, and leaving it running afterwards"
  else
    listening 127.0.0.1:8081 && die "something else listens on 127.0.0.1:8081 (not the rig's nginx)"
    log "starting the rig upstream (rig/start.sh upstream)"
    STARTED_UP=1
    "$RIG/start.sh" upstream >> "$LOG" 2>&1 || die "rig/start.sh upstream failed, see $LOG"
  fi
  [ -r "$UPLOG" ] || die "upstream access log not readable: $UPLOG"
}
# Seed once (mapproxy-seed, 170 GetMaps), then hard links for nginx. RESEED=1 seeds again.
ensure_seed() {
  local u0 u1 s0 s1 secs
  if [ "$RESEED" != 1 ] && /usr/bin/python3 "$RIG/mkstatic.py" "$SEED_LIST" > "$OUT/mkstatic.log" 2>&1; then
    log "cache complete ($(tail -n1 "$OUT/mkstatic.log")); not seeding again (RESEED=1 forces)"
    meta seed "reused the existing seed in $TILES"
    return 0
  fi
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
}
refuse_busy_servers() { # nothing of ours may run yet: no rig MapProxy, nothing on MP_BIND / TS_BIND
  alive_pidfile "$RIG/run/gunicorn.pid" && die "a rig MapProxy (gunicorn $(cat "$RIG/run/gunicorn.pid")) already runs; stop it first ($RIG/stop.sh mapproxy)"
  listening "$MP_BIND" && die "something already listens on $MP_BIND (set MP_BIND)"
  listening "$TS_BIND" && die "something already listens on $TS_BIND (set TS_BIND)"
}
start_rig_mapproxy() { # WORKERS: gunicorn with that many sync workers on MP_BIND
  STARTED_MP=1
  MP_WORKERS="$1" MP_WORKER_CLASS=sync MP_BIND="$MP_BIND" "$RIG/start.sh" mapproxy >> "$LOG" 2>&1 || die "rig/start.sh mapproxy failed, see $LOG"
}

# same_bytes LABEL URL [LABEL URL...]: fetch every 907th seeded tile from each server; prints the
# number of tiles that were byte-identical from all of them (and logs the others).
same_bytes() {
  local same=0 u i h ref ok line servers=("$@")
  for u in $(awk 'NR % 907 == 1' "$SEED_LIST"); do
    ref="" ok=1 line=""
    for ((i = 0; i < ${#servers[@]}; i += 2)); do
      h=$(curl -s -m 30 "${servers[i + 1]}$u" | md5sum | cut -c1-32)
      [ -n "$ref" ] || ref=$h
      [ "$h" = "$ref" ] || ok=0
      line="$line${line:+, }${servers[i]} $h"
    done
    if [ "$ok" = 1 ]; then same=$((same + 1)); else log "WARNING: $u differs: $line"; fi
  done
  echo "$same"
}
