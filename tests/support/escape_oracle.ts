/** What escaping must do, stated apart from the code that does it (`lib/protocol/escape.ts`). */

/**
 * The set escaping promises, stated here apart from the code: every character of Unicode's
 * categories Cc, Cf, Zl and Zp, except the two joiners (ZWNJ, ZWJ), which emoji and scripts need.
 */
export function mustEscape(codePoint: number): boolean {
  if (codePoint === 0x200c || codePoint === 0x200d) return false;
  return /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]$/u.test(String.fromCodePoint(codePoint));
}

/** Characters a terminal or a reader can be fooled by, named one by one. */
export const TRICKY = [
  "\x1b",
  "\x07",
  "\x00",
  "\x7f",
  "\u009b", // ESC, BEL, NUL, DEL, CSI
  "\u200e",
  "\u200f",
  "\u061c", // LRM, RLM, ALM
  "\u202a",
  "\u202b",
  "\u202c",
  "\u202d",
  "\u202e", // embeddings and overrides
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069", // isolates
  "\u2028",
  "\u2029", // line and paragraph separators
  "\u00ad",
  "\ufeff",
  "\u{e0041}", // soft hyphen, BOM, a tag character
];

/**
 * Reads first-hand escaped text back, by the grammar escaping writes (`\\`, `\e`, `\t`, `\r`, `\n`,
 * `\xHH`, `\u{H...}`), stated apart from the code. Throws on a backslash that starts none of them.
 */
export function unescape(text: string): string {
  const named: Record<string, string> = { "\\": "\\", e: "\x1b", t: "\t", r: "\r", n: "\n" };
  return text.replace(/\\(?:x([0-9a-f]{2})|u\{([0-9a-f]+)\}|(.))/gu, (whole, hex, code, one) => {
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    if (code !== undefined) return String.fromCodePoint(parseInt(code, 16));
    if (one in named) return named[one];
    throw new Error(`not an escape: ${whole}`);
  });
}
