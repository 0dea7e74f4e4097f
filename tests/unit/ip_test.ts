/**
 * IP addresses in text (`lib/util/ip.ts`): every way RFC 4291 lets one write an IPv6 address parses
 * to its bytes, against an independent model of which forms carry an IPv4 address; and what is
 * not an address is refused.
 */

import fc from "fast-check";
import { assert, assertEquals } from "../support/assert.ts";
import { isLoopback, parseIp } from "../../lib/util/ip.ts";

/** The bytes the parser should give for the IPv6 address `bytes`: its IPv4 address, if it carries one. */
function expected(bytes: Uint8Array): Uint8Array {
  const zeros = (from: number, to: number) => bytes.subarray(from, to).every((byte) => byte === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const compatible = zeros(0, 12) && !(zeros(12, 15) && bytes[15] <= 1);
  const nat64 = bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12);
  return mapped || compatible || nat64 ? bytes.slice(12) : bytes;
}

/** Ways of writing one IPv6 address, as the RFC allows. */
interface Style {
  compress: boolean;
  upper: boolean;
  leadingZeros: boolean;
  ipv4Tail: boolean;
  brackets: boolean;
  zone: boolean;
}

function write(bytes: Uint8Array, style: Style): string {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  const hex = (word: number) => {
    const text = word.toString(16);
    const padded = style.leadingZeros ? text.padStart(4, "0") : text;
    return style.upper ? padded.toUpperCase() : padded;
  };
  const count = style.ipv4Tail ? 6 : 8;
  const parts = words.slice(0, count).map(hex);
  let text: string;
  // The longest run of zero words, if any, becomes "::".
  let best = { start: -1, length: 0 };
  for (let i = 0; i < count; i++) {
    let j = i;
    while (j < count && words[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
  }
  const tail = style.ipv4Tail ? [...bytes.subarray(12)].join(".") : undefined;
  if (style.compress && best.length > 0) {
    const head = parts.slice(0, best.start).join(":");
    const rest = [...parts.slice(best.start + best.length), ...(tail === undefined ? [] : [tail])].join(":");
    text = `${head}::${rest}`;
  } else {
    text = [...parts, ...(tail === undefined ? [] : [tail])].join(":");
  }
  if (style.zone) text += "%eth0";
  return style.brackets ? `[${text}]` : text;
}

/** Addresses biased to the prefixes that matter: zeros, mapped, NAT64, loopback-like. */
const address = fc.tuple(
  fc.constantFrom(
    [],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe],
  ),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => bytes.map((b) => (b & 1 ? b : 0))),
).map(([prefix, random]) => {
  const bytes = random.slice();
  bytes.set(prefix);
  return bytes;
});

Deno.test("every RFC 4291 spelling of an IPv6 address parses to its bytes, or to the IPv4 one it carries", () => {
  const style = fc.record({
    compress: fc.boolean(),
    upper: fc.boolean(),
    leadingZeros: fc.boolean(),
    ipv4Tail: fc.boolean(),
    brackets: fc.boolean(),
    zone: fc.boolean(),
  });
  fc.assert(
    fc.property(address, style, (bytes, style) => {
      const text = write(bytes, style);
      assertEquals(parseIp(text), expected(bytes), text);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("the edges of the IPv4-carrying forms: ::, ::1 and their neighbours", () => {
  const cases: [string, number[] | number][] = [
    ["::", 16],
    ["::1", 16],
    ["::2", [0, 0, 0, 2]],
    ["::0.1.0.0", [0, 1, 0, 0]],
    ["::0.0.1.0", [0, 0, 1, 0]],
    ["::1.0.0.0", [1, 0, 0, 0]],
    ["::0.0.0.1", 16],
    ["::ffff:0.0.0.0", [0, 0, 0, 0]],
    ["::fffe:1.2.3.4", 16],
    ["::ffff:0:1.2.3.4", 16],
    ["1::1.2.3.4", 16],
    ["64:ff9b::1.2.3.4", [1, 2, 3, 4]],
    ["64:ff9b:1::1.2.3.4", 16],
    ["0:64:ff9b::1.2.3.4", 16],
    ["65:ff9b::1.2.3.4", 16],
  ];
  for (const [text, want] of cases) {
    const bytes = parseIp(text);
    if (typeof want === "number") assertEquals(bytes?.length, want, text);
    else assertEquals(bytes, Uint8Array.from(want), text);
  }
});

Deno.test("what is not an address is refused", () => {
  for (
    const bad of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "12345::",
      "::g",
      "::1.2.3",
      "::1.2.3.256",
      "::1.2.3.4:5",
      "1.2.3.4::",
      "::ffff:01.2.3.4",
      "1.2.3.4.5",
      "01.2.3.4",
      "1.2.3.04",
      "256.1.1.1",
      "1.2.3",
      "1.2.3.",
      "1.2.3.4 ",
      " 1.2.3.4",
      "+1.2.3.4",
      "0x1.2.3.4",
      "1e2.1.1.1",
      "[1.2.3.4",
      "1[::1]",
      "[::1]1",
      "1:2:3:4:5:6:7:8::1::",
      "::1::",
      "example.com",
    ]
  ) {
    assertEquals(parseIp(bad), undefined, JSON.stringify(bad));
  }
  // The longest forms still parse: 8 groups, and 7 with "::" standing for one.
  assertEquals(parseIp("1:2:3:4:5:6:7:8")?.length, 16);
  assertEquals(parseIp("1:2:3:4:5:6:7::")?.at(-1), 0);
  assertEquals(parseIp("::2:3:4:5:6:7:8")?.at(0), 0);
  assertEquals(parseIp("1:2:3:4:5:6:1.2.3.4")?.length, 16);
  assertEquals(parseIp("0.0.0.0"), Uint8Array.of(0, 0, 0, 0));
  assertEquals(parseIp("255.255.255.255"), Uint8Array.of(255, 255, 255, 255));
  assertEquals(parseIp("[10.0.0.1]"), Uint8Array.of(10, 0, 0, 1), "brackets are dropped");
});

Deno.test("loopback: 127.0.0.0/8, ::1 in any spelling, and the name localhost", () => {
  for (
    const yes of [
      "localhost",
      "LocalHost",
      "127.0.0.1",
      "127.255.0.9",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "::ffff:127.0.0.1",
    ]
  ) {
    assert(isLoopback(yes), yes);
  }
  for (
    const no of [
      "128.0.0.1",
      "126.0.0.1",
      "::",
      "::2",
      "1::1",
      "::1:0",
      "localhost.example",
      "example",
      "10.0.0.1",
    ]
  ) {
    assert(!isLoopback(no), no);
  }
});
