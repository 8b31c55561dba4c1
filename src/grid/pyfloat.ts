/**
 * Float arithmetic the way CPython does it. MapProxy's grid numbers (tile bboxes rounded to 12
 * decimals, `//` inside the grid size, `round()` of meta tile sizes) and the numbers it prints
 * (`repr(float)` in TMS and WMTS capabilities) depend on Python's exact rules, which differ from
 * `Math.round`, `Math.floor(a / b)` and `String(x)` in corner cases.
 */

const POW5 = Array.from({ length: 24 }, (_, i) => 5n ** BigInt(i));

/**
 * Python's `round(x, ndigits)` for `0 <= ndigits <= 22`: the correctly rounded decimal value,
 * exact ties to even (CPython rounds through a decimal string, not through `x * 10**n`).
 */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const ax = Math.abs(x);
  // ≥ 2^53 every double is an integer: nothing to round.
  if (ax >= 2 ** 53) return x;
  const sign = x < 0 ? -1 : 1;
  // An exact tie at n decimals is x = odd / (2 · 10^n); as a double that means x·2^(n+1) is odd.
  const scaled = ax * 2 ** (ndigits + 1);
  if (Number.isInteger(scaled) && scaled % 2 === 1) {
    const twice = BigInt(scaled) * POW5[ndigits]; // 2·x·10^n, odd
    let q = (twice - 1n) / 2n;
    if (q % 2n === 1n) q += 1n;
    return sign * Number(decimalString(q, ndigits));
  }
  return sign * Number(ax.toFixed(ndigits));
}

function decimalString(q: bigint, ndigits: number): string {
  if (ndigits === 0) return q.toString();
  const s = q.toString().padStart(ndigits + 1, '0');
  return `${s.slice(0, -ndigits)}.${s.slice(-ndigits)}`;
}

/** Python's `round(x)` (no ndigits): nearest integer, ties to even. */
export function pyRoundInt(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Python's float floor division `a // b`. It is computed from `fmod`, so `1 // 0.1` is `9.0`
 * where `Math.floor(1 / 0.1)` is 10; MapProxy's grid sizes use it.
 */
export function pyFloorDiv(a: number, b: number): number {
  let mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0) {
    if (b < 0 !== mod < 0) {
      mod += b;
      div -= 1;
    }
  }
  if (div === 0) return Math.sign(a / b) * 0;
  let floordiv = Math.floor(div);
  if (div - floordiv > 0.5) floordiv += 1;
  return floordiv;
}

/**
 * Python's `repr(float)`: the shortest string that round-trips, in fixed notation when the decimal
 * exponent is within [-4, 16), else `1e+16` / `1e-05` style; integral values keep `.0`.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument yields the shortest round-trip digits.
  const [mant, expStr] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expStr);
  const decpt = exp + 1; // position of the decimal point relative to the first digit
  if (decpt <= -4 || decpt > 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${digits[0]}${frac}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}
