#!/usr/bin/env node
/**
 * The summary of one bench/tiles.sh run: reads OUT/results.tsv (one row per wrk run), OUT/rss.tsv
 * and OUT/meta.txt and prints summary.md: one table of figures (median of the runs, every run in
 * brackets) with the ratios mapproxy-ts / MapProxy and mapproxy-ts / nginx, then every run, the
 * machine load and how it was run.
 *
 *   node bench/lib/summarize.mjs OUT
 */
import { join } from 'node:path';
import { readTsv, readMeta, num, median, fmt, ratio } from './tsv.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: summarize.mjs OUT');
  process.exit(2);
}

const rows = readTsv(join(out, 'results.tsv'));
const rss = readTsv(join(out, 'rss.tsv'));
const meta = readMeta(out);

const runsOf = (phase, target) => rows.filter((r) => r.phase === phase && r.target === target);
/** Per-run values of one figure. */
const values = (phase, target, f) => runsOf(phase, target).map(f);
/** "median (run1 · run2)" */
function cell(phase, target, f, digits) {
  const vs = values(phase, target, f);
  if (vs.length === 0) return { text: '-', med: NaN };
  const med = median(vs);
  const all = vs.map((v) => fmt(v, digits)).join(' · ');
  return { text: vs.length > 1 ? `**${fmt(med, digits)}** (${all})` : `**${fmt(med, digits)}**`, med };
}
const T = ['mapproxy-ts', 'mapproxy', 'nginx'];
const lines = [];
const row = (...cells) => lines.push(`| ${cells.join(' | ')} |`);

lines.push('# bench/tiles.sh: mapproxy-ts vs MapProxy 1.15 vs nginx (issue 1, acceptance 5)');
lines.push('');
lines.push(`- ${meta.date}; ${meta.host}; ${meta.cpu}`);
lines.push(`- wrk ${meta.wrk_settings}; every target gets the same settings, runs interleaved (ts, MapProxy, nginx, ts, ...)`);
lines.push(`- load at start: ${meta.load_start}; at end: ${meta.load_end ?? '-'}; niceness of the bench: ${meta.niceness ?? '-'}`);
lines.push(`- busiest processes at start: ${meta.busiest_at_start}`);
lines.push('');
lines.push('Cells: **median of the runs** (every run). Ratios are of the medians.');
lines.push('');
row('figure', 'mapproxy-ts, 1 Node process', 'MapProxy, gunicorn 1 sync worker', 'nginx static', 'mapproxy-ts / MapProxy', 'mapproxy-ts / nginx');
row('---', '---', '---', '---', '---', '---');

const figures = [];
if (rows.some((r) => r.phase === 'hit')) {
  figures.push(['a. cache hit req/s (random tile of 2720)', 'hit', (r) => num(r.rps), 0, true]);
  figures.push(['a. cache hit p50 ms', 'hit', (r) => num(r.p50_ms), 2, true]);
  figures.push(['a. cache hit p99 ms', 'hit', (r) => num(r.p99_ms), 2, true]);
  figures.push(['a. server CPU ms per hit (utime+stime / requests)', 'hit', (r) => num(r.cpu_ms_per_req), 3, true]);
  figures.push(['a. errors (non-2xx + socket) / upstream GetMaps during hits', 'hit', null]);
}
if (rows.some((r) => r.phase === 'cold')) {
  figures.push(['b. cold misses, levels 9-10 row-major: tiles/s', 'cold', (r) => num(r.rps), 1, false]);
  figures.push(['b. cold p50 ms', 'cold', (r) => num(r.p50_ms), 0, false]);
  figures.push(['b. cold p99 ms', 'cold', (r) => num(r.p99_ms), 0, false]);
  figures.push(['b. upstream GetMaps per tile (at wrk exit; 1/16 = 0.0625 ideal)', 'cold', (r) => num(r.upstream) / num(r.requests), 4, false]);
  figures.push(['b. server CPU ms per cold tile (upstream not included)', 'cold', (r) => num(r.cpu_ms_per_req), 2, false]);
  figures.push(['b. errors / GetMaps still in flight after wrk stopped / list wraps', 'cold', null]);
}
const meds = {};
for (const [name, phase, f, digits, withNginx] of figures) {
  if (f === null) {
    const c = T.map((t) => {
      const rs = runsOf(phase, t);
      if (rs.length === 0) return '-';
      const err = rs.map((r) => `${num(r.non2xx) + num(r.errors)}`).join(' · ');
      if (phase === 'hit') return `${err} / ${rs.map((r) => r.upstream).join(' · ')}`;
      return `${err} / +${rs.map((r) => r.upstream_late).join(' · +')} / ${rs.map((r) => r.wraps || 0).join(' · ')}`;
    });
    row(name, c[0], c[1], withNginx === false ? '' : c[2], '', '');
    continue;
  }
  const c = T.map((t) => cell(phase, t, f, digits));
  meds[name] = c.map((x) => x.med);
  row(name, c[0].text, c[1].text, withNginx ? c[2].text : '(not run)', ratio(c[0].med, c[1].med), withNginx ? ratio(c[0].med, c[2].med) : '');
}

