/**
 * The assertions the tests use, on top of `node:assert/strict` (JSR's @std/assert is out of reach).
 */

import assert from "node:assert/strict";

export { assert };

/** Deep, strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

/** Asserts that `fn` throws an instance of `type`; returns the error. */
export function throws<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new assert.AssertionError({ message: `expected ${type.name}, got ${String(error)}` });
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, nothing was thrown` });
}

/** Asserts that `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp): void {
  assert.match(text, pattern);
}
