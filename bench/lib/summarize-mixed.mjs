#!/usr/bin/env node
/**
 * The summary of one bench/mixed.sh run: reads OUT/mixed.tsv (a quiet and a mixed row per target
 * and run) and OUT/meta.txt, and prints summary.md: per target the medians of the runs (every run
 * in brackets) of the hit figures alone and beside the misses, the misses' throughput, and the
 * ratios against MapProxy in the same invocation.
 *
 *   node bench/lib/summarize-mixed.mjs OUT
 */
import { join } from 'node:path';
import { readTsv, readMeta, num, median, fmt, ratio } from './tsv.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: summarize-mixed.mjs OUT');
  process.exit(2);
}
const rows = readTsv(join(out, 'mixed.tsv'));
const meta = readMeta(out);
const MP = 'mapproxy-N';
const targets = [...(meta.ts_variants ?? '').split(/\s+/).filter((v) => v.length > 0), MP];

/** The median of a column over a target's runs of one phase, and "median (run · run)". */
function fig(target, phase, col, digits) {
  const vs = rows.filter((r) => r.target === target && r.phase === phase).map((r) => num(r[col]));
  const med = median(vs);
  return { med, text: vs.length === 0 ? '-' : `${fmt(med, digits)} (${vs.map((v) => fmt(v, digits)).join(' · ')})` };
}

const lines = [];
const row = (...cells) => lines.push(`| ${cells.join(' | ')} |`);
lines.push(`# bench/mixed.sh: cache hits while misses are made (${meta.date ?? ''})`, '');
lines.push(`${meta.workers ?? 'N'} workers each. Hits: ${meta.wrk_hits ?? ''}. Misses: ${meta.wrk_misses ?? ''}.`, '');
row('target', 'hits alone req/s', 'hits alone p99 ms', 'hits beside misses req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'misses tiles/s', 'misses p99 ms', 'non-2xx + errors (hits / misses, all runs)', 'upstream GetMaps');
row(...Array(12).fill('---'));
for (const t of targets) {
  const mine = rows.filter((r) => r.target === t);
  const errs = `${mine.reduce((n, r) => n + num(r.hit_errors), 0)} / ${mine.filter((r) => r.phase === 'mixed').reduce((n, r) => n + num(r.miss_errors), 0)}`;
  const ups = rows.filter((r) => r.target === t && r.phase === 'mixed').map((r) => r.upstream).join(' · ');
  row(
    `**${t}**`,
    fig(t, 'quiet', 'hit_rps', 0).text,
    fig(t, 'quiet', 'hit_p99_ms', 1).text,
    fig(t, 'mixed', 'hit_rps', 0).text,
    fig(t, 'mixed', 'hit_p50_ms', 2).text,
    fig(t, 'mixed', 'hit_p90_ms', 1).text,
    fig(t, 'mixed', 'hit_p99_ms', 1).text,
    fig(t, 'mixed', 'hit_max_ms', 0).text,
    fig(t, 'mixed', 'miss_tiles_per_s', 1).text,
    fig(t, 'mixed', 'miss_p99_ms', 0).text,
    errs,
    ups || '-',
  );
}
lines.push('');
lines.push('Against MapProxy (medians; p99 as MapProxy\'s / ours, so above 1× is better):', '');
row('target', 'hits beside misses, req/s', 'hit p99 beside misses', 'misses tiles/s', 'own hit p99 beside misses / alone');
row('---', '---', '---', '---', '---');
for (const t of targets) {
  row(
    `**${t}**`,
    ratio(fig(t, 'mixed', 'hit_rps').med, fig(MP, 'mixed', 'hit_rps').med),
    ratio(fig(MP, 'mixed', 'hit_p99_ms').med, fig(t, 'mixed', 'hit_p99_ms').med),
    ratio(fig(t, 'mixed', 'miss_tiles_per_s').med, fig(MP, 'mixed', 'miss_tiles_per_s').med),
    ratio(fig(t, 'mixed', 'hit_p99_ms').med, fig(t, 'quiet', 'hit_p99_ms').med),
  );
}
lines.push('', '## How it was run', '');
for (const k of Object.keys(meta)) lines.push(`- ${k}: ${meta[k]}`);
console.log(lines.join('\n'));
