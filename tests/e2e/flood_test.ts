/**
 * Flood control in chat (`--rate`): a pasted block goes through whole, paced by the rate, while
 * everyone else's round trips stay quick; one that stays over the rate past `--rate-kick` is closed
 * with a reason.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { startServer, TestClient } from "../../scripts/support/harness.ts";

Deno.test("a client pasting 1000 lines gets every one through, in order, paced by --rate; others are undisturbed", async () => {
  await using server = await startServer(["--mode", "chat", "--rate", "200:50", "--quiet"]);
  await using paster = await TestClient.connect(server.port);
  await paster.lines.waitFor(/^\* welcome/);
  await using reader = await TestClient.connect(server.port);
  await reader.lines.waitFor(/^\* welcome/);
  await using other = await TestClient.connect(server.port);
  await other.lines.waitFor(/^\* welcome/);
  const lines = Array.from({ length: 1000 }, (_, i) => `pasted line ${i}`);
  const started = performance.now();
  await paster.send(...lines);
  // Meanwhile another client's commands are answered at once.
  const roundTrips: number[] = [];
  for (let i = 0; i < 10; i++) {
    const sent = performance.now();
    await other.send("/who");
    await other.lines.waitFor(/^\* online: /);
    roundTrips.push(performance.now() - sent);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const heard: string[] = [];
  while (heard.length < 1000) {
    const line = await reader.lines.next();
    if (line.startsWith("<user1> ")) heard.push(line.slice("<user1> ".length));
  }
  const took = performance.now() - started;
  assertEquals(heard, lines, "every line, once, in order");
  // 50 at once, then 200 a second: 4.75 s at least.
  assert(took >= 4500, `paced: ${took.toFixed(0)} ms`);
  assert(took < 9000, `not slower than the rate: ${took.toFixed(0)} ms`);
  await paster.lines.waitFor(/^\* slow down: 200 lines a second at most$/);
  assert(
    Math.max(...roundTrips) < 250,
    `round trips during the flood: ${roundTrips.map((t) => t.toFixed(0))}`,
  );
  await server.stderr.waitFor(/#1 sends faster than --rate/);
});

Deno.test("a client over --rate for longer than --rate-kick is closed with the reason", async () => {
  await using server = await startServer(["--mode", "chat", "--rate", "20:5", "--rate-kick", "1"]);
  await using flooder = await TestClient.connect(server.port);
  await flooder.lines.waitFor(/^\* welcome/);
  await using other = await TestClient.connect(server.port);
  await other.lines.waitFor(/^\* welcome/);
  const started = performance.now();
  await flooder.send(...Array.from({ length: 200 }, (_, i) => `flood ${i}`));
  await flooder.lines.waitFor(/^\* slow down: 20 lines a second at most$/);
  await flooder.lines.waitFor(/^ERR over the rate for 1 s \(at most 20 lines a second\)$/);
  assertEquals(await flooder.lines.rest(), []);
  const took = performance.now() - started;
  assert(took > 800 && took < 3000, `closed after about a second: ${took.toFixed(0)} ms`);
  await other.lines.waitFor(/^\* user1 left$/);
  await server.stderr.waitFor(/#1 disconnected: over the rate/);
});

Deno.test("a shutdown does not wait for lines held by --rate", async () => {
  // One line every 5 s: the second and third would hold the connection for 10 s.
  await using server = await startServer(["--mode", "chat", "--rate", "0.2:1"]);
  await using flooder = await TestClient.connect(server.port);
  await flooder.lines.waitFor(/^\* welcome/);
  await flooder.send("one", "two", "three");
  await flooder.lines.waitFor(/^\* slow down: 0.2 lines a second at most$/);
  const started = performance.now();
  assertEquals((await server.stop("SIGTERM")).code, 0);
  const took = performance.now() - started;
  assert(took < 2000, `shut down in ${took.toFixed(0)} ms`);
  assertEquals(await flooder.lines.waitFor(/^\* server shutting down$/), "* server shutting down");
});
