/**
 * Small text helpers shared by the capabilities and exception writers: XML escaping, URL path
 * quoting like Python's `urllib.parse.quote`, and trailing slashes. Numbers in documents are
 * printed with `pyFloatRepr` from the grid folder, as MapProxy prints them with `repr(float)`.
 */

const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#x27;',
};
const XML_SPECIAL = /[&<>"']/g;
const HAS_XML_SPECIAL = /[&<>"']/;
// Characters XML 1.0 does not allow at all (controls other than tab, LF, CR; U+FFFE, U+FFFF;
// lone surrogates): a document holding one is not well-formed, so they become U+FFFD.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NOT_XML_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Escape text for XML content and attribute values. The entity set is Python's `html.escape`,
 * which MapProxy applies to error messages, so escaped messages read the same byte for byte.
 * Characters XML cannot hold at all (a decoded `%00` or `%1b` of a request path) become U+FFFD;
 * MapProxy writes them raw, which leaves the document not well-formed.
 */
export function escapeXml(text: string): string {
  const valid = text.replace(NOT_XML_CHAR, '\ufffd');
  return HAS_XML_SPECIAL.test(valid) ? valid.replace(XML_SPECIAL, (c) => XML_ESCAPES[c]) : valid;
}

/**
 * `path` without the slashes at its end (`/maps//` → `/maps`), in linear time: `/\/+$/` is
 * quadratic on a long run of slashes followed by something else, such as a crafted X-Script-Name.
 */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return end === path.length ? path : path.slice(0, end);
}

const UNSAFE_IN_PATH = /[!'()*]/g;

/**
 * Percent-encode a URL path like Python's `urllib.parse.quote(path)` (safe: letters, digits,
 * `_.-~` and `/`), which MapProxy uses for the script name and path in capabilities URLs.
 */
export function quotePath(path: string): string {
  return encodeURIComponent(path)
    .replace(/%2F/g, '/')
    .replace(UNSAFE_IN_PATH, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
