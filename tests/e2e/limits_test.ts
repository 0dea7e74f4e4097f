import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { delay } from "../../lib/util/delay.ts";
import { startServer, TestClient } from "../../scripts/support/harness.ts";

Deno.test("--max-conns refuses the connection beyond it; a freed slot is usable at once", async () => {
  await using server = await startServer(["--mode", "echo", "--max-conns", "3"]);
  await using a = await TestClient.connect(server.port);
  await using b = await TestClient.connect(server.port);
  await using c = await TestClient.connect(server.port);
  await c.send("three");
  assertEquals(await c.lines.next(), "three");
  {
    await using refused = await TestClient.connect(server.port);
    assertEquals(await refused.lines.rest(), ["ERR server full (max 3 connections)"]);
  }
  await server.stderr.waitFor(/warn: refused 127\.0\.0\.1:\d+: server full/);
  for (const client of [a, b]) {
    await client.send("unaffected");
    assertEquals(await client.lines.next(), "unaffected");
  }
  await a[Symbol.asyncDispose]();
  await server.stderr.waitFor(/#1 disconnected/);
  await using d = await TestClient.connect(server.port);
  await d.send("in the freed slot");
  assertEquals(await d.lines.next(), "in the freed slot");
});

Deno.test("--max-conns-per-ip refuses one address's extra connection", async () => {
  await using server = await startServer(["--mode", "echo", "--max-conns-per-ip", "2"]);
  await using a = await TestClient.connect(server.port);
  await using b = await TestClient.connect(server.port);
  {
    await using refused = await TestClient.connect(server.port);
    assertEquals(await refused.lines.rest(), ["ERR too many connections from 127.0.0.1 (max 2)"]);
  }
  await b[Symbol.asyncDispose]();
  await server.stderr.waitFor(/#2 disconnected/);
  await using c = await TestClient.connect(server.port);
  await c.send("counted per address");
  assertEquals(await c.lines.next(), "counted per address");
  await a.send("still here");
  assertEquals(await a.lines.next(), "still here");
});

Deno.test("--idle-timeout closes a silent client and spares a talking one", async () => {
  await using server = await startServer(["--mode", "echo", "--idle-timeout", "0.6"]);
  await using silent = await TestClient.connect(server.port);
  const connected = Date.now();
  let closedAfter = Infinity;
  const ended = silent.lines.rest().then((rest) => {
    closedAfter = Date.now() - connected;
    return rest;
  });
  await using talker = await TestClient.connect(server.port);
  const started = Date.now();
  for (let i = 0; Date.now() - started < 2500; i++) {
    await talker.send(`still talking ${i}`);
    assertEquals(await talker.lines.next(), `still talking ${i}`);
    // Pacing is the point: a line every 100 ms keeps the talker inside the 0.6 s idle timeout.
    await delay(100);
  }
  assertEquals(await ended, ["ERR idle timeout"]);
  // Closed at the timeout (checked every 60 ms), not before and not much after: while the talker
  // still talks, and long before ten timeouts.
  assert.ok(closedAfter >= 550 && closedAfter < 1500, `closed ${closedAfter} ms after it connected`);
  assertMatch(await server.stderr.waitFor(/#1 disconnected/), /warn: #1 disconnected: idle timeout/);
});

Deno.test("--line-timeout closes a client that trickles a line (slowloris)", async () => {
  await using server = await startServer(["--mode", "echo", "--line-timeout", "0.5"]);
  await using slow = await TestClient.connect(server.port);
  await slow.send("complete lines are fine");
  assertEquals(await slow.lines.next(), "complete lines are fine");
  let closed = false;
  let closedAfter = Infinity;
  const begun = Date.now();
  const ended = slow.lines.rest().then((rest) => {
    closed = true;
    closedAfter = Date.now() - begun;
    return rest;
  });
  let trickled = 0;
  for (let i = 0; i < 30 && !closed; i++) {
    await slow.write("x").catch(() => {/* the server closed on us: that is the point */});
    trickled++;
    // Pacing is the point: a byte every 100 ms is a line that never ends (slowloris).
    await delay(100);
  }
  assertEquals(await ended, ["ERR line timeout"]);
  // Closed at the timeout (checked every 50 ms) while the trickle was still going on, not after it.
  assert.ok(closedAfter >= 450 && closedAfter < 1400, `closed ${closedAfter} ms after the line began`);
  assert.ok(trickled < 30, "the trickle ran out before the server closed the connection");
});
