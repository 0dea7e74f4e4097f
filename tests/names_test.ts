/**
 * Chat names: which are allowed, which are refused and why, and which count as the same name.
 */

import { assert, assertEquals } from "./support/assert.ts";
import { isReserved, MAX_NAME_BYTES, nameKey, parseName } from "../lib/protocol/names.ts";
import { MemoryRegistry } from "../lib/registry/memory.ts";
import { SharedRegistry } from "../lib/registry/shared.ts";

function refusal(text: string): string | undefined {
  const parsed = parseName(text);
  return "error" in parsed ? parsed.error : undefined;
}

Deno.test("names of every script are allowed, and normalised to NFC", () => {
  for (
    const name of [
      "José",
      "李",
      "Ωμέγα",
      "Дмитрий",
      "محمد",
      "देवनागरी",
      "さくら_サクラ漢字",
      "한글",
      "bob-2_x",
    ]
  ) {
    assertEquals(parseName(name), { name }, name);
  }
  // "e" and a combining acute accent is the one character é.
  assertEquals(parseName("Jose\u0301"), { name: "José" });
  assertEquals(parseName("Jose\u0301 ".trim()), { name: "José" });
});

Deno.test("a name is refused for its characters, its length in characters or bytes, or mixed scripts", () => {
  for (const text of ["", "two words", "a.b", "tab\there", "zw\u200dj", "emoji😀", "x\u202eevil", "<b>"]) {
    assertEquals(refusal(text), "use 1-32 letters, digits, - or _ (any one script)", JSON.stringify(text));
  }
  assertEquals(parseName("a".repeat(32)), { name: "a".repeat(32) });
  assertEquals(refusal("a".repeat(33)), "longer than 32 characters");
  // 22 CJK characters: 22 characters, but 66 bytes.
  assertEquals(parseName("李".repeat(21)), { name: "李".repeat(21) });
  assertEquals(refusal("李".repeat(22)), `longer than ${MAX_NAME_BYTES} bytes in UTF-8`);
  // U+FDFA is one character of 3 bytes that NFKC spells as 18 characters.
  assertEquals(refusal("\ufdfa".repeat(4)), `longer than ${MAX_NAME_BYTES} bytes once folded (NFKC)`);
  // Latin with a Cyrillic "а", and Greek with Latin.
  assertEquals(refusal("p\u0430ypal"), "it mixes scripts (Latin, Cyrillic); use one");
  assertEquals(refusal("Ωmega"), "it mixes scripts (Greek, Latin); use one");
  // The combinations a language writes with are one name.
  for (const name of ["東京tokyo", "ひらがなカタカナ漢字", "한국漢字", "ㄅㄆ漢字", "x2", "Дима_2"]) {
    assertEquals(parseName(name), { name }, name);
  }
  assertEquals(refusal("한글ひらがな"), "it mixes scripts (Hangul, Hiragana); use one");
});

Deno.test("names that differ only by case, NFKC or confusable letters have one key", () => {
  const same: string[][] = [
    ["bob", "Bob", "BOB", "ｂｏｂ", "b0b", "bоb" /* Cyrillic о */],
    ["ape", "аре" /* all Cyrillic */],
    ["paul", "PAUL", "pauI", "pau1", "pauі" /* Cyrillic і */],
    ["Ali", "ALI", "All", "A11"],
    ["modern", "rnodern"],
    ["kappa", "κappa".replace("κ", "k")],
    ["ορυ", /* Greek */ "opu"],
    ["José", "JOSÉ", "Jose\u0301"],
  ];
  for (const group of same) {
    for (const name of group) assertEquals(nameKey(name), nameKey(group[0]), `${name} ~ ${group[0]}`);
  }
  for (const [a, b] of [["bob", "rob"], ["José", "Jose"], ["ann", "anna"], ["李", "季"]]) {
    assert(nameKey(a) !== nameKey(b), `${a} and ${b} are different names`);
  }
});

Deno.test("user<digits>, operator and what passes for them are reserved", () => {
  for (
    const name of [
      "user1",
      "USER1001",
      "user1OO1",
      "userlool",
      "Operator",
      "ОPERATOR".toLowerCase(),
      "ｕｓｅｒ7",
    ]
  ) {
    assert(isReserved(name), name);
  }
  for (const name of ["user", "users", "username", "user_1", "operators", "op"]) {
    assert(!isReserved(name), name);
  }
});

Deno.test("every registry refuses a name whose key is taken, and shows each as its holder spelled it", async () => {
  for (
    const registry of [
      new MemoryRegistry(),
      new SharedRegistry(SharedRegistry.create({ maxConns: 16 }).buffers),
    ]
  ) {
    const { names } = registry;
    assert(await names.claim("Bob", 1));
    assert(!await names.claim("b0b", 2), "a confusable spelling is the same name");
    assert(!await names.claim("ｂｏｂ", 2), "a compatibility form is the same name");
    assert(await names.claim("José", 2));
    assert(await names.claim("BOB", 1), "the holder may respell its own name");
    assertEquals(await names.list(), ["BOB", "José"]);
    await names.release("bob", 2);
    assertEquals(await names.count(), 2, "only the holder releases a name");
    await names.release("bob", 1);
    assertEquals(await names.list(), ["José"]);
    assert(await names.claim("b0b", 3));
  }
});
