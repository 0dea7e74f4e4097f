/**
 * WebSocket frames without a socket: the decoder against frames cut at every byte and in random
 * chunks, fragments with pings between them, every violation it must refuse (and when), the
 * UTF-8 check against the platform's own decoder, and the encoder read back.
 */

import fc from "fast-check";
import { assertEquals, throws } from "../support/assert.ts";
import { LineTooLongError } from "../../lib/protocol/framer.ts";
import {
  encodeClose,
  encodeLines,
  encodePong,
  encodeText,
  FrameDecoder,
  FrameError,
  type FrameEvent,
} from "../../lib/protocol/websocket.ts";
import { frame } from "../../scripts/support/websocket.ts";
import { Utf8Validator } from "../../lib/protocol/utf8.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Feeds `bytes` in chunks of the given sizes; returns the events, with text joined per message. */
function decode(bytes: Uint8Array, maxMessage: number, sizes: number[] = [bytes.length]): string[] {
  const frames = new FrameDecoder(maxMessage);
  const out: string[] = [];
  let text: number[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]);
    // The decoder unmasks in place: hand it a copy, as a socket read would.
    frames.feed(bytes.slice(at, at + size));
    at += size;
    for (let event: FrameEvent | null = frames.next(); event !== null; event = frames.next()) {
      if (event.kind === "text") text.push(...event.bytes);
      else if (event.kind === "end") {
        out.push(`text:${decoder.decode(Uint8Array.from(text))}`);
        text = [];
      } else if (event.kind === "ping") out.push(`ping:${decoder.decode(event.payload)}`);
      else if (event.kind === "close") out.push(`close:${event.code}:${event.reason}`);
      else out.push(event.kind);
    }
  }
  return out;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const conversation = join(
  frame(0x1, "héllo"),
  frame(0x1, "frag", { fin: false }),
  frame(0x9, "ping in between"),
  frame(0x0, "men", { fin: false }),
  frame(0x0, "ted"),
  frame(0x1, ""),
  frame(0x1, "x".repeat(300)),
  frame(0xa, ""),
  frame(0x8, join(Uint8Array.of(0x03, 0xe9), encoder.encode("bye"))),
);
const expected = [
  "text:héllo",
  "ping:ping in between",
  "text:fragmented",
  "text:",
  `text:${"x".repeat(300)}`,
  "pong",
  "close:1001:bye",
];

Deno.test("frames decode the same whole, byte by byte and in every chunk size", () => {
  assertEquals(decode(conversation, 1000), expected);
  assertEquals(decode(conversation, 1000, [1]), expected);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (sizes) => {
      assertEquals(decode(conversation, 1000, sizes), expected);
    }),
  );
});

Deno.test("a message over the limit is refused when its header says so, fragments counted together", () => {
  // Only the 14-byte header of a gigabyte frame: refused without a byte of payload.
  const huge = frame(0x1, "", { length: 2 ** 30 }).subarray(0, 14);
  throws(() => decode(huge, 100), LineTooLongError);
  assertEquals(decode(frame(0x1, "y".repeat(100)), 100), [`text:${"y".repeat(100)}`]);
  throws(
    () => decode(join(frame(0x1, "y".repeat(60), { fin: false }), frame(0x0, "y".repeat(41))), 100),
    LineTooLongError,
  );
});

Deno.test("every breach of the protocol is refused with the close code that names it", () => {
  const unmasked = Uint8Array.of(0x81, 0x02, 0x68, 0x69);
  const cases: [Uint8Array, number, RegExp][] = [
    [unmasked, 1002, /must be masked/],
    [frame(0x2, Uint8Array.of(1, 2)), 1003, /binary frames are not accepted/],
    [frame(0x1, Uint8Array.of(0xc3, 0x28)), 1007, /not UTF-8/],
    [frame(0x1, Uint8Array.of(0xe2, 0x82)), 1007, /not UTF-8/],
    [frame(0x0, "orphan"), 1002, /continuation with no message/],
    [join(frame(0x1, "a", { fin: false }), frame(0x1, "b")), 1002, /new message inside/],
    [frame(0x9, "x".repeat(126)), 1002, /control frame/],
    [frame(0x9, "p", { fin: false }), 1002, /control frame/],
    [frame(0x3, "?"), 1002, /unknown opcode/],
    [join(Uint8Array.of(0xc1), frame(0x1, "x").subarray(1)), 1002, /reserved bits/],
  ];
  for (const [bytes, code, pattern] of cases) {
    const error = throws(() => decode(bytes, 1000), FrameError);
    assertEquals([error.code, pattern.test(error.message)], [code, true]);
  }
});

