/**
 * Property-based tests: random byte streams cut into random chunks must frame into exactly the
 * lines a reference splitter finds, with the framer never holding more than the limit; and no
 * escaped text may contain a control character, whatever the input.
 */

import fc from "fast-check";
import { assertEquals } from "./support/assert.ts";
import { escapeControl } from "../lib/protocol/escape.ts";
import { LineFramer, LineTooLongError } from "../lib/protocol/framer.ts";

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

Deno.test("escaped text never carries a C0, C1, DEL, ESC or bidi control", () => {
  // deno-lint-ignore no-control-regex -- looking for control characters is the point.
  const control = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => !control.test(escapeControl(text))),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const shown = escapeControl(new TextDecoder().decode(bytes));
      return !control.test(shown) && !new TextEncoder().encode(shown).some((b) => b < 0x20 || b === 0x7f);
    }),
    { numRuns: 5000 },
  );
});
