/**
 * Property-based tests: random byte streams cut into random chunks must frame into exactly the
 * lines a reference splitter finds, with the framer never holding more than the limit; and no
 * escaped text may contain a control character, whatever the input.
 */

import fc from "fast-check";
import { assertEquals } from "../support/assert.ts";
import { escapeControl, escapeText } from "../../lib/protocol/escape.ts";
import { mustEscape, TRICKY, unescape } from "../support/escape_oracle.ts";
import { LineFramer, LineTooLongError } from "../../lib/protocol/framer.ts";

/** The obvious, slow definition: split on \n, drop one \r before it, keep the tail unfinished. */
function referenceLines(bytes: Uint8Array, maxLine: number): { lines: number[][]; tooLong: boolean } {
  const lines: number[][] = [];
  let current: number[] = [];
  for (const byte of bytes) {
    if (byte === 0x0a) {
      if (current.at(-1) === 0x0d) current.pop();
      if (current.length > maxLine) return { lines, tooLong: true };
      lines.push(current);
      current = [];
    } else {
      current.push(byte);
      // The framer may only notice at maxLine + 2 bytes if byte maxLine + 1 is a \r.
      const slack = current.at(-1) === 0x0d ? 1 : 0;
      if (current.length > maxLine + slack) return { lines, tooLong: true };
    }
  }
  return { lines, tooLong: false };
}

/** Byte streams rich in \n and \r, so that lines are short and CRLF edges are common. */
const streams = fc.array(
  fc.oneof(fc.constant(0x0a), fc.constant(0x0d), fc.integer({ min: 0, max: 255 })),
  { maxLength: 400 },
).map((bytes) => Uint8Array.from(bytes));

/** Cut points for a stream of `length` bytes. */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

Deno.test("any chunking of any byte stream frames into the reference lines", () => {
  fc.assert(
    fc.property(
      streams,
      fc.array(fc.nat(), { maxLength: 50 }),
      fc.integer({ min: 1, max: 40 }),
      (bytes, cuts, max) => {
        const expected = referenceLines(bytes, max);
        const framer = new LineFramer(max);
        const lines: number[][] = [];
        let tooLong = false;
        try {
          for (const chunk of chunked(bytes, cuts)) {
            framer.push(chunk, (line) => lines.push([...line]));
            if (framer.buffered > max + 1) {
              throw new Error(
                `framer holds ${framer.buffered} bytes, limit ${max}`,
              );
            }
          }
        } catch (error) {
          if (!(error instanceof LineTooLongError)) throw error;
          tooLong = true;
        }
        assertEquals({ lines, tooLong }, expected);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("first-hand escaping reads back as exactly what was sent: no two texts look the same", () => {
  const texts = fc.array(
    fc.oneof(fc.constantFrom(...TRICKY, "\\", "\\e", "e", "x07", "u{202e}"), fc.string()),
    {
      maxLength: 12,
    },
  ).map((parts) => parts.join(""));
  fc.assert(fc.property(texts, (text) => unescape(escapeText(text)) === text), { numRuns: 5000 });
});

Deno.test("escaped text never carries a character of the escaped set, whatever it is given", () => {
  const unsafe = (text: string) => [...text].some((char) => mustEscape(char.codePointAt(0)!));
  // Text biased toward the characters that matter: the tricky ones, mixed with any other.
  const biased = fc.array(fc.oneof(fc.constantFrom(...TRICKY), fc.string({ unit: "binary", maxLength: 4 })), {
    maxLength: 60,
  }).map((parts) => parts.join(""));
  fc.assert(fc.property(biased, (text) => !unsafe(escapeControl(text))), { numRuns: 5000 });
  fc.assert(fc.property(biased, (text) => !unsafe(escapeText(text))), { numRuns: 5000 });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const shown = escapeControl(new TextDecoder().decode(bytes));
      return !unsafe(shown) && !new TextEncoder().encode(shown).some((b) => b < 0x20 || b === 0x7f);
    }),
    { numRuns: 5000 },
  );
});
