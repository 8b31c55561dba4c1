#!/bin/bash
# bench/cluster.sh -- cache-hit throughput of `mapproxy-ts serve` (master + N pre-forked workers)
# against nginx and against MapProxy under gunicorn with N sync workers, on the reference rig
# (issue 3, acceptance 7). One invocation measures, on the same 2720 seeded tile files and URLs
# (rig lists/seed_tiles.txt, lua/random_paths.lua):
#
#   ts-N          node bin/mapproxy-ts.js serve bench/mapproxy.yaml -w N --spare-workers 0 (headline)
#   ts-1          the same with one worker
#   ts-N-notier   -w N with bench/cluster-notier.yaml: no open files, no tier (open/read/close per hit)
#   ts-N-tier     -w N with bench/cluster-tier.yaml: a 32 MiB memory tier (half the working set) too
#   ts-N-bigtier  -w N with bench/cluster-bigtier.yaml: a tier that holds the whole working set
#   ts-N-blocking -w N with bench/cluster-blocking.yaml: open files read on the event loop
#                 (blocking_reads: true) instead of through the thread pool
#   ...-nolane    the same variant with --no-fast-lane: node:http reads every request
#   ...-poolK     the same variant with --threadpool-size K (workers default to 2 threads)
#   floor-<mode>  bench/lib/node-floor.mjs with N node:cluster workers: a minimal node:http server with
#                 no mapproxy-ts code on the same files (reuse: files kept open, one pread per hit
#                 through the pool into reused buffers; scratch: the same on the event loop into one
#                 buffer; heldfd: through the pool into a new buffer per hit; memory: every tile
#                 kept in memory), what Node itself reaches and costs in memory
#   mapproxy-N    MapProxy 1.15 under gunicorn, N sync workers (rig/start.sh mapproxy)
#   nginx         the rig's static nginx on the same files (hard links, :8082)
#
# Every mapproxy-ts variant is started for its run and stopped after it (SIGTERM to the master), so
# only one of them ever holds the cores; each start gets an unmeasured warm-up run. Recorded per run:
# req/s, p50/p99, errors, server CPU ms per request summed over the whole process tree (master and
# workers), the memory of every worker (VmRSS right after start, before any request; VmHWM = peak
# after the run; RssAnon/RssFile/Pss) and of the master apart, load1, and the cores other processes
# used. Summary with the ratios and the aims of the issue: stdout and $OUT/summary.md.
#
# Knobs (environment):
#   WORKERS=$(nproc)   N, for ts-N and mapproxy-N
#   TS_VARIANTS="ts-N ts-N-pool4 ts-N-nolane ts-1 ts-N-notier ts-N-blocking ts-N-tier ts-N-bigtier ts-N-bigtier-nolane"
#                 which mapproxy-ts runs; a name is ts-<N|count>[-<name>][-poolK][-nolane]: with -<name>
#                 the config is bench/cluster-<name>.yaml (e.g. `base: mapproxy.yaml` + overrides),
#                 without it bench/mapproxy.yaml; -nolane adds --no-fast-lane
#   FLOOR_VARIANTS="floor-reuse floor-scratch floor-memory"   the node-floor runs ("" for none); floor-<mode>
#                 with a mode of node-floor.mjs (filehandle, callback, readfile, sync, statcache,
#                 heldfd, heldsync, scratch, reuse, memory)
#   RUNS=2  DURATION=10s  THREADS=2  CONNS=32   wrk settings; every target gets the same ones
#   ZIPF_S        unset: the rig's uniform list; a number (e.g. 1.0): 100000 requests drawn from the
#                 seeded tiles with Zipf popularity 1/rank^S (bench/zipf-list.mjs, fixed seed), the
#                 skew of real tile traffic, where a tier of hot tiles can help
#   WARMUP=3s     unmeasured wrk run right after each server start (0: none)
#   TS_BIND=127.0.0.1:9090  MP_BIND=127.0.0.1:8080   loopback only
#   STATIC_URL=http://127.0.0.1:8082                  the rig's static nginx (fixed by its nginx.conf)
#   RIG=/work/shared/rig  RESEED=0  BUILD=auto  OUT=bench/results/<time>-cluster   as in tiles.sh
# Defaults take about 8 minutes (14 targets x 2 runs x (10 s + warm-up, start, drain)).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RIG="${RIG:-/work/shared/rig}"
WORKERS="${WORKERS:-$(nproc)}"
TS_VARIANTS="${TS_VARIANTS:-ts-N ts-N-pool4 ts-N-nolane ts-1 ts-N-notier ts-N-blocking ts-N-tier ts-N-bigtier ts-N-bigtier-nolane}"
FLOOR_VARIANTS="${FLOOR_VARIANTS-floor-reuse floor-scratch floor-memory}"
RUNS="${RUNS:-2}"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
WARMUP="${WARMUP:-3s}"
TS_BIND="${TS_BIND:-127.0.0.1:9090}"
MP_BIND="${MP_BIND:-127.0.0.1:8080}"
STATIC_URL="${STATIC_URL:-http://127.0.0.1:8082}"
RESEED="${RESEED:-0}"
BUILD="${BUILD:-auto}"
OUT="${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-cluster}"

