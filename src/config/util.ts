/**
 * Small helpers shared by the config modules: YAML-style paths (`caches.osm.grids[0]`) and
 * "did you mean" suggestions by edit distance.
 */

/** One step of a path into the configuration: a mapping key or a list index. */
export type PathSegment = string | number;

/** True for a mapping read from YAML (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Format path segments as users see them in the YAML: keys joined by dots, list indexes in
 * brackets, keys with other characters quoted: `globals.srs.proj4_defs["EPSG:31467"]`.
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Edit distance (insertions, deletions, substitutions and swaps of neighbours each count 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate closest to `word`, if it is close enough to be a likely typo: a different case,
 * an edit distance of 1, a prefix of at least 3 characters, or an edit distance of 2 (5 to 8
 * characters) or 3 (longer words), in that order.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const limit = w.length <= 4 ? 1 : w.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestScore = Infinity;
  for (const cand of candidates) {
    if (cand === word) continue;
    const c = cand.toLowerCase();
    let score: number;
    if (c === w) score = 0;
    else {
      const d = editDistance(w, c);
      // A prefix ranks after a one-letter slip: `directory_layuot` is `directory_layout`, not `directory`.
      if (d <= 1) score = d;
      // A word cut short (`resampling`) before a shorter key inside a longer word.
      else if (w.length >= 3 && c.startsWith(w)) score = 1.4;
      else if (c.length >= 3 && w.startsWith(c)) score = 1.5;
      else if (d <= limit) score = d;
      else continue;
    }
    if (score < bestScore) {
      best = cand;
      bestScore = score;
    }
  }
  return best;
}

/** ` (did you mean X?)` when a close candidate exists, else the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` (did you mean ${match}?)`;
}
