/**
 * The assertions the tests use, on top of `node:assert/strict` (JSR's @std/assert is out of reach).
 */

import assert from "node:assert/strict";
import { delay } from "../../lib/util/delay.ts";

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
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  assert.match(text, pattern, message);
}

/**
 * Waits until `condition()` holds, checking after each turn of the event loop; fails after
 * `timeoutMs` naming `what`. For in-process tests whose events are microtasks and timers.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new assert.AssertionError({ message: `timed out waiting for ${what}` });
    await delay(0);
  }
}

/**
 * Waits until `count()` stops changing for `quietMs`: a writer stalled by back-pressure, say. Here
 * the quiet period is the event observed, so it is the one wait that is a pause on purpose.
 */
export async function waitUntilSteady(count: () => number, quietMs = 300): Promise<number> {
  let last = -1;
  while (count() !== last) {
    last = count();
    await delay(quietMs);
  }
  return last;
}
