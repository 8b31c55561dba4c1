#!/usr/bin/env node
/**
 * The summary of one bench/cluster.sh run: reads OUT/results.tsv (one row per wrk run), OUT/rss.tsv
 * (memory of every process at start and after each run) and OUT/meta.txt, and prints summary.md:
 * one row per target (median of the runs, every run in brackets), the ratios, the aims of issue 3
 * with met / not met, what the hit-path tier adds and costs, the per-worker memory, every run, how
 * it was run.
 *
 *   node bench/lib/summarize-cluster.mjs OUT
 */
import { join } from 'node:path';
import { readTsv, readMeta, num, median, fmt, ratio } from './tsv.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: summarize-cluster.mjs OUT');
  process.exit(2);
}
const rows = readTsv(join(out, 'results.tsv'));
const mem = readTsv(join(out, 'rss.tsv'));
const meta = readMeta(out);

const N = meta.workers ?? 'N';
const variants = (meta.ts_variants ?? '').split(/\s+/).filter((v) => v.length > 0);
const floors = (meta.floor_variants ?? '').split(/\s+/).filter((v) => v.length > 0);
const MP = 'mapproxy-N';
const targets = [...variants, ...floors, MP, 'nginx'];
// The issue's aims (issue 3, acceptance 7).
const AIM_VS_MAPPROXY = 8;
const AIM_VS_NGINX = 0.7;
const AIM_WORKER_MIB = 76;
const MAPPROXY_WORKER_MIB = 96;

const runsOf = (target) => rows.filter((r) => r.target === target);
/** { med, text: "**median** (run1 · run2)" } of one figure of a target's runs. */
function cell(target, f, digits) {
  const vs = runsOf(target).map(f);
  if (vs.length === 0) return { text: '-', med: NaN };
  const med = median(vs);
  const all = vs.map((v) => fmt(v, digits)).join(' · ');
  return { text: vs.length > 1 ? `**${fmt(med, digits)}** (${all})` : `**${fmt(med, digits)}**`, med };
}
const rps = (t) => cell(t, (r) => num(r.rps), 0);
const cpu = (t) => cell(t, (r) => num(r.cpu_ms_per_req), 3);

const workerRole = (role) => role === 'worker' || role === 'gunicorn sync worker' || role === 'nginx worker';
const memOf = (target, when, isWorker) => mem.filter((m) => m.target === target && m.when === when && workerRole(m.role) === isWorker);
const maxOf = (ms, key) => Math.max(...ms.map((m) => num(m[key])).filter(Number.isFinite));
/** "median (min-max)" of a memory field over processes and runs. */
function spread(ms, key) {
  const vs = ms.map((m) => num(m[key])).filter(Number.isFinite);
  if (vs.length === 0) return '-';
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  return lo === hi ? fmt(lo, 1) : `${fmt(median(vs), 1)} (${fmt(lo, 1)}-${fmt(hi, 1)})`;
}
const peakWorker = (t) => {
  const ms = memOf(t, 'end', true);
  return ms.length ? maxOf(ms, 'vmhwm_mib') : NaN;
};

const label = (t) => {
  if (t === MP) return `MapProxy, gunicorn ${N} sync workers`;
  if (t === 'nginx') return 'nginx static, same files';
  if (t.startsWith('floor-')) return `node-floor ${t.slice(6)}, ${N} node:cluster workers: node:http, MapProxy's headers, no mapproxy-ts code (${FLOOR_WHAT[t.slice(6)] ?? 'see node-floor.mjs'})`;
  const cmd = meta[`cmd_${t}`] ?? '';
  const w = / -w (\d+)/.exec(cmd)?.[1] ?? '?';
  const conf = / serve (\S+)/.exec(cmd)?.[1] ?? '?';
  const pool = / --threadpool-size (\d+)/.exec(cmd)?.[1] ?? '2';
  const lane = cmd.includes('--no-fast-lane') ? ', no fast lane' : '';
  return `mapproxy-ts serve -w ${w}, ${conf.replace(/^bench\//, '')} (tier: ${meta[`tier_${t}`] ?? '?'}; pool ${pool}${lane})`;
};

