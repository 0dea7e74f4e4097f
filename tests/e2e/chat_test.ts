import { assertEquals, assertMatch } from "../support/assert.ts";
import { closeAll, startServer, TestClient } from "../../scripts/support/harness.ts";

async function join(port: number, label: string): Promise<TestClient> {
  const client = await TestClient.connect(port, { label });
  await client.lines.waitFor(/^\* welcome, user\d+/);
  return client;
}

Deno.test("chat among 10 clients: joins, relays to every other client, leaves", async () => {
  await using server = await startServer(["--mode", "chat"]);
  const clients: TestClient[] = [];
  try {
    for (let i = 1; i <= 10; i++) {
      const client = await join(server.port, `user${i}`);
      for (const other of clients) assertEquals(await other.lines.next(), `* user${i} joined`);
      clients.push(client);
    }
    for (const [i, sender] of clients.entries()) {
      await sender.send(`hello from ${i + 1}`);
      for (const receiver of clients) {
        if (receiver !== sender) {
          assertEquals(await receiver.lines.next(), `<user${i + 1}> hello from ${i + 1}`);
        }
      }
    }
    await sender(clients, 0).send("/who");
    assertEquals(
      await clients[0].lines.next(),
      `* online: ${Array.from({ length: 10 }, (_, i) => `user${i + 1}`).join(", ")}`,
    );
    const leaver = clients.pop()!;
    await leaver[Symbol.asyncDispose]();
    for (const client of clients) assertEquals(await client.lines.next(), "* user10 left");
  } finally {
    await closeAll(clients);
  }
});

function sender(clients: TestClient[], index: number): TestClient {
  return clients[index];
}

