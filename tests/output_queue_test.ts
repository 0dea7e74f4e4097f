/**
 * The output queue against a writer that takes a few bytes at a time and waits to be told to go
 * on: every byte leaves once, in order, with one writer at a time, and lines queued meanwhile are
 * coalesced into the next write.
 */

import { assert, assertEquals, waitUntil } from "./support/assert.ts";
import { BufferPool, OutputQueue } from "../lib/server/output_queue.ts";
import { FakeStream } from "./support/fake_stream.ts";

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
