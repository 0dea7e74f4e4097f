/**
 * The output queue against a writer that takes a few bytes at a time and waits to be told to go
 * on: every byte leaves once, in order, with one writer at a time, and lines queued meanwhile are
 * coalesced into the next write.
 */

import { assert, assertEquals, waitUntil } from "../support/assert.ts";
import { BufferPool, OutputQueue } from "../../lib/server/output_queue.ts";
import { FakeStream } from "../support/fake_stream.ts";

Deno.test("partial writes: every byte is written once, in order", async () => {
  const writer = new FakeStream({ maxWrite: 3 });
  const queue = new OutputQueue(writer, new BufferPool(), {
    writeFailed(error) {
      throw error;
    },
  });
  queue.push("hello");
  queue.push(new TextEncoder().encode("wörld"));
  assertEquals(queue.bytes, 6 + 7);
  await queue.drained;
  assertEquals(writer.written, "hello\nwörld\n");
  assert(writer.writes.every((chunk) => chunk.length <= 3), "the writer never took more than 3 bytes");
  assertEquals(queue.bytes, 0);
  assertEquals(queue.busy, false);
});

Deno.test("lines pushed in one job leave in one write, one microtask later", async () => {
  const writer = new FakeStream();
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  for (let i = 0; i < 100; i++) queue.push(`line ${i}`);
  assertEquals(writer.writeCalls, 0, "push() never writes");
  await queue.drained;
  assertEquals(writer.writeCalls, 1);
  assertEquals(writer.written.split("\n").length, 101);
});

Deno.test("slow writes: one write at a time; what is queued meanwhile goes out together next", async () => {
  const writer = new FakeStream({ slow: true });
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  queue.push("first");
  await waitUntil(() => writer.waitingWrites === 1, "the first write");
  for (let i = 0; i < 50; i++) queue.push(`later ${i}`);
  assertEquals(writer.writeCalls, 1, "no second writer while the first write is pending");
  assertEquals(queue.bytes, 6 + 50 * 8 + 40, "queued bytes count those in flight");
  writer.release();
  await waitUntil(() => writer.waitingWrites === 1, "the second write");
  assertEquals(writer.writeCalls, 2);
  writer.release();
  await queue.drained;
  assertEquals(
    writer.written,
    ["first", ...Array.from({ length: 50 }, (_, i) => `later ${i}`)].join("\n") + "\n",
  );
});

Deno.test("slow partial writes of a large burst keep the order of every line", async () => {
  const writer = new FakeStream({ slow: true, maxWrite: 1000 });
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  const lines = Array.from({ length: 2000 }, (_, i) => `${i} ${"x".repeat(i % 50)}`);
  let next = 0;
  // Lines keep arriving while writes are pending, a few per released write.
  while (next < lines.length || queue.busy) {
    for (let i = 0; i < 7 && next < lines.length; i++) queue.push(lines[next++]);
    await waitUntil(() => writer.waitingWrites > 0 || !queue.busy, "a pending write or the end");
    writer.release();
  }
  assertEquals(writer.written, lines.join("\n") + "\n");
  assert(writer.writeCalls < lines.length / 2, `${writer.writeCalls} writes: lines were coalesced`);
});

Deno.test("a failed write is reported once, and the queue then drops what it is given", async () => {
  const writer = new FakeStream();
  const errors: unknown[] = [];
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed: (error) => errors.push(error) });
  writer.failWrites(new Deno.errors.BrokenPipe("gone"));
  queue.push("lost");
  await queue.drained;
  queue.push("also lost");
  await queue.drained;
  assertEquals(errors.length, 1);
  assert(errors[0] instanceof Deno.errors.BrokenPipe);
  assertEquals(queue.bytes, 0);
});

Deno.test("discard() forgets what is queued, not what is being written", async () => {
  const writer = new FakeStream({ slow: true });
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  queue.push("in flight");
  await waitUntil(() => writer.waitingWrites === 1, "the write");
  queue.push("queued");
  queue.discard();
  assertEquals(queue.bytes, 10);
  writer.release();
  await queue.drained;
  assertEquals(writer.written, "in flight\n");
});

