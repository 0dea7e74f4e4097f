/**
 * Terminal-safe text: what a client sent, made harmless to print.
 *
 * Anything a client sends reaches the operator's terminal, other clients' terminals (a chat room's
 * `nc` users included, who have no Parley client to protect them) and the text log.
 * Control characters there can move the cursor, rewrite earlier lines, change the window title or
 * worse (escape sequences start with ESC or the C1 byte CSI). Bidirectional overrides can make a
 * line read differently from what it is. So every C0 and C1 control, DEL and bidi control is shown
 * as a visible escape instead; all other text, including any script and emoji, passes unchanged.
 */

// C0 controls, DEL, C1 controls, and the Unicode bidi controls (LRM, RLM, embeddings, overrides,
// isolates).
// deno-lint-ignore no-control-regex -- matching control characters is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\t": "\\t", "\r": "\\r", "\n": "\\n", "\x1b": "\\e" };

function visible(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/** Returns `text` with every control character replaced by a visible escape such as `\e` or `\x07`. */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, visible);
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Returns the bytes of a line made safe for any terminal: unchanged when they are all printable
 * ASCII (the common case, checked without decoding), else decoded as UTF-8 (an invalid sequence
 * becomes U+FFFD), escaped with {@linkcode escapeControl} and encoded again.
 */
export function escapeLine(line: Uint8Array): Uint8Array {
  for (let i = 0; i < line.length; i++) {
    const byte = line[i];
    if (byte < 0x20 || byte > 0x7e) return encoder.encode(escapeControl(decoder.decode(line)));
  }
  return line;
}