TS_URL="http://$TS_BIND"
MP_URL="http://$MP_BIND"
MP_TARGET="mapproxy-N"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

# ---- the mapproxy-ts variants: ts-<N|count>[-<name>] -------------------------------------------------
# A trailing -nolane runs the same variant with --no-fast-lane (node:http reads every request).
variant_workers() { local w="${1#ts-}"; w="${w%%-*}"; [ "$w" = N ] && w=$WORKERS; echo "$w"; }
variant_config() { local r="${1#ts-}"; r="${r%-nolane}"; r=$(sed -E 's/-pool[0-9]+$//' <<< "$r"); case "$r" in *-*) echo "bench/cluster-${r#*-}.yaml" ;; *) echo "bench/mapproxy.yaml" ;; esac; }
variant_flags() {
  local f="" pool
  pool=$(sed -nE 's/.*-pool([0-9]+)(-nolane)?$/\1/p' <<< "$1")
  [ -n "$pool" ] && f="--threadpool-size $pool"
  case "$1" in *-nolane) f="$f --no-fast-lane" ;; esac
  echo "$f"
}
variant_cmd() { echo "node bin/mapproxy-ts.js serve $(variant_config "$1") -b $TS_BIND -w $(variant_workers "$1") --spare-workers 0 $(variant_flags "$1")"; }
# The node-floor runs listen on TS_BIND's port (node-floor.mjs binds 127.0.0.1).
floor_cmd() { echo "node bench/lib/node-floor.mjs $TILES ${TS_BIND##*:} ${1#floor-} $WORKERS"; }

# ---- refuse anything that is not on the loopback, and bad knobs ------------------------------------
require_loopback_bind TS_BIND "$TS_BIND"
require_loopback_bind MP_BIND "$MP_BIND"
require_loopback_url STATIC_URL "$STATIC_URL"
STATIC_URL="${STATIC_URL%/}"
[ "$TS_BIND" != "$MP_BIND" ] || die "TS_BIND and MP_BIND must differ"
require_positive RUNS "$RUNS"
require_positive WORKERS "$WORKERS"
case "$WARMUP" in 0) ;; [0-9]*s) ;; *) die "WARMUP must be 0 or a wrk duration like 3s, got $WARMUP" ;; esac
[ -n "${TS_VARIANTS// /}" ] || die "TS_VARIANTS is empty"
configs=("$HERE/mapproxy.yaml" "$RIG/mapproxy.yaml")
for v in $TS_VARIANTS; do
  [[ "$v" =~ ^ts-(N|[1-9][0-9]*)(-[a-z0-9][a-z0-9-]*)?$ ]] || die "TS_VARIANTS: '$v' is not ts-<N|count>[-<name>]"
  configs+=("$ROOT/$(variant_config "$v")")
