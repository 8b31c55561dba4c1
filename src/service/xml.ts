/**
 * Small text helpers shared by the capabilities and exception writers: XML escaping and URL path
 * quoting like Python's `urllib.parse.quote`. Numbers in documents are printed with
 * `pyFloatRepr` from the grid folder, as MapProxy prints them with `repr(float)`.
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

/**
 * Escape text for XML content and attribute values. The entity set is Python's `html.escape`,
 * which MapProxy applies to error messages, so escaped messages read the same byte for byte.
 */
export function escapeXml(text: string): string {
  return HAS_XML_SPECIAL.test(text) ? text.replace(XML_SPECIAL, (c) => XML_ESCAPES[c]) : text;
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
