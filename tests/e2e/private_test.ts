/**
 * Private messages (`/msg NAME TEXT`) reach the holder of the name alone, wherever it is served:
 * another worker of the same server, or another server of the room through Redis.
 */

import { assertEquals } from "../support/assert.ts";
import { LINUX, startServer, type TestClient } from "../../scripts/support/harness.ts";
import { chatServer, member, RedisServer } from "../../scripts/support/redis.ts";

/** Renames `client` and waits until it is so. */
async function rename(client: TestClient, name: string): Promise<void> {
  await client.send(`/nick ${name}`);
  await client.lines.waitFor(`* you are now ${name}`);
}

/** Sends a line to everyone from `from` and waits until `to` heard it: what was said before has arrived. */
async function sync(from: TestClient, to: TestClient, mark: string): Promise<void> {
  await from.send(mark);
  await to.lines.waitFor(new RegExp(`> ${mark}$`));
}

Deno.test("across servers through Redis, /msg reaches its recipient alone", { ignore: !LINUX }, async () => {
  await using redis = await RedisServer.start();
  await using a = await chatServer(redis);
  await using b = await chatServer(redis);
  const alice = (await member(a, "alice")).client;
  const bob = (await member(b, "bob")).client;
  const carol = (await member(b, "carol")).client;
  try {
    await rename(alice, "alice");
    await rename(bob, "bob");
    await alice.send("/msg Bob the keys are under the mat");
    assertEquals(
      await alice.lines.waitFor(/^\* private to /),
      "* private to Bob: the keys are under the mat",
    );
    assertEquals(await bob.lines.waitFor(/^\* private /), "* private from alice: the keys are under the mat");
    // Carol, on bob's server, heard nothing of it: the next thing she hears from alice is this.
    await sync(alice, carol, "after");
    assertEquals(carol.lines.seen.filter((line) => line.includes("private")), []);
    await alice.send("/msg nobody hello");
    assertEquals(await alice.lines.waitFor(/^ERR /), "ERR no such name nobody");
  } finally {
    for (const client of [carol, bob, alice]) await client[Symbol.asyncDispose]();
  }
});

Deno.test("across --workers, /msg reaches its recipient alone", { ignore: !LINUX }, async () => {
  await using server = await startServer(["--mode", "chat", "--workers", "2", "--log", "json"]);
  await server.stderr.waitFor(/workers serving/);
  // Enough clients that some land on each worker; every one of them gets a private line.
  const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => member(server, `c${i}`)));
  try {
    const [sender, ...others] = clients.map((c) => c.client);
    for (const [i, client] of others.entries()) await rename(client, `friend${i}`);
    for (const [i] of others.entries()) await sender.send(`/msg friend${i} for you, ${i}`);
    for (const [i, client] of others.entries()) {
      assertEquals(
        await client.lines.waitFor(/^\* private /),
        `* private from ${clients[0].name}: for you, ${i}`,
      );
    }
    await sync(sender, others[0], "done");
    for (const [i, client] of others.entries()) {
      const privates = client.lines.seen.filter((line) => line.startsWith("* private "));
      assertEquals(
        privates,
        [`* private from ${clients[0].name}: for you, ${i}`],
        `friend${i} got its own only`,
      );
    }
  } finally {
    for (const { client } of clients) await client[Symbol.asyncDispose]();
  }
});
