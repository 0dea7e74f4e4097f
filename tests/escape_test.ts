import { assertEquals } from "./support/assert.ts";
import { escapeControl } from "../lib/protocol/escape.ts";

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

Deno.test("escaped output contains no control character at all", () => {
  let all = "";
  for (let code = 0; code < 0x3000; code++) all += String.fromCharCode(code);
  // deno-lint-ignore no-control-regex -- looking for control characters is the point.
  assertEquals(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/.test(escapeControl(all)), false);
});
