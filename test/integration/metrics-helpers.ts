/**
 * Reading Prometheus text in the metrics tests: every sample line becomes an entry keyed by the
 * series name and its labels in sorted order, so a test can ask for one exact value.
 */

/** Samples of a Prometheus text exposition, keyed `name{a="1",b="2"}` (labels sorted). */
export type Samples = ReadonlyMap<string, number>;

function key(name: string, labels: Readonly<Record<string, string | number>>): string {
  const parts = Object.keys(labels).sort().map((k) => `${k}="${String(labels[k])}"`);
  return `${name}{${parts.join(',')}}`;
}

/** Parse the sample lines of `text` (comments and blank lines skipped). */
export function parseSamples(text: string): Samples {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.set(key(m[1], labels), Number(m[3]));
  }
  return out;
}

/** The value of one series; 0 when absent (a labelled counter appears at its first increment). */
export function sample(samples: Samples, name: string, labels: Readonly<Record<string, string | number>> = {}): number {
  return samples.get(key(name, labels)) ?? 0;
}

/** Every series of `name` with its labels, as `{ 'a="1",b="2"': value }`, for whole-family checks. */
export function family(samples: Samples, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of samples) {
    if (k.startsWith(`${name}{`)) out[k.slice(name.length + 1, -1)] = v;
  }
  return out;
}
