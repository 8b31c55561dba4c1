/**
 * HTTP dates (RFC 9110 §5.6.7): formatting as IMF-fixdate, and parsing of the three forms a
 * recipient must accept — IMF-fixdate (RFC 1123), the obsolete RFC 850 form and asctime.
 */

const MONTHS: Readonly<Record<string, number>> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** `Sun, 06 Nov 1994 08:49:37 GMT` for a time in ms since the epoch. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function toSeconds(year: number, month: string, day: number, h: number, m: number, s: number): number | null {
  const mon = MONTHS[month.toLowerCase()];
  if (mon === undefined || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return null;
  return Date.UTC(year, mon, day, h, m, s) / 1000;
}

/**
 * Seconds since the epoch of an HTTP date, or null when it is none of the three forms (a
 * recipient ignores an invalid If-Modified-Since, RFC 9110 §13.1.3).
 */
export function parseHttpDate(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  let m = IMF_FIXDATE.exec(t);
  if (m) return toSeconds(Number(m[3]), m[2], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850.exec(t);
  if (m) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
    const yy = Number(m[3]);
    const now = new Date().getUTCFullYear();
    let year = Math.floor(now / 100) * 100 + yy;
    if (year > now + 50) year -= 100;
    return toSeconds(year, m[2], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME.exec(t);
  if (m) return toSeconds(Number(m[6]), m[1], Number(m[2].trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return null;
}
