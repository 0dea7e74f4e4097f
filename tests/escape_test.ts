import { assertEquals } from "./support/assert.ts";
import { escapeControl } from "../lib/protocol/escape.ts";
import { mustEscape, TRICKY } from "./support/escape_oracle.ts";

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