Deno.test("the streaming UTF-8 check agrees with the platform's strict decoder, in any cut", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(64), (bytes, cut) => {
      let valid = true;
      try {
        strict.decode(bytes);
      } catch {
        valid = false;
      }
      const check = new Utf8Validator();
      const at = Math.min(cut, bytes.length);
      const streamed = check.push(bytes.subarray(0, at)) && check.push(bytes.subarray(at)) && check.end();
      assertEquals(streamed, valid);
    }),
    { numRuns: 2000 },
  );
  // And on text that is valid, including 4-byte characters split anywhere.
  fc.assert(fc.property(fc.string({ unit: "grapheme" }), (text) => {
    const check = new Utf8Validator();
    const bytes = encoder.encode(text);
    assertEquals([...bytes].every((byte) => check.push(Uint8Array.of(byte))) && check.end(), true);
  }));
});

Deno.test("the encoder writes one frame per line, with the right length form, and keeps an unfinished line", () => {
  const lines = ["short", "m".repeat(200), "l".repeat(70000)];
  const { frames, taken } = encodeLines(encoder.encode(lines.join("\n") + "\nunfinished"));
  assertEquals(taken, lines.join("\n").length + 1);
  const read: string[] = [];
  for (let at = 0; at < frames.length;) {
    assertEquals(frames[at], 0x81);
    let length = frames[at + 1];
    let start = at + 2;
    if (length === 126) [length, start] = [(frames[at + 2] << 8) | frames[at + 3], at + 4];
    else if (length === 127) {
      [length, start] = [Number(new DataView(frames.buffer, at + 2, 8).getBigUint64(0)), at + 10];
    }
    read.push(decoder.decode(frames.subarray(start, start + length)));
    at = start + length;
  }
  assertEquals(read, lines);
  assertEquals([...encodePong(encoder.encode("hi"))], [0x8a, 2, 0x68, 0x69]);
  const close = encodeClose(1009, "é".repeat(100));
  assertEquals([close[0], close[1] <= 125, (close[2] << 8) | close[3]], [0x88, true, 1009]);
  assertEquals(decoder.decode(close.subarray(4)), "é".repeat(61), "cut on a character boundary");
});

Deno.test("a close frame is checked as RFC 6455 says: a code that may be sent, a UTF-8 reason, never one byte", () => {
  const close = (payload: Uint8Array) => decode(frame(0x8, payload), 1000);
  const coded = (code: number, reason: Uint8Array = new Uint8Array(0)) =>
    join(Uint8Array.of(code >> 8, code & 0xff), reason);
  assertEquals(close(new Uint8Array(0)), ["close:1005:"], "no code is reported as 1005, never sent");
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
    assertEquals(close(coded(code, encoder.encode("bye"))), [`close:${code}:bye`]);
  }
  const refused: [Uint8Array, RegExp][] = [
    [Uint8Array.of(0x03), /1-byte payload/],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code) =>
      [coded(code), new RegExp(`close code ${code} may not be sent`)] as [Uint8Array, RegExp]
    ),
    [coded(1000, Uint8Array.of(0xc3, 0x28)), /close reason that is not UTF-8/],
    [coded(1000, Uint8Array.of(0xed, 0xa0, 0x80)), /close reason that is not UTF-8/],
  ];
  for (const [payload, pattern] of refused) {
    const error = throws(() => close(payload), FrameError);
    assertEquals([error.code, pattern.test(error.message)], [1002, true], pattern.source);
  }
});

/**
 * The categories of the Autobahn TestSuite (which cannot be installed here), each with cases
 * written from RFC 6455: what the decoder must accept, and what it must refuse with which code.
 * Close handling (category 7) is the test above; the server's side of ping/pong and of limits is
 * also driven over real sockets in `web_test.ts` and `abuse_test.ts`.
 */
