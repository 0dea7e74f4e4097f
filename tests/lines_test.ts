import { assertEquals, throws } from "./support/assert.ts";
import { LineFramer, LineTooLongError } from "../lib/protocol/framer.ts";

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