done
for v in $FLOOR_VARIANTS; do
  [[ "$v" =~ ^floor-(filehandle|callback|readfile|sync|statcache|heldfd|heldsync|scratch|reuse|memory)$ ]] \
    || die "FLOOR_VARIANTS: '$v' is not floor-<mode> with a mode of bench/lib/node-floor.mjs"
done
case "$TS_BIND" in 127.0.0.1:*|localhost:*) ;; *) [ -z "${FLOOR_VARIANTS// /}" ] || die "FLOOR_VARIANTS need TS_BIND on 127.0.0.1 (node-floor.mjs binds it)" ;; esac
require_loopback_sources "${configs[@]}"
require_tools wrk curl node awk getconf pgrep
require_rig start.sh stop.sh mkstatic.py seed.yaml lua/random_paths.lua lists/seed_tiles.txt

open_out
printf 'when\ttarget\trun\tpid\trole\tvmrss_mib\tvmhwm_mib\trss_anon_mib\trss_file_mib\tpss_mib\n' > "$RSS"
install_cleanup

# ---- the targets, their processes and memory -------------------------------------------------------
url_of() { case "$1" in ts-*|floor-*) echo "$TS_URL" ;; mapproxy-*) echo "$MP_URL" ;; nginx) echo "$STATIC_URL" ;; esac; }
pids_of() { case "$1" in ts-*|floor-*) tree_pids "$TS_PID" | tr '\n' ' ' ;; mapproxy-*) mp_pids ;; nginx) nginx_pids ;; esac; }
mem_row() { # WHEN TARGET RUN PID ROLE
  local rss
  rss=$(mem_mib "$4" VmRSS)
  [ -n "$rss" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$rss" \
    "$(mem_mib "$4" VmHWM)" "$(mem_mib "$4" RssAnon)" "$(mem_mib "$4" RssFile)" "$(pss_mib "$4")" >> "$RSS"
}
record_mem() { # WHEN TARGET RUN: the master (or nginx/gunicorn master) and each of its children
  local m c role=worker mrole=master
  case "$2" in
    ts-*|floor-*) m=$TS_PID ;;
    mapproxy-*) m=$(cat "$RIG/run/gunicorn.pid" 2>/dev/null); role="gunicorn sync worker" mrole="gunicorn master" ;;
    nginx) m=$(cat "$RIG/run/nginx.pid" 2>/dev/null); role="nginx worker" mrole="nginx master" ;;
  esac
  [ -n "$m" ] || return 0
  mem_row "$1" "$2" "$3" "$m" "$mrole"
  for c in $(pgrep -P "$m"); do mem_row "$1" "$2" "$3" "$c" "$role"; done
}
warm_up() { # TARGET RUN
  [ "$WARMUP" = 0 ] && return 0
  wrk_hits "$(url_of "$1")" "$WARMUP" "$OUT/warmup_${1}_run$2.txt"
  log "warm-up $1: $(grep '^RESULT' "$OUT/warmup_${1}_run$2.txt" | cut -d' ' -f2-4)"
}

# start_variant VARIANT RUN: serve on TS_BIND; ready when the master logs "ready" (every worker
# listens), which needs no request, so the memory read next is the cost before any request.
start_variant() {
  local v="$1" run="$2" w conf logf i n
  w=$(variant_workers "$v"); conf=$(variant_config "$v")
  logf="$OUT/${v}_run${run}.log"
  listening "$TS_BIND" && die "something already listens on $TS_BIND (set TS_BIND)"
  # shellcheck disable=SC2046 # no flag or one word
  launch_ts "$logf" bin/mapproxy-ts.js serve "$conf" -b "$TS_BIND" -w "$w" --spare-workers 0 $(variant_flags "$v")
  for i in $(seq 1 300); do
    grep -q '"msg":"ready"' "$logf" 2>/dev/null && break
    kill -0 "$TS_PID" 2>/dev/null || die "mapproxy-ts ($v) exited at start, see $logf"
    sleep 0.1
  done
  if ! grep -q '"msg":"ready"' "$logf"; then
    log "WARNING: $v logged no \"ready\" within 30 s; waiting for the probe instead"
    wait_ts_probe "$logf"
  fi
  n=$(pgrep -c -P "$TS_PID")
  [ "$n" = "$w" ] || log "WARNING: $v has $n worker processes, expected $w"
  record_mem start "$v" "$run"
  log "$v run $run: master $TS_PID, workers $(pgrep -P "$TS_PID" | tr '\n' ' ')($(variant_cmd "$v"))"
}