Deno.test("Autobahn's categories, from RFC 6455: framing, pings, reserved bits, opcodes, fragments, UTF-8, limits", () => {
  const refuse = (bytes: Uint8Array, code: number, max = 1 << 20) =>
    assertEquals(throws(() => decode(bytes, max), FrameError).code, code);
  // 1. Framing: each length form (7-bit, 16-bit, 64-bit) at its edges, whole and byte by byte.
  for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    const text = "t".repeat(length);
    const bytes = frame(0x1, text);
    assertEquals(decode(bytes, 1 << 20), [`text:${text}`], `${length} bytes`);
    if (length <= 126) {
      assertEquals(decode(bytes, 1 << 20, [1]), [`text:${text}`], `${length} bytes, byte by byte`);
    }
  }
  // 2. Pings and pongs: a ping's payload, up to 125 bytes, comes back; an unasked pong is ignored.
  assertEquals(decode(frame(0x9, "p".repeat(125)), 1000), [`ping:${"p".repeat(125)}`]);
  assertEquals(decode(frame(0x9, ""), 1000), ["ping:"]);
  assertEquals(decode(join(frame(0xa, "unasked"), frame(0x1, "after")), 1000), ["pong", "text:after"]);
  refuse(frame(0x9, "p".repeat(126)), 1002);
  // 3. Reserved bits: RSV1, RSV2 and RSV3, alone and together, on data and control frames.
  for (const bits of [0x40, 0x20, 0x10, 0x70]) {
    for (const opcode of [0x1, 0x9]) {
      const bytes = frame(opcode, "x");
      bytes[0] |= bits;
      refuse(bytes, 1002);
    }
  }
  // 4. Opcodes: the reserved data (3-7) and control (B-F) opcodes.
  for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) refuse(frame(opcode, ""), 1002);
  // 5. Fragmentation: fragments (empty ones too) with control frames between them; what may not be.
  assertEquals(
    decode(
      join(
        frame(0x1, "a", { fin: false }),
        frame(0x9, "between"),
        frame(0x0, "", { fin: false }),
        frame(0xa, ""),
        frame(0x0, "b"),
      ),
      1000,
    ),
    ["ping:between", "pong", "text:ab"],
  );
  refuse(frame(0x0, "no start"), 1002);
  refuse(join(frame(0x1, "a", { fin: false }), frame(0x1, "b")), 1002);
  refuse(frame(0x9, "x", { fin: false }), 1002);
  refuse(frame(0x8, Uint8Array.of(0x03, 0xe8), { fin: false }), 1002);
  // 6. UTF-8: a character cut across fragments is whole; bad bytes fail at once, before the message ends.
  const euro = encoder.encode("€"); // e2 82 ac
  for (let cut = 1; cut < 3; cut++) {
    const parts = join(frame(0x1, euro.subarray(0, cut), { fin: false }), frame(0x0, euro.subarray(cut)));
    assertEquals(decode(parts, 100), ["text:€"], `cut after byte ${cut}`);
  }
  refuse(
    join(frame(0x1, Uint8Array.of(0xce, 0xba, 0xe1), { fin: false }), frame(0x0, Uint8Array.of(0x80))),
    1007,
  );
  refuse(frame(0x1, Uint8Array.of(0xf4, 0x90, 0x80, 0x80), { fin: false }), 1007); // past U+10FFFF, unfinished
  refuse(frame(0x1, Uint8Array.of(0xed, 0xa0, 0x80)), 1007); // a surrogate
  refuse(frame(0x1, Uint8Array.of(0xc0, 0xaf)), 1007); // an overlong "/"
  refuse(frame(0x1, Uint8Array.of(0xe2, 0x82), { fin: true }), 1007); // ends mid-character
  // 9. Limits: a message of exactly the limit passes, one byte more is refused, fragments counted together.
  assertEquals(decode(frame(0x1, "m".repeat(100)), 100), [`text:${"m".repeat(100)}`]);
  throws(
    () => decode(join(frame(0x1, "m".repeat(50), { fin: false }), frame(0x0, "m".repeat(51))), 100),
    LineTooLongError,
  );
});

