/**
 * `Connection` on its own, over fake streams (so that how bytes arrive and leave is exact) and
 * over a real loopback socket, with modes written for the test.
 */

import { assert, assertEquals, waitUntil } from "../support/assert.ts";
import type { CloseReason } from "../../lib/server/close_reason.ts";
import { Congestion } from "../../lib/server/congestion.ts";
import { Clock } from "../../lib/server/deadlines.ts";
import { Connection, type ConnectionSettings, STALL_MS } from "../../lib/server/connection.ts";
import { BufferPool } from "../../lib/server/output_queue.ts";
import type { Member, Mode } from "../../lib/server/modes/mode.ts";
import { Members } from "../../lib/server/members.ts";
import { FakeStream } from "../support/fake_stream.ts";
import { TestClient } from "../../scripts/support/harness.ts";

const decoder = new TextDecoder();

function settings(overrides: Partial<ConnectionSettings> = {}): ConnectionSettings {
  return {
    transport: "tcp",
    maxLine: 1024,
    maxQueue: 1 << 20,
    drainTimeoutMs: 1000,
    deadlines: { idleMs: 0, lineMs: 0 },
    clock: new Clock(),
    // Every read may go at once: these tests are not about fairness (rounds_test.ts is).
    rounds: { current: 0, after: () => undefined },
    pool: new BufferPool(),
    congestion: new Congestion(),
    ...overrides,
  };
}

/** A mode that hands each line (decoded) to `onLine`. */
function lineMode(onLine: (member: Member, text: string, line: Uint8Array) => void): Mode {
  return { join() {}, line: (member, line) => onLine(member, decoder.decode(line), line), leave() {} };
}

const echo = lineMode((member, _text, line) => member.send(line));

Deno.test("a line split across many reads is joined, and several lines in one read are all served", async () => {
  const stream = new FakeStream();
  const conn = new Connection(stream, { id: 1, settings: settings() });
  const served = conn.serve(echo);
  stream.receive("sp", "li", "t ", "li", "ne\nnext\nand ", "more\n");
  stream.end();
  assertEquals(await served, "client closed");
  assertEquals(stream.written, "split line\nnext\nand more\n");
  assertEquals(conn.linesIn, 3);
});

Deno.test("the replies to the lines of one read leave in one write", async () => {
  const stream = new FakeStream();
  const conn = new Connection(stream, { id: 1, settings: settings() });
  const served = conn.serve(echo);
  stream.receive("a\nb\nc\nd\n");
  await waitUntil(() => stream.written === "a\nb\nc\nd\n", "the four replies");
  assertEquals(stream.writes.length, 1);
  stream.end();
  await served;
});

Deno.test("a connection closed while handling a read still sends that read's replies", async () => {
  const stream = new FakeStream();
  const conn = new Connection(stream, { id: 1, settings: settings() });
  const mode = lineMode((member, text, line) => {
    member.send(line);
    if (text === "bye") member.close("kicked by operator");
  });
  const served = conn.serve(mode);
  stream.receive("a\nb\nbye\nnever read\n");
  assertEquals(await served, "kicked by operator");
  assertEquals(stream.written, "a\nb\nbye\n");
  assertEquals(conn.linesIn, 3, "the line after the close was not handed to the mode");
  assert(stream.closed);
});

Deno.test("a mode step that returns a promise holds the client's next lines until it settles", async () => {
  const stream = new FakeStream();
  const conn = new Connection(stream, { id: 1, settings: settings() });
  const gate = Promise.withResolvers<void>();
  const seen: string[] = [];
  const mode: Mode = {
    join() {},
    line(member, line) {
      const text = decoder.decode(line);
      seen.push(text);
      if (text !== "slow") return void member.send(text);
      return gate.promise.then(() => member.send("slow done"));
    },
    leave() {},
  };
  const served = conn.serve(mode);
  stream.receive("first\nslow\nafter\n");
  await waitUntil(() => seen.length === 2, "the slow line");
  assertEquals(seen, ["first", "slow"], "the line after a pending step waits");
  gate.resolve();
  await waitUntil(() => stream.written === "first\nslow done\nafter\n", "every reply, in order");
  stream.end();
  await served;
});

Deno.test("send copies its bytes: the caller may reuse them at once", async () => {
  await using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = listener.accept().then((tcp) =>
    new Connection(tcp, { id: 1, settings: settings() }).serve(lineMode((member, _text, line) => {
      member.send(line);
      line.fill(0x3f); // the read buffer is reused too; what was sent must not change
    }))
  );
  await using client = await TestClient.connect(listener.addr.port);
  await client.send("first", "second");
  assertEquals(await client.lines.next(), "first");
  assertEquals(await client.lines.next(), "second");
  await client.closeWrite();
  assertEquals(await served, "client closed");
});