/** Whether `promise` has settled once the microtasks and a timer turn queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("the pool lends 2 KiB buffers and keeps at most its limit of idle ones; big ones are not kept", () => {
  const pool = new BufferPool(2);
  const [a, b, c] = [pool.take(1), pool.take(2048), pool.take(0)];
  for (const buffer of [a, b, c]) assertEquals(buffer.length, 2048);
  const big = pool.take(2049);
  assertEquals(big.length, 2049, "a buffer of its own, the size asked");
  pool.give(big);
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assertEquals([pool.take(10), pool.take(10)].sort((x, y) => (x === a ? -1 : y === a ? 1 : 0)), [a, b]);
  const fresh = pool.take(10);
  assert(fresh !== a && fresh !== b && fresh !== c && fresh !== big, "c and the big one were not kept");
  assert(pool.take(2049) !== big);
  // The default limit is 256.
  const roomy = new BufferPool();
  const lent = Array.from({ length: 300 }, () => roomy.take(1));
  for (const buffer of lent) roomy.give(buffer);
  const back = new Set(Array.from({ length: 300 }, () => roomy.take(1)));
  assertEquals(lent.filter((buffer) => back.has(buffer)).length, 256);
});

Deno.test("a queue returns its buffer to the pool once empty, and grows past 2 KiB when a line needs it", async () => {
  const pool = new BufferPool(4);
  const writer = new FakeStream();
  const queue = new OutputQueue(writer, pool, { writeFailed() {} });
  queue.push("a".repeat(3000));
  queue.push("é".repeat(1000));
  assertEquals(queue.bytes, 3001 + 2001);
  await queue.drained;
  assertEquals(writer.written, "a".repeat(3000) + "\n" + "é".repeat(1000) + "\n");
  const small = new OutputQueue(writer, pool, { writeFailed() {} });
  for (let i = 0; i < 200; i++) small.push(`line ${i} of a burst that outgrows one pooled buffer`);
  await small.drained;
  assertEquals(writer.written.split("\n").filter((line) => line.startsWith("line ")).length, 200);
});

Deno.test("below(): resolves at once under the limit or when idle; else once a write brings it below", async () => {
  const writer = new FakeStream({ slow: true });
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  assert(await settled(queue.below(0)), "nothing is being written: nobody waits");
  queue.push("0123456789"); // 11 bytes, written in one go
  assert(await settled(queue.below(12)), "11 < 12");
  await waitUntil(() => writer.waitingWrites === 1, "the first write");
  queue.push("x".repeat(19)); // 20 more bytes, queued behind it: 31 in all
  const at31 = queue.below(31);
  const at21 = queue.below(21);
  const at20 = queue.below(20);
  assert(!await settled(at31), "31 bytes are not fewer than 31");
  writer.release(); // the first 11 out, 20 left
  await waitUntil(() => writer.waitingWrites === 1, "the second write");
  assertEquals(queue.bytes, 20);
  assert(await settled(at31));
  assert(await settled(at21));
  assert(!await settled(at20), "20 bytes are not fewer than 20");
  writer.release();
  await queue.drained;
  assert(await settled(at20), "and the queue is empty");
});

Deno.test("waiters are let go when writing fails, and the queue then takes nothing", async () => {
  const writer = new FakeStream({ slow: true });
  let failures = 0;
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed: () => failures++ });
  queue.push("x".repeat(100));
  const waiting = queue.below(10);
  await waitUntil(() => writer.waitingWrites === 1, "the write");
  writer.failWrites(new Error("gone"));
  writer.release();
  await queue.drained;
  assert(await settled(waiting));
  assertEquals([failures, queue.bytes, queue.busy], [1, 0, false]);
  queue.push("after");
  assertEquals([queue.bytes, queue.busy], [0, false]);
});

Deno.test("flush() waits at most its time for what is queued, and says how much is left", async () => {
  assertEquals(
    await new OutputQueue(new FakeStream(), new BufferPool(), { writeFailed() {} }).flush(1000),
    0,
  );
  const writer = new FakeStream({ slow: true });
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  queue.push("stuck");
  const started = performance.now();
  assertEquals(await queue.flush(50), 6);
  const waited = performance.now() - started;
  assert(waited >= 45 && waited < 1000, `waited ${waited} ms`);
  const flushing = queue.flush(5000);
  writer.release();
  assertEquals(await flushing, 0);
});

Deno.test("progress: writes counts writes that took bytes; writing says whether bytes are in flight", async () => {
  const writer = new FakeStream({ slow: true, maxWrite: 2 });
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  assertEquals([queue.writes, queue.writing], [0, false]);
  queue.push("abc"); // 4 bytes: two writes of 2
  await waitUntil(() => writer.waitingWrites === 1, "the first write");
  assertEquals(queue.writing, true);
  writer.release();
  await waitUntil(() => writer.waitingWrites === 1, "the second write");
  assertEquals(queue.writes, 1);
  writer.release();
  await queue.drained;
  assertEquals([queue.writes, queue.writing], [2, false]);
  assertEquals(queue.written, 4, "bytes written, counted across partial writes");
});

Deno.test("a line that exactly fills what is left of the buffer keeps every byte, text or bytes", async () => {
  for (const kind of ["text", "bytes"] as const) {
    const writer = new FakeStream({ slow: true });
    const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
    queue.push("x"); // in flight: the queue's buffer is empty again
    await waitUntil(() => writer.waitingWrites === 1, "the first write");
    // 2048 bytes in one pooled buffer: 1748 + 1 as bytes (reserved exactly), leaving 299: as
    // many as 100 three-byte characters need but for the newline, or 299 bytes and no newline.
    queue.push(new TextEncoder().encode("a".repeat(1748)));
    const last = kind === "text" ? "€".repeat(100) : "b".repeat(299);
    queue.push(kind === "text" ? last : new TextEncoder().encode(last));
    writer.release();
    await waitUntil(() => writer.waitingWrites === 1, "the second write");
    writer.release();
    await queue.drained;
    assertEquals(writer.written, `x\n${"a".repeat(1748)}\n${last}\n`, kind);
  }
});

Deno.test("below(0) while writing resolves once everything is written", async () => {
  const writer = new FakeStream({ slow: true });
  const queue = new OutputQueue(writer, new BufferPool(), { writeFailed() {} });
  queue.push("x");
  const empty = queue.below(0);
  await waitUntil(() => writer.waitingWrites === 1, "the write");
  assert(!await settled(empty));
  writer.release();
  await queue.drained;
  assert(await settled(empty));
});

Deno.test("the pool lends back a buffer it was given before making a new one, for any size up to 2 KiB", () => {
  const pool = new BufferPool();
  const buffer = pool.take(1);
  pool.give(buffer);
  assert(pool.take(2048) === buffer);
});