# start_floor VARIANT RUN: node-floor.mjs with N workers on TS_BIND's port; ready when it logs that
# every worker listens.
start_floor() {
  local v="$1" run="$2" logf i
  logf="$OUT/${v}_run${run}.log"
  listening "$TS_BIND" && die "something already listens on $TS_BIND (set TS_BIND)"
  launch_ts "$logf" bench/lib/node-floor.mjs "$TILES" "${TS_BIND##*:}" "${v#floor-}" "$WORKERS"
  for i in $(seq 1 100); do
    grep -q 'workers on' "$logf" 2>/dev/null && break
    kill -0 "$TS_PID" 2>/dev/null || die "node-floor ($v) exited at start, see $logf"
    sleep 0.1
  done
  grep -q 'workers on' "$logf" || die "node-floor ($v) did not listen within 10 s, see $logf"
  [ "$(pgrep -c -P "$TS_PID")" = "$WORKERS" ] || die "node-floor ($v) has $(pgrep -c -P "$TS_PID") workers, expected $WORKERS; see $logf"
  record_mem start "$v" "$run"
  log "$v run $run: primary $TS_PID, workers $(pgrep -P "$TS_PID" | tr '\n' ' ')($(floor_cmd "$v"))"
}

# ---- 0. build, versions, configs ---------------------------------------------------------------------
log "output: $OUT"
others=$(pgrep -af 'wrk |mapproxy-ts.js serve|gunicorn' | grep -v "^$$ " | cut -c1-120 | tr '\n' ';')
[ -n "$others" ] && log "WARNING: other benchmark-like processes run (figures will suffer): $others"
build_if_needed
# A skewed request list (ZIPF_S set): generated into $OUT from the seed list, the same for all.
HIT_DESC="lists/seed_tiles.txt (uniform)"
if [ -n "${ZIPF_S:-}" ]; then
  mkdir -p "$OUT"
  HIT_LIST="$OUT/hit_list_zipf.txt"
  zipf=$(node "$HERE/zipf-list.mjs" "$SEED_LIST" "$HIT_LIST" "$ZIPF_S" 100000 1) || die "zipf-list.mjs failed"
  HIT_DESC="$HIT_LIST: $zipf"
  log "hit list: $zipf"
