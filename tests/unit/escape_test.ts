import { assertEquals } from "../support/assert.ts";
import { escapeControl, escapeLine, escapeText } from "../../lib/protocol/escape.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
import { mustEscape, TRICKY, unescape } from "../support/escape_oracle.ts";

Deno.test("escaping leaves ordinary text, any script and emoji alone", () => {
  const text = "hello, wörld — 你好 🚀 \\path";
  assertEquals(escapeControl(text), text);
});

Deno.test("escaping makes an ANSI escape sequence visible", () => {
  assertEquals(escapeControl("\x1b[2J\x1b]0;owned\x07"), "\\e[2J\\e]0;owned\\x07");
});

Deno.test("escaping shows tab, carriage return, NUL, DEL and C1 controls", () => {
  assertEquals(escapeControl("a\tb\rc\x00d\x7fe\u009bf"), "a\\tb\\rc\\x00d\\x7fe\\x9bf");
});

Deno.test("escaping shows bidi overrides that would reorder the line", () => {
  assertEquals(escapeControl("abc\u202edef\u2066"), "abc\\u{202e}def\\u{2066}");
});

Deno.test("every bidi mark, override, isolate, separator and tag character is shown, one by one", () => {
  for (const char of TRICKY) {
    const code = char.codePointAt(0)!;
    assertEquals(escapeControl(`a${char}b`) === `a${char}b`, false, `U+${code.toString(16)} passes raw`);
    assertEquals(mustEscape(code), true);
  }
  const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
  assertEquals(
    escapeControl(`${family} and \u0646\u200c\u0647`),
    `${family} and \u0646\u200c\u0647`,
    "joiners pass",
  );
});

Deno.test("exactly the stated set is escaped, over every code point of Unicode", () => {
  const wrong: string[] = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue; // surrogates: never in decoded text
    const char = String.fromCodePoint(code);
    if ((escapeControl(char) !== char) !== mustEscape(code)) wrong.push(`U+${code.toString(16)}`);
  }
  assertEquals(wrong.slice(0, 20), []);
});

Deno.test("a line of printable ASCII is passed on as it is, the very bytes, without decoding", () => {
  const line = encoder.encode("plain ~ text !");
  assertEquals(escapeLine(line) === line, true, "the same array: nothing copied");
  for (const byte of [0x20, 0x7e]) assertEquals(escapeLine(Uint8Array.of(byte)), Uint8Array.of(byte));
});

Deno.test("a line with any byte outside printable ASCII is escaped, at each edge of the range", () => {
  const shown = (bytes: number[]) => decoder.decode(escapeLine(Uint8Array.from(bytes)));
  assertEquals(shown([0x61, 0x1f, 0x62]), "a\\x1fb");
  assertEquals(shown([0x7f]), "\\x7f");
  assertEquals(shown([0x00, 0x61]), "\\x00a");
  assertEquals(shown([0x61, 0x1b]), "a\\e", "the last byte too");
  assertEquals(shown([0xc3, 0xa9]), "é", "non-ASCII text is decoded and passes");
  assertEquals(shown([0xff, 0x61]), "\ufffda", "bytes that are not UTF-8 become U+FFFD");
  assertEquals(shown([0xe2, 0x80, 0xae, 0x61]), "\\u{202e}a");
});

Deno.test("each named escape, and the two forms of the others", () => {
  assertEquals(escapeControl("\t\r\n\x1b"), "\\t\\r\\n\\e");
  assertEquals(escapeControl("\x01\u0085\u00ad"), "\\x01\\x85\\xad");
  assertEquals(escapeControl("\u2028\u{e0041}"), "\\u{2028}\\u{e0041}");
});

Deno.test("first-hand text doubles its backslashes, so a typed escape and a real one read apart", () => {
  assertEquals(escapeText("\\e[2J"), "\\\\e[2J");
  assertEquals(escapeText("\x1b[2J"), "\\e[2J");
  assertEquals(escapeText("C:\\dir\\x07 \x07"), "C:\\\\dir\\\\x07 \\x07");
  assertEquals(escapeText("plain, wörld 🚀"), "plain, wörld 🚀");
  assertEquals(escapeControl("\\e[2J"), "\\e[2J", "text escaped once already is not escaped twice");
});

Deno.test("escaped text reads back as exactly what was sent, whatever it was", () => {
  const samples = [
    "\\",
    "\\\\e",
    "\\e\x1b",
    "a\\\x1bb",
    "\\x07\x07",
    "\\u{202e}\u202e",
    "\\\n\\n",
    ...TRICKY,
  ];
  for (const text of samples) assertEquals(unescape(escapeText(text)), text, JSON.stringify(text));
});

Deno.test("a line with a backslash is escaped; with `escaped`, only control characters are", () => {
  const shown = (text: string, escaped?: boolean) =>
    decoder.decode(escapeLine(encoder.encode(text), escaped === undefined ? undefined : { escaped }));
  assertEquals(shown("a\\b"), "a\\\\b");
  assertEquals(shown("\\"), "\\\\", "a backslash alone");
  assertEquals(shown("a\\b", false), "a\\\\b");
  assertEquals(shown("a\\\\b \\e", true), "a\\\\b \\e", "an escaped line passes as it is");
  assertEquals(shown("a\\\\b\x1b", true), "a\\\\b\\e", "but a raw control character in it is escaped");
  const plain = encoder.encode("a\\b");
  assertEquals(escapeLine(plain, { escaped: true }) === plain, true, "printable ASCII passes uncopied");
});