Deno.test("an overlong line gets ERR as its last line and closes as a violation", async () => {
  const stream = new FakeStream();
  const conn = new Connection(stream, { id: 1, settings: settings({ maxLine: 5 }) });
  const served = conn.serve(echo);
  stream.receive("ok\n123456\nnever\n");
  assertEquals(await served, "line too long");
  assertEquals(stream.written, "ok\nERR line too long (max 5 bytes)\n");
});

Deno.test("a broken socket closes at once as connection lost, with the error as detail", async () => {
  const stream = new FakeStream();
  const conn = new Connection(stream, { id: 1, settings: settings() });
  stream.failWrites(new Deno.errors.ConnectionReset("reset"));
  const served = conn.serve(echo);
  stream.receive("hello\n");
  assertEquals(await served, "connection lost");
  assertEquals(conn.closeDetail, "connection reset by peer");
});

Deno.test("a queue overflow during a broadcast closes that member after the broadcast, not inside it", async () => {
  // A stuck reader whose queue the line overflows twice over, between two healthy ones.
  const events: string[] = [];
  const room = new Members<Connection>();
  const onClose = (conn: Connection, reason: CloseReason) => {
    events.push(`leave #${conn.id}: ${reason}`);
    room.delete(conn);
    room.broadcast(`* #${conn.id} left`);
  };
  const streams = [new FakeStream(), new FakeStream({ slow: true }), new FakeStream()];
  const conns = streams.map((stream, i) =>
    new Connection(stream, { id: i + 1, settings: settings({ maxQueue: i === 1 ? 4 : 1 << 20, onClose }) })
  );
  for (const conn of conns) room.add(conn);
  const line = "0123456789";
  room.broadcast(line);
  events.push("broadcast done");
  assertEquals(conns.map((conn) => conn.linesOut), [1, 2, 1], "#2 got the line and its ERR");
  await waitUntil(() => events.length === 2, "the leave");
  assertEquals(events, ["broadcast done", "leave #2: output queue full"]);
  await waitUntil(() => streams[2].written === `${line}\n* #2 left\n`, "the line, then the leave");
  assertEquals(streams[0].written, `${line}\n* #2 left\n`);
  for (const [i, conn] of conns.entries()) if (i !== 1) conn.close("server shutting down");
  streams[1].close();
});

Deno.test("a client silent past the idle timeout gets ERR idle timeout and is closed", async () => {
  const stream = new FakeStream();
  const conn = new Connection(stream, {
    id: 1,
    settings: settings({ deadlines: { idleMs: 100, lineMs: 0 } }),
  });
  conn.enforceTimeouts(performance.now() + 90);
  assertEquals(conn.closeReason, null, "not yet idle");
  conn.enforceTimeouts(performance.now() + 150);
  assertEquals(conn.closeReason, "idle timeout");
  await waitUntil(() => stream.closed, "the close");
  assertEquals(stream.written, "ERR idle timeout\n");
});

Deno.test("a client whose socket keeps taking bytes is not dropped however far it falls behind", async () => {
  // Writes complete, a few bytes at a time, slower than lines arrive: behind, but reading.
  const stream = new FakeStream({ slow: true, maxWrite: 64 });
  const congestion = new Congestion();
  const conn = new Connection(stream, { id: 1, settings: settings({ maxQueue: 1000, congestion }) });
  const line = "x".repeat(99);
  for (let i = 0; i < 15; i++) conn.send(line); // 1500 bytes: past maxQueue, under twice it
  assertEquals(conn.closeReason, null);
  assert(congestion.cleared() !== undefined, "the room's senders wait for it");
  while (stream.written.length < 1500) {
    await waitUntil(() => stream.waitingWrites > 0 || stream.written.length === 1500, "a write");
    stream.release();
  }
  assertEquals(stream.written, `${line}\n`.repeat(15));
  await waitUntil(() => congestion.cleared() === undefined, "the room to be let go");
  assertEquals(conn.closeReason, null);
  conn.close("server shutting down");
  await waitUntil(() => stream.closed, "the close");
});

Deno.test(`a client whose socket takes nothing for ${STALL_MS} ms is let go by the room, then dropped`, async () => {
  const stream = new FakeStream({ slow: true });
  const congestion = new Congestion();
  const conn = new Connection(stream, { id: 1, settings: settings({ maxQueue: 1000, congestion }) });
  for (let i = 0; i < 6; i++) conn.send("y".repeat(99)); // 600 bytes: backed up, not over
  await waitUntil(() => stream.waitingWrites === 1, "the first write, which never completes");
  assert(congestion.cleared() !== undefined, "while it might still drain, senders wait");
  await waitUntil(
    () => congestion.cleared() === undefined,
    "the stalled client to stop holding the room",
    3 * STALL_MS,
  );
  assertEquals(conn.closeReason, null, "not dropped while under maxQueue");
  for (let i = 0; i < 5; i++) conn.send("y".repeat(99));
  assertEquals(conn.closeReason, "output queue full");
  stream.close();
});