Deno.test("each length form of a server frame starts exactly at its boundary", () => {
  const header = (length: number) => [...encodeText(new Uint8Array(length)).subarray(0, 10)];
  assertEquals(header(0).slice(0, 2), [0x81, 0]);
  assertEquals(header(125).slice(0, 2), [0x81, 125]);
  assertEquals(header(126).slice(0, 4), [0x81, 126, 0, 126]);
  assertEquals(header(65535).slice(0, 4), [0x81, 126, 0xff, 0xff]);
  assertEquals(header(65536), [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  for (const length of [125, 126, 65535, 65536]) {
    const size = length + (length < 126 ? 2 : length < 65536 ? 4 : 10);
    assertEquals(encodeText(new Uint8Array(length)).length, size, `${length}`);
  }
});

Deno.test("a close reason is cut to 123 bytes, never inside a character", () => {
  const reason = (text: string) => decoder.decode(encodeClose(1000, text).subarray(4));
  assertEquals(reason("a".repeat(123)), "a".repeat(123), "123 bytes fit whole");
  assertEquals(reason("a".repeat(124)), "a".repeat(123));
  assertEquals(reason("a" + "\u{1f600}".repeat(31)), "a" + "\u{1f600}".repeat(30), "a 4-byte character");
  assertEquals(encodeClose(1000, "a".repeat(200))[1], 125);
  assertEquals([...encodeClose(4000)], [0x88, 2, 0x0f, 0xa0]);
});

Deno.test("UTF-8 at the edges of each lead byte's range: overlongs, surrogates, past U+10FFFF", () => {
  const valid = (...bytes: number[]) => {
    const check = new Utf8Validator();
    return check.push(Uint8Array.from(bytes)) && check.end();
  };
  const cases: [number[], boolean][] = [
    [[0x7f], true],
    [[0x80], false],
    [[0xc1, 0xbf], false],
    [[0xc2, 0x80], true],
    [[0xdf, 0xbf], true],
    [[0xe0, 0x9f, 0xbf], false],
    [[0xe0, 0xa0, 0x80], true],
    [[0xe1, 0x80, 0x80], true],
    [[0xed, 0x9f, 0xbf], true],
    [[0xed, 0xa0, 0x80], false],
    [[0xef, 0xbf, 0xbf], true],
    [[0xf0, 0x8f, 0xbf, 0xbf], false],
    [[0xf0, 0x90, 0x80, 0x80], true],
    [[0xf3, 0xbf, 0xbf, 0xbf], true],
    [[0xf4, 0x8f, 0xbf, 0xbf], true],
    [[0xf4, 0x90, 0x80, 0x80], false],
    [[0xf5, 0x80, 0x80, 0x80], false],
    [[0xff], false],
    [[0xe1, 0x80], false],
    [[0xf1, 0x80, 0x80, 0x80, 0x80], false],
  ];
  for (const [bytes, expected] of cases) {
    const name = bytes.map((b) => b.toString(16)).join(" ");
    assertEquals(valid(...bytes), expected, name);
    // The platform's strict decoder, as a second opinion.
    let platform = true;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
      platform = false;
    }
    assertEquals(platform, expected, `${name} (platform)`);
  }
  // After a 4-byte lead's narrowed range, the next character starts afresh.
  assertEquals(valid(0xf0, 0x90, 0x80, 0x80, 0xc2, 0x80), true);
  assertEquals(valid(0xf4, 0x8f, 0xbf, 0xbf, 0xf0, 0x90, 0x80, 0x80), true);
});

Deno.test("a 64-bit length is read whole: 2^32 bytes is not an empty frame", () => {
  const header = Uint8Array.of(0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4);
  throws(() => decode(header, 1 << 20), LineTooLongError);
  const small = Uint8Array.of(0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0x61, 0x62, 0x63);
  assertEquals(decode(small, 10), ["text:abc"]);
});

Deno.test("protocol errors are FrameErrors that name the opcode", () => {
  const error = throws(() => decode(frame(0xb, ""), 100), FrameError);
  assertEquals([error.name, error.message], ["FrameError", "unknown opcode 11"]);
  assertEquals(throws(() => decode(frame(0x3, ""), 100), FrameError).message, "unknown opcode 3");
});

Deno.test("control frames inside a fragmented message do not count toward its size", () => {
  const parts = join(
    frame(0x1, "123456789", { fin: false }),
    frame(0x9, "pingy"),
    frame(0x8, join(Uint8Array.of(0x03, 0xe8), encoder.encode("12345"))),
  );
  assertEquals(decode(parts, 10), ["ping:pingy", "close:1000:12345"]);
});

Deno.test("a ping's payload is its own: the next ping does not overwrite it", () => {
  const frames = new FrameDecoder(100);
  frames.feed(join(frame(0x9, "first"), frame(0x9, "second")));
  const events: FrameEvent[] = [];
  for (let event = frames.next(); event !== null; event = frames.next()) events.push(event);
  assertEquals(
    events.map((event) => event.kind === "ping" ? decoder.decode(event.payload) : event.kind),
    ["first", "second"],
  );
});

Deno.test("every byte of a 64-bit length's high word counts: any of them set is too long", () => {
  for (let byte = 2; byte <= 5; byte++) {
    const header = Uint8Array.of(0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4);
    header[byte] = 1;
    throws(() => decode(header, 2 ** 31), LineTooLongError);
  }
});