// Peak RSS: per process, after the hit runs and after everything.
const rssOf = (when, target, role) => rss.find((r) => r.when === when && r.target === target && (!role || r.role === role));
const rssCell = (target, role) => {
  const a = rssOf('after-hits', target, role);
  const b = rssOf('after-all', target, role);
  if (!a && !b) return { text: '-', v: NaN };
  const parts = [];
  if (a) parts.push(`${a.vmhwm_mib} after hits`);
  if (b) parts.push(`**${b.vmhwm_mib}** after all runs`);
  return { text: parts.join(', '), v: num((b ?? a).vmhwm_mib) };
};
// How busy the box was: the 1-minute load before each run and the cores other processes took.
for (const [name, phase] of [
  ['machine during hits: load1 before the run / cores used by other processes', 'hit'],
  ['machine during cold runs: load1 / other cores (incl. nginx + mapserv)', 'cold'],
]) {
  if (!rows.some((r) => r.phase === phase)) continue;
  const c = T.map((t) => {
    const rs = runsOf(phase, t);
    return rs.length === 0 ? '' : `${rs.map((r) => r.load1).join(' · ')} / ${rs.map((r) => r.other_cores).join(' · ')}`;
  });
  row(name, c[0], c[1], c[2], '', '');
}
const rt = rssCell('mapproxy-ts', 'node process');
const rm = rssCell('mapproxy', 'gunicorn sync worker');
const rmm = rssCell('mapproxy', 'gunicorn master');
row('c. peak RSS (VmHWM) MiB per serving process', rt.text, `${rm.text} (master: ${rmm.text.replace(/\*\*/g, '')})`, '', ratio(rt.v, rm.v), '');

const hitRps = meds['a. cache hit req/s (random tile of 2720)'];
lines.push('');
if (hitRps) {
  const r = hitRps[0] / hitRps[1];
  lines.push(
    `Aim (issue 1): cache hits ≥ 3× MapProxy with one process vs one gunicorn worker. Measured: **${Number.isFinite(r) ? r.toFixed(2) : '-'}×** → ${
      r >= 3 ? '**met**' : '**not met**'
    }. Server CPU per hit: ${fmt(meds['a. server CPU ms per hit (utime+stime / requests)'][0], 3)} ms (mapproxy-ts) vs ${fmt(
      meds['a. server CPU ms per hit (utime+stime / requests)'][1],
      3,
    )} ms (MapProxy) = ${(meds['a. server CPU ms per hit (utime+stime / requests)'][1] / meds['a. server CPU ms per hit (utime+stime / requests)'][0]).toFixed(2)}× less CPU per hit.`,
  );
  const paired = runsOf('hit', 'mapproxy-ts').map((r, i) => {
    const m = runsOf('hit', 'mapproxy')[i];
    return m ? (num(r.rps) / num(m.rps)).toFixed(2) : '-';
  });
  lines.push('');
  lines.push(`Per run (each mapproxy-ts run next to the MapProxy run right after it): ${paired.join(' · ')}×.`);
  lines.push('On a busy box req/s swings with what else runs; server CPU ms per request is the steadier figure.');
  lines.push('');
}

lines.push('## Every run');
lines.push('');
lines.push('`load1` is the 1-minute load before the run; `box busy` the share of all cores busy during it; `other cores` what');
lines.push('everything except the server under test and wrk used (other processes; plus nginx/mapserv during cold runs).');
lines.push('');
row('phase', 'target', 'run', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', 'non-2xx/err', 'server CPU ms/req', 'upstream GetMaps (+late)', 'load1', 'box busy', 'other cores', 'wrk cores');
row('---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---');
for (const r of rows) {
  row(r.phase, r.target, r.run, r.rps, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, r.requests, `${r.non2xx}/${r.errors}`, r.cpu_ms_per_req, `${r.upstream} (+${r.upstream_late})`, r.load1, `${r.box_busy_pct}%`, r.other_cores, r.wrk_cores);
}
lines.push('');
lines.push('Peak RSS per process (MiB):');
lines.push('');
row('when', 'server', 'pid', 'role', 'VmHWM', 'VmRSS');
row('---', '---', '---', '---', '---', '---');
for (const r of rss) row(r.when, r.target, r.pid, r.role, r.vmhwm_mib, r.vmrss_mib);
lines.push('');
lines.push('## How it was run');
lines.push('');
lines.push('```');
for (const k of ['cmd_ts', 'cmd_mp', 'cmd_static', 'cmd_hit', 'cmd_cold', 'seed', 'same_bytes', 'cache', 'phases', 'profile', 'out']) {
  if (meta[k]) lines.push(`${k.padEnd(10)} ${meta[k]}`);
}
lines.push('```');
lines.push('');
lines.push('Versions:');
lines.push('');
lines.push('```');
for (const k of ['node', 'mapproxy_ts', 'sharp', 'mapproxy', 'gunicorn', 'nginx', 'mapserver', 'wrk']) {
  if (meta[k]) lines.push(`${k.padEnd(12)} ${meta[k]}`);
}
lines.push('```');
process.stdout.write(`${lines.join('\n')}\n`);
