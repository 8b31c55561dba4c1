#!/usr/bin/env node
/**
 * Summarise a V8 .cpuprofile (from `node --cpu-prof`): where the busy time of a process went.
 * Prints the top functions by self time and by inclusive time, plus a breakdown by area
 * (our src/, node:http, node:fs, crypto, GC, ...). Idle time is reported apart, because a
 * server waiting on the event loop is not slow, it is idle.
 *
 *   node bench/lib/cpuprofile-top.mjs FILE.cpuprofile [TOP=25] [--all]
 *
 * By default the samples before the first HTTP request are left out (start-up: module loading,
 * config validation), so the figures describe serving only; --all keeps them.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const all = args.includes('--all');
const [file, topArg] = args.filter((a) => a !== '--all');
if (!file) {
  console.error('usage: cpuprofile-top.mjs FILE.cpuprofile [TOP]');
  process.exit(2);
}
const TOP = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map();
for (const n of prof.nodes) byId.set(n.id, { ...n, self: 0, parent: null });
for (const n of byId.values()) for (const c of n.children ?? []) byId.get(c).parent = n;

// Self time per node from the samples; timeDeltas[i] is the gap before sample i (µs).
const deltas = prof.timeDeltas ?? [];
// The first sample inside node's HTTP request parsing marks the end of start-up.
const HTTP_ENTRY = new Set(['parserOnIncoming', 'parserOnHeadersComplete']);
const inHttp = (n) => {
  for (let p = n; p; p = p.parent) if (HTTP_ENTRY.has(p.callFrame.functionName)) return true;
  return false;
};
let first = 0;
if (!all) {
  first = prof.samples.findIndex((id) => inHttp(byId.get(id)));
  if (first < 0) first = 0;
}
let skippedUs = 0;
for (let i = 0; i < first; i++) skippedUs += Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
for (let i = first; i < prof.samples.length; i++) {
  const n = byId.get(prof.samples[i]);
  if (n) n.self += Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
const short = (url) => url.replace(/^file:\/\/.*?\/(src|dist|node_modules)\//, '$1/').replace(/^node:/, 'node:');
const label = (cf) => {
  if (SPECIAL.has(cf.functionName)) return cf.functionName;
  const where = cf.url ? `${short(cf.url)}:${cf.lineNumber + 1}` : '(native)';
  return `${cf.functionName || '(anonymous)'} ${where}`;
};
function area(cf) {
  const u = cf.url ?? '';
  if (cf.functionName === '(garbage collector)') return 'GC';
  if (cf.functionName === '(program)') return '(program): V8/native outside JS (libuv, syscalls, write)';
  if (cf.functionName === '(idle)') return '(idle)';
  if (/\/(dist|src)\/cache\//.test(u)) return 'mapproxy-ts cache/ (TileManager, storage)';
  if (/\/(dist|src)\/app\//.test(u)) return 'mapproxy-ts app/ (router, respond)';
  if (/\/(dist|src)\/service\//.test(u)) return 'mapproxy-ts service/ (tms, wmts)';
  if (/\/(dist|src)\/grid\//.test(u)) return 'mapproxy-ts grid/';
  if (/\/(dist|src)\//.test(u)) return 'mapproxy-ts other';
  if (/node_modules\/pino/.test(u)) return 'pino (logging)';
  if (/node_modules\/sharp/.test(u)) return 'sharp (image codec)';
  if (/node_modules\//.test(u)) return 'other npm packages';
  if (/^node:(_http|http|net|stream|internal\/(http|streams|stream_base|net|child_process))/.test(u)) return 'node http/net/stream';
  if (/^node:(internal\/)?fs/.test(u)) return 'node fs';
  if (/^node:(internal\/)?crypto|^node:crypto/.test(u)) return 'node crypto';
  if (/^node:/.test(u)) return 'node other (timers, events, url, ...)';
  if (!u) return `native: ${cf.functionName || '(anonymous)'}`;
  return 'other';
}

// Inclusive time: a node's self time counts for it and every ancestor (once per distinct label).
const incl = new Map();
const self = new Map();
const areas = new Map();
let total = 0;
let idle = 0;
for (const n of byId.values()) {
  if (n.self === 0) continue;
  const cf = n.callFrame;
  if (cf.functionName === '(idle)') {
    idle += n.self;
    continue;
  }
  total += n.self;
  const l = label(cf);
  self.set(l, (self.get(l) ?? 0) + n.self);
  const a = area(cf);
  areas.set(a, (areas.get(a) ?? 0) + n.self);
  const seen = new Set();
  for (let p = n; p; p = p.parent) {
    const pl = label(p.callFrame);
    if (SPECIAL.has(p.callFrame.functionName) || seen.has(pl)) continue;
    seen.add(pl);
    incl.set(pl, (incl.get(pl) ?? 0) + n.self);
  }
}
const wall = (prof.endTime - prof.startTime - skippedUs) / 1000;
const ms = (us) => (us / 1000).toFixed(0).padStart(7);
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
console.log(`profile: ${file}`);
if (first > 0) console.log(`start-up left out: the first ${(skippedUs / 1000).toFixed(0)} ms, before the first HTTP request (--all keeps it)`);
console.log(`wall ${wall.toFixed(0)} ms, busy (non-idle) ${ms(total).trim()} ms, idle ${ms(idle).trim()} ms; percentages are of busy time`);
console.log('\nby area (self time):');
for (const [k, v] of [...areas].sort((a, b) => b[1] - a[1])) console.log(`${ms(v)} ms ${pct(v)}  ${k}`);
console.log(`\ntop ${TOP} functions by self time:`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${ms(v)} ms ${pct(v)}  ${k}`);
console.log(`\ntop ${TOP} functions by inclusive time:`);
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${ms(v)} ms ${pct(v)}  ${k}`);