/** What each node-floor mode does per hit (bench/lib/node-floor.mjs). */
const FLOOR_WHAT = {
  heldfd: 'files kept open, one pread per hit, never re-checked',
  heldsync: 'files kept open, one pread per hit on the event loop into a new buffer, never re-checked',
  scratch: 'files kept open, one pread per hit on the event loop into one reused buffer, never re-checked',
  reuse: 'files kept open, one pread per hit through the thread pool into reused buffers, never re-checked',
  memory: 'every tile kept in memory after its first hit, never re-checked',
  callback: 'open, fstat, read, close per hit',
  filehandle: 'open, stat, read, close per hit through fs/promises FileHandle',
  readfile: 'stat and fs.readFile per hit',
  sync: 'open, fstat, read, close per hit, synchronous on the event loop',
  statcache: 'one stat per hit validating an in-memory copy',
};

const lines = [];
const push = (...ls) => lines.push(...ls);
const row = (...cells) => lines.push(`| ${cells.join(' | ')} |`);

push(`# bench/cluster.sh: mapproxy-ts serve with ${N} workers vs MapProxy (gunicorn ${N} sync workers) vs nginx (issue 3, acceptance 7)`, '');
push(`- ${meta.date}; ${meta.host}; ${meta.cpu}`);
push(`- N = ${N} workers; wrk ${meta.wrk_settings}; runs interleaved (${targets.join(', ')}, then again)`);
push(`- load at start: ${meta.load_start}; at end: ${meta.load_end ?? '-'}; niceness: ${meta.niceness ?? '-'}; measuring took ${meta.elapsed_hits ?? '-'}`);
push(`- busiest processes at start: ${(meta.busiest_at_start ?? '-').replace(/[;\s]+$/, '')}; other benchmark processes: ${meta.other_bench_processes ?? '-'}`);
push('', 'Cells: **median of the runs** (every run). Server CPU = utime+stime of the whole process tree (master + workers) / requests.');
push('Worker memory: VmRSS right after start (before any request) and peak VmHWM after the runs, MiB, over all workers and runs.', '');

row('target', 'what', 'req/s', 'p50 ms', 'p99 ms', 'server CPU ms/req', 'errors / upstream GetMaps', 'load1 before / other cores', 'worker RSS at start', 'worker peak RSS (max)', 'master peak RSS');
row('---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---');
for (const t of targets) {
  const rs = runsOf(t);
  if (rs.length === 0) continue;
  const errs = rs.map((r) => `${num(r.non2xx) + num(r.errors)}`).join(' · ');
  const ups = rs.map((r) => r.upstream).join(' · ');
  const machine = `${rs.map((r) => r.load1).join(' · ')} / ${rs.map((r) => r.other_cores).join(' · ')}`;
  const startW = spread(memOf(t, 'start', true), 'vmrss_mib');
  const peakW = fmt(peakWorker(t), 1);
  const masters = memOf(t, 'end', false);
  const peakM = masters.length ? fmt(maxOf(masters, 'vmhwm_mib'), 1) : '-';
  row(`**${t}**`, label(t), rps(t).text, cell(t, (r) => num(r.p50_ms), 2).text, cell(t, (r) => num(r.p99_ms), 2).text, cpu(t).text, `${errs} / ${ups}`, machine, startW, peakW, peakM);
}

