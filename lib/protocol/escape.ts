/**
 * Terminal-safe text: what a client sent, made harmless to print.
 *
 * Anything a client sends reaches the operator's terminal, other clients' terminals (a chat room's
 * `nc` users included, who have no Parley client to protect them) and the text log.
 * Control characters there can move the cursor, rewrite earlier lines, change the window title or
 * worse (escape sequences start with ESC or the C1 byte CSI). Format characters can make a line
 * read differently from what it is (bidi overrides and isolates, the Arabic letter mark) or hide
 * text (tag characters), and line and paragraph separators break a line where no `\n` is. So
 * every character of the Unicode categories Cc (C0, DEL, C1), Cf (format), Zl and Zp is shown as a
 * visible escape instead, taken from the runtime's own Unicode tables rather than a hand list. The
 * two joiners, ZWJ and ZWNJ, are the exception: they only join (emoji sequences, Indic and Persian
 * script) and cannot reorder or break a line. All other text, any script and emoji, passes
 * unchanged.
 *
 * First-hand text, as a client sent it, has its backslashes doubled as well ({@linkcode escapeText},
 * {@linkcode escapeLine}): a client that types `\e[2J` as text reads `\\e[2J`,
 * and one that sends a real ESC reads `\e[2J`, so a reader can tell them apart. Text that is
 * already in that form, such as a line another server escaped or a line a Parley server sent its
 * client, only has its control characters escaped ({@linkcode escapeControl}), so that nothing is
 * escaped twice. A page shows text as text: it undoes the doubling and needs none of this.
 */

/** What is escaped: Cc, Cf, Zl and Zp, except ZWNJ (U+200C) and ZWJ (U+200D). */
const UNSAFE = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

const NAMED: Record<string, string> = { "\t": "\\t", "\r": "\\r", "\n": "\\n", "\x1b": "\\e" };

function visible(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/** What {@linkcode escapeText} escapes: {@linkcode UNSAFE}, and the backslash. */
const UNSAFE_OR_BACKSLASH = new RegExp(`\\\\|${UNSAFE.source}`, "gu");

/**
 * Returns `text` with every control character replaced by a visible escape such as `\e` or `\x07`;
 * backslashes are left as they are. For text already escaped once ({@linkcode escapeText}).
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, visible);
}

/**
 * Returns `text` as a client sent it, made safe to print and unambiguous: every control character
 * replaced by a visible escape, and every backslash doubled.
 */
export function escapeText(text: string): string {
  return text.replace(UNSAFE_OR_BACKSLASH, (char) => char === "\\" ? "\\\\" : visible(char));
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

const BACKSLASH = 0x5c;

/**
 * Returns the bytes of a line a client sent, made safe for any terminal: unchanged when they are
 * all printable ASCII but the backslash (the common case, checked without decoding), else decoded
 * as UTF-8 (an invalid sequence becomes U+FFFD), escaped with {@linkcode escapeText} and encoded
 * again. With `escaped`, the line was escaped once already (by another server): only control
 * characters are escaped ({@linkcode escapeControl}), and backslashes pass.
 */
export function escapeLine(line: Uint8Array, options: { escaped?: boolean } = {}): Uint8Array {
  const escaped = options.escaped ?? false;
  for (let i = 0; i < line.length; i++) {
    const byte = line[i];
    if (byte < 0x20 || byte > 0x7e || (byte === BACKSLASH && !escaped)) {
      const text = decoder.decode(line);
      return encoder.encode(escaped ? escapeControl(text) : escapeText(text));
    }
  }
  return line;
}
