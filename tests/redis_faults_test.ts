/**
 * The room under the ways Redis really fails without closing anything: a Redis that stops
 * answering (SIGSTOP, as a paused VM or a long fork does), and a flood that Redis takes more slowly
 * than the room says it. Real servers, a real Redis, real signals.
 */

import { assert, assertEquals, waitUntil } from "./support/assert.ts";
import { closeAll, LINUX } from "./support/harness.ts";
import { floodRoom } from "./support/load.ts";
import { rss } from "./support/measure.ts";
import { chatServer, member, RedisServer, who } from "./support/redis.ts";
import { LINK_BACK, LINK_LOST } from "../lib/server/modes/chat.ts";
import { delay } from "../lib/util/delay.ts";

const FREEZE_MS = 10_000;

Deno.test("a frozen Redis never stalls a room: newcomers, /nick and lines go on, all are told, it heals", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using a = await chatServer(redis);
  await using b = await chatServer(redis);
  const x = await member(a, "x");
  const y = await member(b, "y");
  const z = await member(a, "z");
  const clients = [x.client, y.client, z.client];
  try {
    const heard = (line: string) => x.client.lines.seen.includes(line);
    await waitUntil(() => heard(`* ${y.name} joined`) && heard(`* ${z.name} joined`), "both joins", 5000);
    Deno.kill(redis.pid, "SIGSTOP");
    const frozenAt = performance.now();
    try {
      // Before anyone can tell that Redis stopped answering, nothing local waits on it for long.
      const joining = performance.now();
      const newcomer = await member(a, "newcomer");
      clients.push(newcomer.client);
      const welcomedIn = performance.now() - joining;
      assert(welcomedIn < 1000, `welcomed in ${welcomedIn.toFixed(0)} ms`);
      const renaming = performance.now();
      await x.client.send("/nick frozen");
      await x.client.lines.waitFor("* you are now frozen", 2000);
      const renamedIn = performance.now() - renaming;
      assert(renamedIn < 1500, `/nick answered in ${renamedIn.toFixed(0)} ms`);
      await x.client.send("said while frozen");
      await z.client.lines.waitFor("<frozen> said while frozen", 1000);
      // Everyone is told within 5 s of the freeze.
      for (const client of [x.client, y.client, z.client]) {
        await client.lines.waitFor(LINK_LOST, Math.max(1, 5000 - (performance.now() - frozenAt)));
      }
      const toldIn = performance.now() - frozenAt;
      assert(toldIn < 5000, `told in ${toldIn.toFixed(0)} ms`);
      // Still serving locally, while the freeze lasts.
      const late = await member(b, "late");
      clients.push(late.client);
      await y.client.send("b's room goes on");
      await late.client.lines.waitFor(`<${y.name}> b's room goes on`, 1000);
      await delay(Math.max(0, FREEZE_MS - (performance.now() - frozenAt)));
    } finally {
      Deno.kill(redis.pid, "SIGCONT");
    }
    for (const client of [x.client, y.client, z.client]) await client.lines.waitFor(LINK_BACK, 15_000);
    await x.client.send("after the freeze");
    await y.client.lines.waitFor("<frozen> after the freeze", 5000);
    // Names are reconciled by the next heartbeats: /who is soon the same on both servers.
    const until = performance.now() + 10_000;
    let lists = [await who(x.client), await who(y.client)];
    while (lists[0].join() !== lists[1].join() && performance.now() < until) {
      await delay(500);
      lists = [await who(x.client), await who(y.client)];
    }
    assertEquals(lists[0], lists[1]);
    assert(lists[0].includes("frozen") && lists[0].includes(y.name), lists[0].join());
    for (const client of [x.client, y.client, z.client]) {
      assertEquals(client.lines.seen.filter((line) => line === LINK_LOST).length, 1, "told once");
    }
  } finally {
    await closeAll(clients);
  }
});