// ---- ratios -------------------------------------------------------------------------------------
const head = variants.includes('ts-N') ? 'ts-N' : variants[0];
push('', '## Ratios', '');
push('Of the medians; "per round" pairs the runs of the same round (run 1 with run 1, ...). CPU: how many times less server CPU per request the first one needs.', '');
row('ratio', 'req/s', 'per round', 'server CPU per request', 'worker peak RSS');
row('---', '---', '---', '---', '---');
const pairs = [
  [head, MP, `against MapProxy, both ${N} workers`],
  [head, 'nginx', 'against nginx on the same files'],
  [head, 'ts-1', `${N} workers vs 1 (scaling)`],
  [head, 'ts-N-pool4', 'two libuv threads per worker (the default) vs Node\'s four'],
  [head, 'ts-N-notier', 'the hit path (open files) against open/read/close per hit'],
  ['ts-N-blocking', head, 'open files read on the event loop (blocking_reads: true) vs through the thread pool (the default)'],
  ['ts-N-bigtier', head, 'tier holding the whole working set vs the default'],
  // The floors run N workers: only ts-N compares like with like.
  ['ts-N', 'floor-heldfd', 'against bare Node reading kept-open files into a new buffer per hit'],
  ['ts-N', 'floor-reuse', 'against bare Node reading kept-open files through the pool into reused buffers'],
  ['ts-N-blocking', 'floor-scratch', 'the same, blocking reads against blocking reads'],
  ['ts-N', 'floor-memory', 'against bare Node holding every tile in memory'],
  ['ts-N-bigtier', 'floor-memory', 'tier holding everything against bare Node holding everything'],
];
for (const [a, b, why] of pairs) {
  if (!a || a === b || runsOf(a).length === 0 || runsOf(b).length === 0) continue;
  const perRound = runsOf(a)
    .map((r) => {
      const o = runsOf(b).find((x) => x.run === r.run);
      return o ? ratio(num(r.rps), num(o.rps)) : '-';
    })
    .join(' · ');
  const peakA = peakWorker(a);
  const peakB = peakWorker(b);
  const memText = Number.isFinite(peakA) && Number.isFinite(peakB) ? `${fmt(peakA, 1)} vs ${fmt(peakB, 1)} MiB (${peakA >= peakB ? '+' : ''}${fmt(peakA - peakB, 1)})` : '-';
  row(`${a} / ${b}: ${why}`, `**${ratio(rps(a).med, rps(b).med)}**`, perRound, ratio(cpu(b).med, cpu(a).med), memText);
}

// ---- aims -----------------------------------------------------------------------------------------
const verdict = (ok) => (ok ? '**met**' : '**not met**');
push('', '## Aims (issue 3)', '');
const vsMp = rps(head).med / rps(MP).med;
const vsNginx = rps(head).med / rps('nginx').med;
const peakHead = peakWorker(head);
const headWorkers = memOf(head, 'end', true).map((m) => fmt(num(m.vmhwm_mib), 1));
push(`- cache hits ≥ ${AIM_VS_MAPPROXY}× MapProxy with the same worker count: ${head} / ${MP} = **${fmt(vsMp, 2)}×** → ${verdict(vsMp >= AIM_VS_MAPPROXY)}`);
push(`- cache hits ≥ ${AIM_VS_NGINX}× nginx on the same files: ${head} / nginx = **${fmt(vsNginx, 2)}×** → ${verdict(vsNginx >= AIM_VS_NGINX)}`);
push(
  `- per-worker peak RSS < ${AIM_WORKER_MIB} MiB (MapProxy: about ${MAPPROXY_WORKER_MIB}): ${head} workers peak at **${fmt(peakHead, 1)} MiB** (each worker, each run: ${headWorkers.join(' · ') || '-'}) → ${verdict(peakHead < AIM_WORKER_MIB)}; MapProxy sync workers here: ${fmt(peakWorker(MP), 1)} MiB`,
);
push('', 'On a 2-core box wrk itself takes about one core, so N workers cannot scale to N× and nginx is limited the same way; "other cores" shows what else ran.');

