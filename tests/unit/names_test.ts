/**
 * Chat names: which are allowed, which are refused and why, and which count as the same name.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { isReserved, MAX_NAME_BYTES, nameKey, parseName } from "../../lib/protocol/names.ts";
import { MemoryRegistry } from "../../lib/registry/memory.ts";
import { SharedRegistry } from "../../lib/registry/shared.ts";

/** The names `names` lists, in its order. */
async function listed(
  names: { list(): { name: string }[] | Promise<{ name: string }[]> },
): Promise<string[]> {
  return (await names.list()).map(({ name }) => name);
}

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
  for (const name of ["user", "users", "username", "user_1", "operators", "op", "cooperator", "superuser1"]) {
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
    assertEquals(await listed(names), ["BOB", "José"]);
    await names.release("bob", 2);
    assertEquals(await names.count(), 2, "only the holder releases a name");
    await names.release("bob", 1);
    assertEquals(await listed(names), ["José"]);
    assert(await names.claim("b0b", 3));
  }
});

Deno.test("each lookalike letter folds to the Latin letter it passes for", () => {
  const pairs: [string, string][] = [
    ["а", "a"],
    ["е", "e"],
    ["һ", "h"],
    ["і", "l"],
    ["ј", "j"],
    ["к", "k"],
    ["ӏ", "l"],
    ["о", "o"],
    ["р", "p"],
    ["ԛ", "q"],
    ["ѕ", "s"],
    ["с", "c"],
    ["ԁ", "d"],
    ["у", "y"],
    ["ү", "y"],
    ["ԝ", "w"],
    ["х", "x"],
    ["α", "a"],
    ["ι", "l"],
    ["κ", "k"],
    ["ν", "v"],
    ["ο", "o"],
    ["ρ", "p"],
    ["υ", "u"],
    ["χ", "x"],
    ["0", "o"],
    ["1", "l"],
    ["i", "l"],
    ["ı", "l"],
    ["I", "l"],
  ];
  for (const [lookalike, latin] of pairs) {
    assertEquals(
      nameKey(`z${lookalike}z`),
      nameKey(`z${latin}z`),
      `${lookalike} (U+${lookalike.codePointAt(0)!.toString(16)})`,
    );
  }
  // Letters that merely resemble one another in some fonts stay apart.
  for (const [a, b] of [["в", "b"], ["н", "h"], ["т", "t"], ["m", "n"], ["ε", "e"]]) {
    assert(nameKey(`z${a}z`) !== nameKey(`z${b}z`), `${a} and ${b}`);
  }
});

Deno.test("the script a letter comes from is named when two are mixed, 'other' beyond the recommended ones", () => {
  const samples: [string, string][] = [
    ["Greek", "λ"],
    ["Cyrillic", "д"],
    ["Armenian", "ա"],
    ["Hebrew", "א"],
    ["Arabic", "ب"],
    ["Thaana", "ދ"],
    ["Devanagari", "क"],
    ["Bengali", "ক"],
    ["Gurmukhi", "ਕ"],
    ["Gujarati", "ક"],
    ["Oriya", "କ"],
    ["Tamil", "க"],
    ["Telugu", "క"],
    ["Kannada", "ಕ"],
    ["Malayalam", "ക"],
    ["Sinhala", "ක"],
    ["Thai", "ก"],
    ["Lao", "ກ"],
    ["Tibetan", "ཀ"],
    ["Myanmar", "က"],
    ["Georgian", "ა"],
    ["Ethiopic", "ሀ"],
    ["Khmer", "ក"],
    ["Cherokee", "Ꭰ"],
    ["Runic", "ᚠ"],
  ];
  for (const [script, letter] of samples) {
    const named = script === "Cherokee" || script === "Runic" ? "other" : script;
    assertEquals(parseName(letter + letter), { name: letter + letter }, `${script} alone`);
    assertEquals(refusal(`x${letter}`), `it mixes scripts (Latin, ${named}); use one`, script);
  }
  // Each combination a language writes with, and what falls outside it.
  for (const name of ["x漢ひカ", "x漢ㄅ", "x漢한"]) assertEquals(parseName(name), { name }, name);
  for (
    const [name, scripts] of [["ㄅカ", "Bopomofo, Katakana"], ["한カ", "Hangul, Katakana"], [
      "ㄅ한",
      "Bopomofo, Hangul",
    ]]
  ) {
    assertEquals(refusal(name), `it mixes scripts (${scripts}); use one`, name);
  }
});

Deno.test("the limits are exact: 32 characters and 64 bytes, as written and as folded", () => {
  assertEquals(parseName("é".repeat(32)), { name: "é".repeat(32) }, "32 characters in 64 bytes");
  assertEquals(refusal("é".repeat(31) + "李"), `longer than ${MAX_NAME_BYTES} bytes in UTF-8`);
  // U+FB01 (the ligature fi) is 3 bytes that NFKC spells as 2: 21 of them are 63 bytes, folded 42.
  assertEquals(parseName("\ufb01".repeat(21)), { name: "\ufb01".repeat(21) });
  // U+FDF2 (an Arabic ligature, a letter) is 3 bytes that NFKC spells as 4 letters of 2 bytes: 7 of
  // them and 3 more letters fold to 62 bytes, so two digits make 64 and three make 65.
  const folded = "\ufdf2".repeat(7) + "ببب";
  assertEquals(parseName(`${folded}11`), { name: `${folded}11` });
  assertEquals(refusal(`${folded}111`), `longer than ${MAX_NAME_BYTES} bytes once folded (NFKC)`);
  assertEquals(refusal(""), "use 1-32 letters, digits, - or _ (any one script)");
});