fi
{
  meta_machine_and_versions
  meta other_bench_processes "${others:-none}"
  meta workers "$WORKERS"
  meta ts_variants "$TS_VARIANTS"
  meta floor_variants "$FLOOR_VARIANTS"
  meta wrk_settings "-t$THREADS -c$CONNS -d$DURATION --timeout 60s --latency, $RUNS runs per target, warm-up $WARMUP after each server start"
  meta out "$OUT"
  for v in $TS_VARIANTS; do
    meta "cmd_$v" "BENCH_CACHE_DIR=$CACHE_BASE $(variant_cmd "$v")"
    tier=$(grep -E '^\s*(max_mb|open_files|revalidate_seconds|blocking_reads):' "$ROOT/$(variant_config "$v")" | tr -s ' ' | tr '\n' ',' | sed 's/,$//; s/^ //')
    meta "tier_$v" "${tier:-defaults}"
  done
  for v in $FLOOR_VARIANTS; do meta "cmd_$v" "$(floor_cmd "$v")"; done
  meta "cmd_$MP_TARGET" "MP_WORKERS=$WORKERS MP_WORKER_CLASS=sync MP_BIND=$MP_BIND $RIG/start.sh mapproxy  (gunicorn -w $WORKERS -k sync --timeout 120 app:application -> rig/mapproxy.yaml)"
  meta cmd_nginx "$STATIC_URL: rig nginx (worker_processes 2, sendfile) static root = hard links made by mkstatic.py lists/seed_tiles.txt"
  meta hit_list "$HIT_DESC"
  meta cmd_hit "LIST=$HIT_LIST wrk -t$THREADS -c$CONNS -d$DURATION --timeout 60s --latency -s lua/random_paths.lua URL"
  meta cache "$TILES"
}
for conf in $(for v in $TS_VARIANTS; do variant_config "$v"; done | sort -u); do
  chk=$(cd "$ROOT" && BENCH_CACHE_DIR="$CACHE_BASE" node bin/mapproxy-ts.js check-config "$conf" 2>&1) || die "check-config $conf failed: $chk"
  meta "check_config_${conf##*/}" "$(echo "$chk" | tr '\n' ' ')"
  echo "$chk" | grep -qi warning && log "check-config $conf: $(echo "$chk" | tr '\n' ' ')"
done

refuse_busy_servers

# ---- 1. upstream (static nginx :8082 for the nginx target; MapServer is idle on hits) -----------------
start_rig_upstream

# ---- 2. the seed of levels 5-8 (reused when complete), hard links for nginx ---------------------------
ensure_seed

# ---- 3. MapProxy with N sync workers (stays up; idle while the others run) ----------------------------
log "starting MapProxy: gunicorn, $WORKERS sync workers, on $MP_BIND"
start_rig_mapproxy "$WORKERS"
record_mem start "$MP_TARGET" 0
record_mem start nginx 0
log "pids: mapproxy $(mp_pids); nginx $(nginx_pids)"
warm_up "$MP_TARGET" 0
warm_up nginx 0

# ---- 4. cache hits, interleaved: every variant, MapProxy, nginx; then again ---------------------------
T0=$(date +%s)
for i in $(seq 1 "$RUNS"); do
  for v in $TS_VARIANTS; do
    start_variant "$v" "$i"
    if [ "$i" = 1 ]; then   # the same bytes for the same URL from all three servers
      same=$(same_bytes "$v" "$TS_URL" MapProxy "$MP_URL" nginx "$STATIC_URL")
      meta "same_bytes_$v" "$same of $(awk 'NR % 907 == 1' "$SEED_LIST" | wc -l) sample tiles byte-identical from $v, MapProxy and nginx"
    fi
    warm_up "$v" "$i"
    wrk_run hit "$v" "$i" "$HIT_LIST" random_paths.lua
    record_mem end "$v" "$i"
    stop_ts
  done
  for v in $FLOOR_VARIANTS; do
    start_floor "$v" "$i"
    if [ "$i" = 1 ]; then
      same=$(same_bytes "$v" "$TS_URL" nginx "$STATIC_URL")
      meta "same_bytes_$v" "$same of $(awk 'NR % 907 == 1' "$SEED_LIST" | wc -l) sample tiles byte-identical from $v and nginx"
    fi
    warm_up "$v" "$i"
    wrk_run hit "$v" "$i" "$HIT_LIST" random_paths.lua
    record_mem end "$v" "$i"
    stop_ts
  done
  wrk_run hit "$MP_TARGET" "$i" "$HIT_LIST" random_paths.lua
  record_mem end "$MP_TARGET" "$i"
  wrk_run hit nginx "$i" "$HIT_LIST" random_paths.lua
  record_mem end nginx "$i"
done
meta elapsed_hits "$(( $(date +%s) - T0 )) s"
meta load_end "$(cat /proc/loadavg)"

cleanup
node "$HERE/lib/summarize-cluster.mjs" "$OUT" > "$OUT/summary.md" || die "summarize failed"
echo
cat "$OUT/summary.md"
echo
echo "raw outputs: $OUT"