// ---- what Node itself reaches ---------------------------------------------------------------------
if (floors.some((f) => runsOf(f).length > 0)) {
  push('', '## What Node itself reaches on these files (bench/lib/node-floor.mjs)', '');
  push(`The same load against a minimal node:http server with ${N} node:cluster workers and none of mapproxy-ts's code: no routing, no config, no freshness checks, no metrics. Its figures bound what a Node design of this shape can reach here, and what holding the tiles costs in memory.`, '');
  row('floor', 'req/s', '× nginx', '× MapProxy', 'worker peak RSS (max)', 'all three aims at once');
  row('---', '---', '---', '---', '---', '---');
  for (const f of floors) {
    if (runsOf(f).length === 0) continue;
    const vn = rps(f).med / rps('nginx').med;
    const vm = rps(f).med / rps(MP).med;
    const peak = peakWorker(f);
    const all = vn >= AIM_VS_NGINX && vm >= AIM_VS_MAPPROXY && peak < AIM_WORKER_MIB;
    row(f, rps(f).text, `${fmt(vn, 2)}×`, `${fmt(vm, 2)}×`, `${fmt(peak, 1)} MiB`, all ? 'yes' : 'no');
  }
}

// ---- the tier -------------------------------------------------------------------------------------
push('', '## The hit path (open files, memory tier): effect and memory cost (per worker)', '');
push('Growth = peak VmHWM − VmRSS at start of the same worker. RssAnon / Pss after the run: private heap and the fair share of shared pages.', '');
row('variant', 'tier settings', 'req/s', 'server CPU ms/req', 'RSS at start', 'peak (VmHWM)', 'growth during the runs', 'RssAnon after', 'Pss after');
row('---', '---', '---', '---', '---', '---', '---', '---', '---');
for (const t of variants) {
  const ends = memOf(t, 'end', true);
  if (ends.length === 0) continue;
  const starts = memOf(t, 'start', true);
  const growth = ends
    .map((e) => {
      const s = starts.find((x) => x.pid === e.pid && x.run === e.run);
      return s ? { growth: String(num(e.vmhwm_mib) - num(s.vmrss_mib)) } : null;
    })
    .filter((x) => x !== null);
  row(t, meta[`tier_${t}`] ?? '-', rps(t).text, cpu(t).text, spread(starts, 'vmrss_mib'), spread(ends, 'vmhwm_mib'), spread(growth, 'growth'), spread(ends, 'rss_anon_mib'), spread(ends, 'pss_mib'));
}

// ---- every process, every run ---------------------------------------------------------------------
push('', '## Memory of every process (MiB)', '');
push('`start`: right after the server was up, before any request (gunicorn: after rig/start.sh fetched /demo/ once). `end`: after that run. VmHWM is the peak since the process started.', '');
row('when', 'target', 'run', 'pid', 'role', 'VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'Pss');
row('---', '---', '---', '---', '---', '---', '---', '---', '---', '---');
for (const m of mem) row(m.when, m.target, m.run, m.pid, m.role, m.vmrss_mib, m.vmhwm_mib, m.rss_anon_mib, m.rss_file_mib, m.pss_mib);

push('', '## Every run', '');
push('`load1` is the 1-minute load before the run; `box busy` the share of all cores busy during it; `other cores` what everything except the target and wrk used.', '');
row('target', 'run', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', 'non-2xx/err', 'server CPU ms/req', 'upstream GetMaps', 'load1', 'box busy', 'other cores', 'wrk cores');
row('---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---');
for (const r of rows) {
  row(r.target, r.run, r.rps, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, r.requests, `${r.non2xx}/${r.errors}`, r.cpu_ms_per_req, r.upstream, r.load1, `${r.box_busy_pct}%`, r.other_cores, r.wrk_cores);
}

push('', '## How it was run', '', '```');
for (const k of Object.keys(meta).filter((k) => k.startsWith('cmd_') || k.startsWith('same_bytes_') || k.startsWith('check_config_'))) push(`${k.padEnd(24)} ${meta[k]}`);
for (const k of ['seed', 'cache', 'out']) if (meta[k]) push(`${k.padEnd(24)} ${meta[k]}`);
push('```', '', 'Versions:', '', '```');
for (const k of ['node', 'mapproxy_ts', 'sharp', 'mapproxy', 'gunicorn', 'nginx', 'wrk']) if (meta[k]) push(`${k.padEnd(12)} ${meta[k]}`);
push('```');
process.stdout.write(`${lines.join('\n')}\n`);
