import fc from "fast-check";
import { assertEquals, throws } from "../support/assert.ts";
import { LineFramer, LineTooLongError } from "../../lib/protocol/framer.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Feeds `chunks` and returns the decoded lines. */
function frame(chunks: (string | Uint8Array)[], maxLine = 1024): string[] {
  const framer = new LineFramer(maxLine);
  const lines: string[] = [];
  for (const chunk of chunks) {
    framer.push(
      typeof chunk === "string" ? encoder.encode(chunk) : chunk,
      (line) => lines.push(decoder.decode(line)),
    );
  }
  return lines;
}

function bytewise(text: string): Uint8Array[] {
  return [...encoder.encode(text)].map((byte) => Uint8Array.of(byte));
}

Deno.test("framer joins a line split across chunks", () => {
  assertEquals(frame(["hel", "lo wo", "rld\n"]), ["hello world"]);
});

Deno.test("framer splits many lines in one chunk, in order", () => {
  assertEquals(frame(["a\nbb\n\nccc\n"]), ["a", "bb", "", "ccc"]);
});

Deno.test("framer gives the same lines fed one byte at a time", () => {
  const text = "one\r\ntwo\n\nthree ünï 🚀\n";
  assertEquals(frame(bytewise(text)), frame([text]));
  assertEquals(frame([text]), ["one", "two", "", "three ünï 🚀"]);
});

Deno.test("framer drops the \\r of \\r\\n, even when split from its \\n", () => {
  assertEquals(frame(["a\r\nb\r", "\nc\rd\n"]), ["a", "b", "c\rd"]);
});

Deno.test("framer keeps a multi-byte character split across chunks intact", () => {
  const bytes = encoder.encode("é€😀\n");
  for (let cut = 1; cut < bytes.length; cut++) {
    assertEquals(frame([bytes.subarray(0, cut), bytes.subarray(cut)]), ["é€😀"]);
  }
});

Deno.test("framer holds back an unterminated tail", () => {
  const framer = new LineFramer(100);
  const lines: string[] = [];
  framer.push(encoder.encode("done\npart"), (line) => lines.push(decoder.decode(line)));
  assertEquals(lines, ["done"]);
  assertEquals(framer.buffered, 4);
});

Deno.test("framer accepts a line of exactly maxLine bytes, with or without \\r", () => {
  assertEquals(frame(["12345\n"], 5), ["12345"]);
  assertEquals(frame(["123", "45\r", "\n"], 5), ["12345"]);
});

Deno.test("framer rejects an overlong line after delivering the lines before it", () => {
  const lines: string[] = [];
  const framer = new LineFramer(5);
  const error = throws(
    () => framer.push(encoder.encode("ok\n123456\nlater\n"), (line) => lines.push(decoder.decode(line))),
    LineTooLongError,
  );
  assertEquals(lines, ["ok"]);
  assertEquals(error.message, "line too long (max 5 bytes)");
});

Deno.test("framer rejects an overlong unterminated line without buffering it", () => {
  const framer = new LineFramer(8);
  framer.push(encoder.encode("12345678"), () => {});
  assertEquals(framer.buffered, 8);
  throws(() => framer.push(encoder.encode("9"), () => {}), LineTooLongError);
  assertEquals(framer.buffered, 0);
});

Deno.test("framer rejects an overlong line arriving one byte at a time, holding at most maxLine + 1 bytes", () => {
  const framer = new LineFramer(4);
  let failed = false;
  for (const byte of bytewise("abcdefgh")) {
    try {
      framer.push(byte, () => {});
    } catch (error) {
      if (!(error instanceof LineTooLongError)) throw error;
      failed = true;
      break;
    }
    if (framer.buffered > 5) throw new Error(`buffered ${framer.buffered} bytes`);
  }
  assertEquals(failed, true);
});

/**
 * What the framer must make of a whole stream, however it is cut: split at `\n`, one `\r` before it
 * dropped, each line over `maxLine` reported once (and the rest of it dropped), lines after it
 * delivered as usual, and an unfinished tail held (or reported, once it cannot fit).
 */
function reference(bytes: Uint8Array, maxLine: number): { events: string[]; held: number } {
  const events: string[] = [];
  let start = 0;
  for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
    let stop = end;
    if (stop > start && bytes[stop - 1] === 0x0d) stop--;
    events.push(stop - start > maxLine ? "TOO LONG" : decoder.decode(bytes.subarray(start, stop)));
    start = end + 1;
  }
  const tail = bytes.length - start;
  const tailFits = tail <= maxLine || (tail === maxLine + 1 && bytes[bytes.length - 1] === 0x0d);
  if (!tailFits) events.push("TOO LONG");
  return { events, held: tailFits ? tail : 0 };
}

/** The framer's events for `bytes` cut at `cuts`, carrying on after each overlong line. */
function framed(bytes: Uint8Array, cuts: number[], maxLine: number): { events: string[]; held: number } {
  const framer = new LineFramer(maxLine);
  const events: string[] = [];
  const points = [...new Set([0, ...cuts.map((cut) => cut % (bytes.length + 1)), bytes.length])].sort((
    a,
    b,
  ) => a - b);
  for (let i = 1; i < points.length; i++) {
    framer.feed(bytes.slice(points[i - 1], points[i]));
    while (true) {
      try {
        const line = framer.next();
        if (line === null) break;
        events.push(decoder.decode(line));
      } catch (error) {
        if (!(error instanceof LineTooLongError)) throw error;
        events.push("TOO LONG");
      }
    }
  }
  return { events, held: framer.buffered };
}

Deno.test("framer agrees with the plain reference on any stream, however it is cut, overlong lines included", () => {
  // Lines of every length around the limit, with and without \r, built from few letters.
  const line = fc.tuple(fc.nat(20), fc.constantFrom("", "\r"), fc.constantFrom("a", "b", "\r"))
    .map(([length, cr, letter]) => letter.repeat(length) + cr);
  fc.assert(
    fc.property(
      fc.array(line, { maxLength: 12 }),
      fc.boolean(),
      fc.array(fc.nat(400), { maxLength: 8 }),
      fc.integer({ min: 1, max: 12 }),
      (lines, finished, cuts, maxLine) => {
        const text = lines.join("\n") + (finished && lines.length > 0 ? "\n" : "");
        const bytes = encoder.encode(text);
        assertEquals(framed(bytes, cuts, maxLine), reference(bytes, maxLine));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("framer grows its buffer for a long line in many pieces, keeping every byte", () => {
  const long = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
  const pieces = long.match(/.{1,7}/g)!;
  assertEquals(frame([...pieces, "\n", "after\n"], 4096), [long, "after"]);
});

Deno.test("framer refuses a limit that is not a positive integer, and a chunk fed before the last is used", () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    const error = throws(() => new LineFramer(bad), RangeError);
    assertEquals(error.message, `maxLine must be a positive integer, got ${bad}`);
  }
  const framer = new LineFramer(10);
  framer.feed(encoder.encode("a\nb\n"));
  assertEquals(decoder.decode(framer.next()!), "a");
  assertEquals(
    throws(() => framer.feed(encoder.encode("c\n")), Error).message,
    "feed() before the last chunk was used up",
  );
  assertEquals(new LineTooLongError(3).name, "LineTooLongError");
});
