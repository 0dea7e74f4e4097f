/**
 * Chat names: which names a client may take, and when two names are the same name.
 *
 * A name is 1-32 letters, digits, `-` or `_`, of any script, at most 64 bytes in UTF-8. It is
 * normalised to NFC, so that `é` typed as one code point or as `e` and a combining accent is one
 * name. Its letters come from one script, or from one of the combinations a language writes with
 * (Japanese: Han, Hiragana, Katakana; Chinese: Han, Bopomofo; Korean: Han, Hangul; each with
 * Latin), the "highly restrictive" level of Unicode's UTS #39: `pаypal` with a Cyrillic `а` is
 * refused.
 *
 * Two names are the same name when their keys are equal. The key folds what a reader cannot tell
 * apart: compatibility forms (NFKC: `ｂｏｂ` is `bob`), case (`Bob` is `bob`), and the confusable
 * letters and digits that pass for Latin ones (Cyrillic `о` and Greek `ο` for `o`, `0` for `o`,
 * `rn` for `m`). A whole-script spoof such as Cyrillic `аре` for `ape` thus finds the name taken.
 * One key has to be both case-blind and confusable-blind: `I` is `i` by case and `l` by looks, so
 * `i`, `l`, `1` and their lookalikes are all one letter in a key (`Ali` and `All` are one name).
 * The fold is a small table, not all of UTS #39's confusables: it covers the letters that look
 * the same in the usual fonts of a terminal and a browser.
 */

/** Longest name, in characters (code points) and in bytes of UTF-8. */
export const MAX_NAME_CHARS = 32;
export const MAX_NAME_BYTES = 64;

/** What a name may be made of, for `/help` and for an `ERR` that refuses one. */
export const NAME_RULE = `1-${MAX_NAME_CHARS} letters, digits, - or _ (any one script)`;

const encoder = new TextEncoder();

/** The characters a name may have. */
const NAME_CHARS = /^[\p{L}\p{M}\p{N}_-]+$/u;
/** Characters that belong to no one script (digits 0-9, `_`, `-`, combining marks). */
const NO_SCRIPT = /[\p{Script=Common}\p{Script=Inherited}]/u;

/**
 * The scripts UAX #31 recommends for identifiers, each with a test for its characters. A letter of
 * any other script counts as "other": it may make a name, but not beside one of these.
 */
const SCRIPTS: [string, RegExp][] = [
  "Latin",
  "Greek",
  "Cyrillic",
  "Armenian",
  "Hebrew",
  "Arabic",
  "Thaana",
  "Devanagari",
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala",
  "Thai",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Georgian",
  "Hangul",
  "Ethiopic",
  "Khmer",
  "Hiragana",
  "Katakana",
  "Bopomofo",
  "Han",
].map((script) => [script, new RegExp(`\\p{Script=${script}}`, "u")]);

/** Scripts one name may mix: a language written with several. */
const COMBINATIONS = [
  new Set(["Latin", "Han", "Hiragana", "Katakana"]),
  new Set(["Latin", "Han", "Bopomofo"]),
  new Set(["Latin", "Han", "Hangul"]),
];

/** Letters that pass for others, after NFKC and lower-casing: each maps to the Latin letter it looks like. */
const CONFUSABLES: Record<string, string> = {
  // Cyrillic
  "а": "a",
  "е": "e",
  "һ": "h",
  "і": "l",
  "ј": "j",
  "к": "k",
  "ӏ": "l",
  "о": "o",
  "р": "p",
  "ԛ": "q",
  "ѕ": "s",
  "с": "c",
  "ԁ": "d",
  "у": "y",
  "ү": "y",
  "ԝ": "w",
  "х": "x",
  // Greek
  "α": "a",
  "ι": "l",
  "κ": "k",
  "ν": "v",
  "ο": "o",
  "ρ": "p",
  "υ": "u",
  "χ": "x",
  // Latin letters and digits that pass for each other
  "0": "o",
  "1": "l",
  "i": "l",
  "ı": "l",
};
const CONFUSABLE = new RegExp(`[${Object.keys(CONFUSABLES).join("")}]`, "gu");

/** A name refused, with the reason to give its sender. */
export interface NameError {
  error: string;
}

/** Counts the code points of `text`. */
function chars(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** The script of each letter of `name`, in the order they first appear. */
function scriptsOf(name: string): string[] {
  const scripts = new Set<string>();
  for (const char of name) {
    if (NO_SCRIPT.test(char)) continue;
    scripts.add(SCRIPTS.find(([, test]) => test.test(char))?.[0] ?? "other");
  }
  return [...scripts];
}

/**
 * The key of `name`: equal for two names a reader could take for each other, and the name's
 * identity in every registry. Defined for any text; {@linkcode parseName} makes sure a name's key
 * is short enough to store.
 */
export function nameKey(name: string): string {
  return name.normalize("NFKC").toLowerCase().normalize("NFKC")
    .replace(CONFUSABLE, (char) => CONFUSABLES[char])
    .replaceAll("rn", "m");
}

/** `user<digits>`, the names the server gives, and `operator`, are reserved. */
const RESERVED_KEY = /^(?:user[\dol]+|operator)$/;

/** Whether `name` is one of the server's (`user<digits>`, `operator`) or could pass for one. */
export function isReserved(name: string): boolean {
  return RESERVED_KEY.test(nameKey(name));
}

/**
 * `text` as a name (in NFC), or why it cannot be one. Does not say whether the name is reserved
 * ({@linkcode isReserved}) or taken (the registry's to say).
 */
export function parseName(text: string): { name: string } | NameError {
  const name = text.normalize("NFC");
  const length = chars(name);
  if (length === 0 || !NAME_CHARS.test(name)) return { error: `use ${NAME_RULE}` };
  if (length > MAX_NAME_CHARS) return { error: `longer than ${MAX_NAME_CHARS} characters` };
  if (encoder.encode(name).length > MAX_NAME_BYTES) {
    return { error: `longer than ${MAX_NAME_BYTES} bytes in UTF-8` };
  }
  if (encoder.encode(nameKey(name)).length > MAX_NAME_BYTES) {
    return { error: `longer than ${MAX_NAME_BYTES} bytes once folded (NFKC)` };
  }
  const scripts = scriptsOf(name);
  if (scripts.length > 1 && !COMBINATIONS.some((allowed) => scripts.every((s) => allowed.has(s)))) {
    return { error: `it mixes scripts (${scripts.join(", ")}); use one` };
  }
  return { name };
}
