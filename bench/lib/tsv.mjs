/**
 * Reading one bench run's output folder for the summary scripts (summarize.mjs,
 * summarize-cluster.mjs): the TSV tables, meta.txt, and the number formatting they share.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** Rows of a TSV file with a header line, as objects keyed by the header's names ([] when missing). */
export function readTsv(file) {
  if (!existsSync(file)) return [];
  const [head, ...lines] = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  const cols = head.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

/** OUT/meta.txt: one key=value per line; the value may itself hold `=`. */
export function readMeta(out) {
  return Object.fromEntries(
    readFileSync(join(out, 'meta.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** A TSV cell as a number; empty or "-" is NaN. */
export const num = (v) => (v === undefined || v === '' || v === '-' ? NaN : Number(v));

/** Median of the finite values (NaN when there are none). */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A figure with `digits` decimals, or 3 significant-ish ones when not given; "-" when not finite. */
export function fmt(x, digits) {
  if (!Number.isFinite(x)) return '-';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : Math.abs(x) >= 1 ? 2 : 3);
  return x.toFixed(d);
}

/** "a / b" as "1.23×", or "-" when either is missing. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : '-';
}
