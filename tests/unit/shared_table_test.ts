/**
 * The shared table against a plain Map (random operations on colliding keys, so probe runs and
 * backward-shift deletion are exercised), and under real contention from several Workers.
 */

import fc from "fast-check";
import { assert, assertEquals, throws } from "../support/assert.ts";
import { MAX_KEY_BYTES, SharedTable } from "../../lib/registry/shared_table.ts";

Deno.test("the shared table behaves like a Map of labelled entries", () => {
  const keys = fc.constantFrom("a", "A", "b", "bob", "BOB", "c", "dd", "user1", "User1", "e", "f", "g", "h");
  const value = fc.integer({ min: -3, max: 3 });
  const operation = fc.oneof(
    fc.record({ op: fc.constant("set" as const), key: keys, value }),
    fc.record({ op: fc.constant("delete" as const), key: keys }),
    fc.record({ op: fc.constant("claim" as const), key: keys, value }),
    fc.record({ op: fc.constant("release" as const), key: keys, value }),
  );
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
      // Room for 8 keys means 32 slots: the 10 distinct keys collide often.
      const table = SharedTable.create(8);
      const model = new Map<string, { key: string; value: number }>();
      for (const step of operations) {
        const folded = step.key.toLowerCase();
        const entry = model.get(folded);
        if (step.op === "set") {
          model.set(folded, { key: entry?.key ?? folded, value: step.value });
          assertEquals(table.update(folded, () => step.value), step.value);
        } else if (step.op === "delete") {
          model.delete(folded);
          assertEquals(table.update(folded, () => undefined), undefined);
        } else if (step.op === "claim") {
          const wins = entry === undefined || entry.value === step.value;
          if (wins) model.set(folded, { key: step.key, value: step.value });
          assertEquals(table.claim(folded, step.value, step.key), wins);
        } else {
          if (entry?.value === step.value) model.delete(folded);
          table.release(folded, step.value);
        }
        for (const probe of ["a", "b", "bob", "c", "dd", "user1", "e", "f", "g", "h"]) {
          assertEquals(table.get(probe), model.get(probe)?.value);
        }
        assertEquals(table.size, model.size);
        assertEquals(
          table.entries().sort(),
          [...model.values()].map(({ key, value }): [string, number] => [key, value]).sort(),
        );
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("the shared table refuses bad keys and says when it is full", () => {
  const table = SharedTable.create(2);
  throws(() => table.get(""), RangeError);
  throws(() => table.get("x".repeat(MAX_KEY_BYTES + 1)), RangeError);
  throws(() => table.claim("x", 1, ""), RangeError);
  throws(() => table.claim("x", 1, "é".repeat(MAX_KEY_BYTES / 2 + 1)), RangeError);
  assertEquals(table.size, 0, "a refused label adds no entry");
  assertEquals(table.update("x".repeat(MAX_KEY_BYTES), () => 1), 1);
  for (let i = 0; i < 6; i++) table.update(`k${i}`, () => i);
  throws(() => table.update("one too many", () => 1), RangeError);
  assertEquals(table.size, 7);
});

Deno.test("workers updating one shared table never lose an update, nor share a claim", async () => {
  const table = SharedTable.create(16);
  const workers = 4;
  const rounds = 5000;
  const barrier = new SharedArrayBuffer(4);
  const url = new URL("../support/shared_table_worker.ts", import.meta.url);
  const ready: Promise<void>[] = [];
  const done = Array.from({ length: workers }, (_, index) => {
    const worker = new Worker(url, { type: "module" });
    const isReady = Promise.withResolvers<void>();
    ready.push(isReady.promise);
    return new Promise<{ won: number; lost: number }>((resolve, reject) => {
      worker.onmessage = (event) => {
        if (event.data.ready) return isReady.resolve();
        worker.terminate();
        resolve(event.data);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        reject(new Error(event.message));
      };
      worker.postMessage({ buffer: table.buffer, barrier, index, rounds });
    });
  });
  await Promise.all(ready);
  Atomics.store(new Int32Array(barrier), 0, 1);
  Atomics.notify(new Int32Array(barrier), 0);
  const results = await Promise.all(done);
  assertEquals(table.get("counter"), workers * rounds, "no increment was lost");
  for (const { won, lost } of results) assertEquals(won + lost, rounds);
  // Every worker checked, while holding the name, that nobody else held it; the claims that lost
  // show that the workers really did contend for it.
  const lost = results.reduce((sum, r) => sum + r.lost, 0);
  assert.ok(lost > 0, "the workers never contended for the name: the test proved nothing");
  assert.ok(table.get("name") === undefined, "every holder released the name");
  assertEquals(table.size, 1);
});