Deno.test("chat /nick renames, announces, and rejects taken, reserved and invalid names", async () => {
  await using server = await startServer(["--mode", "chat"]);
  await using alice = await join(server.port, "alice");
  await using bob = await join(server.port, "bob");
  await alice.lines.waitFor("* user2 joined");

  await alice.send("/nick alice");
  assertEquals(await alice.lines.next(), "* you are now alice");
  assertEquals(await bob.lines.next(), "* user1 is now alice");

  await bob.send("/nick ALICE", "/nick user7", "/nick bad name!", `/nick ${"x".repeat(33)}`, "/nick");
  assertEquals(await bob.lines.next(), "ERR name ALICE is taken");
  assertEquals(await bob.lines.next(), "ERR name user7 is reserved");
  assertMatch(await bob.lines.next(), /^ERR invalid name "bad name!"/);
  assertMatch(await bob.lines.next(), /^ERR invalid name "x{33}"/);
  assertMatch(await bob.lines.next(), /^ERR usage: \/nick NAME \(1-32 letters/);

  await bob.send("/nick bob_2-b", "hi alice", "//slash is literal", "/dance");
  assertEquals(await bob.lines.next(), "* you are now bob_2-b");
  assertEquals(await alice.lines.next(), "* user2 is now bob_2-b");
  assertEquals(await alice.lines.next(), "<bob_2-b> hi alice");
  assertEquals(await alice.lines.next(), "<bob_2-b> /slash is literal");
  assertEquals(await bob.lines.next(), "ERR unknown command /dance; try /help");

  await alice.send("/who");
  assertEquals(await alice.lines.next(), "* online: alice, bob_2-b");
});

Deno.test("chat drops a client that stops reading and keeps relaying to the others", async () => {
  await using server = await startServer([
    "--mode",
    "chat",
    "--max-queue",
    "256K",
    "--drain-timeout",
    "1",
    "--rate",
    "0",
  ]);
  // A raw socket that never reads: what the server sends it piles up in kernel buffers, then in
  // the server's output queue for it, until that overflows.
  const sleeper = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await using talker = await join(server.port, "talker");
    await using listener = await join(server.port, "listener");
    await talker.lines.waitFor("* user3 joined");
    const line = "z".repeat(1000);
    const count = 20_000;
    // The talker waits for the listener to receive each batch: both keep up; only the sleeper lags.
    // The sleeper's leave is announced whenever it overflows, somewhere in the stream.
    let left = 0;
    for (let i = 0; i < count; i += 100) {
      await talker.send(...Array.from({ length: 100 }, (_, j) => `${i + j} ${line}`));
      for (let j = 0; j < 100; j++) {
        let received = await listener.lines.next();
        if (received === "* user1 left") {
          left++;
          received = await listener.lines.next();
        }
        assertEquals(received, `<user2> ${i + j} ${line}`);
      }
    }
    assertMatch(await server.stderr.waitFor(/#1 disconnected/), /warn: #1 disconnected: output queue full/);
    if (left === 0) assertEquals(await listener.lines.next(), "* user1 left");
  } finally {
    sleeper.close();
  }
});

Deno.test("chat escapes every control character it relays, so no client drives another's terminal", async () => {
  await using server = await startServer(["--mode", "chat"]);
  await using sender = await join(server.port, "sender");
  await using receiver = await join(server.port, "receiver");
  await sender.lines.waitFor("* user2 joined");
  // ESC, BEL, OSC, CR, TAB, DEL, a C1 CSI, a bidi override, and invalid UTF-8.
  await sender.write(
    new Uint8Array([
      ...new TextEncoder().encode("x \x1b[2J\x07 \x1b]0;TITLE\x07 a\rb\tc\x7f \u009b2J \u202eevil "),
      0xff,
      0x0a,
    ]),
  );
  const relayed = await receiver.lines.next();
  assertEquals(
    relayed,
    String.raw`<user1> x \e[2J\x07 \e]0;TITLE\x07 a\rb\tc\x7f \x9b2J \u{202e}evil ` + "\uFFFD",
  );
  await sender.send("/nick evil\x1b[31m", "/\x1b[2J");
  assertEquals(
    await sender.lines.next(),
    String.raw`ERR invalid name "evil\e[31m": use 1-32 letters, digits, - or _ (any one script)`,
  );
  assertEquals(await sender.lines.next(), String.raw`ERR unknown command /\e[2J; try /help`);
});

Deno.test("a typed backslash is doubled, so a literal \\e and a real ESC read apart, live and in history", async () => {
  await using server = await startServer(["--mode", "chat", "--history", "5"]);
  await using sender = await join(server.port, "sender");
  await using receiver = await join(server.port, "receiver");
  await sender.lines.waitFor("* user2 joined");
  await sender.send("typed \\e[2J", "real \x1b[2J", "path C:\\dir");
  const expected = [
    String.raw`<user1> typed \\e[2J`,
    String.raw`<user1> real \e[2J`,
    String.raw`<user1> path C:\\dir`,
  ];
  assertEquals(
    [await receiver.lines.next(), await receiver.lines.next(), await receiver.lines.next()],
    expected,
  );
  await using late = await TestClient.connect(server.port, { label: "late" });
  const history = [await late.lines.next(), await late.lines.next(), await late.lines.next()];
  assertEquals(history.map((line) => line.replace(/^\* history \S+ /, "")), expected);
});

Deno.test("a flood slows the talkers: a client that reads is never dropped, one that stopped is", async () => {
  // A small queue, so that the readers fall behind the flood within a few lines.
  await using server = await startServer(["--mode", "chat", "--quiet", "--max-queue", "64K", "--rate", "0"]);
  const talkers = await Promise.all(Array.from({ length: 4 }, (_, i) => join(server.port, `talker${i}`)));
  await using reader = await join(server.port, "reader");
  const sleeper = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // 40 MB in all: more than the kernel's buffers can hold for the sleeper (the server's send buffer
    // grows to net.ipv4.tcp_wmem's maximum, 4 MiB on Debian), so its queue must overflow.
    const count = 10_000;
    const text = "f".repeat(990);
    // Each talker sends its lines as fast as the server takes them, and reads what it is sent.
    const flooding = talkers.map(async (talker, t) => {
      for (let i = 0; i < count; i += 500) {
        await talker.send(...Array.from({ length: 500 }, (_, j) => `${t}:${i + j} ${text}`));
      }
    }).map((sending) => sending.then(() => "ok", String));
    // Each talker reads all it is sent, up to the sleeper's leave; settles with what went wrong.
    const draining = talkers.map((talker) =>
      talker.lines.waitFor("* user6 left", 20_000).then(() => "ok", String)
    );
    const next = new Array<number>(talkers.length).fill(0);
    for (let received = 0; received < talkers.length * count;) {
      const line = await reader.lines.next(20_000);
      if (line.startsWith("ERR")) throw new Error(`the reader was dropped: ${line}`);
      const match = /^<user(\d)> (\d):(\d+) f+$/.exec(line);
      if (match === null) continue; // joins and leaves
      const t = Number(match[2]);
      assertEquals(Number(match[3]), next[t], `talker ${t}'s lines arrive in order, none lost`);
      next[t]++;
      received++;
    }
    assertEquals(await Promise.all(flooding), ["ok", "ok", "ok", "ok"], "every talker could send all");
    assertMatch(await server.stderr.waitFor(/#6 disconnected/), /warn: #6 disconnected: output queue full/);
    assertEquals(await Promise.all(draining), ["ok", "ok", "ok", "ok"], "every talker was kept");
    assertEquals(
      server.stderr.seen.filter((line) => /disconnected/.test(line)).length,
      1,
      "only the sleeper left",
    );
  } finally {
    sleeper.close();
    await closeAll(talkers);
  }
});

Deno.test("--history without Redis: a newcomer gets the last N lines from memory, escaped, then the welcome", async () => {
  await using server = await startServer(["--mode", "chat", "--history", "2"]);
  await using first = await join(server.port, "first");
  for (const text of ["one", "two", "three \x1b[31mred"]) await first.send(text);
  await first.send("/who");
  await first.lines.waitFor(/^\* online: /);
  await using late = await TestClient.connect(server.port, { label: "late" });
  const lines = [await late.lines.next(), await late.lines.next(), await late.lines.next()];
  const pattern = /^\* history \d{4}-\d\d-\d\dT[\d:.]+Z (.*)$/;
  assertEquals(lines.map((line) => pattern.exec(line)?.[1] ?? line), [
    "<user1> two",
    "<user1> three \\e[31mred",
    "* welcome, user2: 2 online; /help for commands",
  ]);
  assertMatch(lines[0], pattern);
});
