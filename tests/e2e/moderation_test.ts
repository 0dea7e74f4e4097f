/**
 * The operator of a chat, at the server's terminal (tmux): what is said in the rooms is shown with
 * times, the operator speaks as `operator` and `/who` marks them, and `/mute`, `/kick` and `/ban`
 * reach the client wherever it is connected, are told to its rooms, and a ban refuses its address
 * on every server.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { closeAll, LINUX, SERVER_PATH, taskPermissions, TestClient } from "../../scripts/support/harness.ts";
import { chatServer, member, RedisServer } from "../../scripts/support/redis.ts";
import { Tmux } from "../support/tmux.ts";

const DENO = Deno.execPath();

/** A chat server in a tmux pane, with its console; returns the pane and the port. */
async function operatedServer(...args: string[]): Promise<{ tmux: Tmux; port: number }> {
  const tmux = await Tmux.start(
    [DENO, "run", ...taskPermissions("server"), SERVER_PATH, "--mode", "chat", "--port", "0", ...args],
    { width: 150, height: 40 },
  );
  const rows = await tmux.waitFor(/listening on 127\.0\.0\.1:\d+/, 20_000);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(rows.join("\n"))![1]);
  await tmux.waitFor(/^#parley>/m);
  return { tmux, port };
}

/** Types `line` at the console and presses Enter. */
async function type(tmux: Tmux, line: string): Promise<void> {
  await tmux.type(line);
  await tmux.press("Enter");
}

Deno.test("the chat's operator sees the rooms, speaks, mutes, kicks and bans from the terminal", {
  ignore: !LINUX,
}, async () => {
  const { tmux, port } = await operatedServer();
  await using _pane = tmux;
  const clients: TestClient[] = [];
  try {
    const alice = await TestClient.connect(port, { label: "alice" });
    const bob = await TestClient.connect(port, { label: "bob" });
    clients.push(alice, bob);
    await alice.lines.waitFor(/^\* welcome/);
    await alice.send("/nick alice");
    await bob.send("/nick bob");
    await alice.send("hello \x1b[2J operator");
    await tmux.waitFor(/^\[\d\d:\d\d:\d\d\.\d{3}\] #parley <alice> hello \\e\[2J operator$/m);

    await type(tmux, "welcome, both");
    await alice.lines.waitFor("<operator> welcome, both");
    await bob.send("/who");
    assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: alice, bob, @operator");

    await type(tmux, "/mute alice 1");
    await tmux.waitFor(/^\* muted alice for 1 minute$/m);
    await alice.lines.waitFor("* you are muted by the operator for 1 minute");
    await bob.lines.waitFor("* alice was muted by the operator for 1 minute");
    await alice.send("can I speak?");
    assertEquals(await alice.lines.waitFor(/^ERR /), "ERR you are muted for 1 more minute");

    await type(tmux, "/list");
    await tmux.waitFor(/^#1 +alice +127\.0\.0\.1:\d+ +#parley +\d+ +\d+ +muted$/m);

    await type(tmux, "/kick alice spam");
    await tmux.waitFor(/^\* kicked alice$/m);
    await alice.lines.waitFor("* kicked by the operator: spam");
    await alice.lines.waitFor("* disconnected by the operator");
    await bob.lines.waitFor("* alice was kicked by the operator (spam)");
    await bob.send("/who");
    assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: bob, @operator");
    assertEquals(
      bob.lines.seen.some((line) => line.includes("can I speak")),
      false,
      "a muted line is not relayed",
    );
    assertEquals(bob.lines.seen.includes("* alice left"), false, "the kick is told, not a leave");

    await type(tmux, "/ban bob 5");
    await tmux.waitFor(/^\* banned bob \(127\.0\.0\.1\) for 5 minutes$/m);
    await bob.lines.waitFor("* banned by the operator for 5 minutes");
    await using again = await TestClient.connect(port, { label: "again" });
    assertEquals(await again.lines.next(), "ERR you are banned from this server");
    await type(tmux, "/unban 127.0.0.1");
    await tmux.waitFor(/^\* lifted the ban on 127\.0\.0\.1$/m);
    await using after = await TestClient.connect(port, { label: "after" });
    assertMatch(await after.lines.next(), /^\* welcome, /);
  } finally {
    await closeAll(clients);
    await tmux.press("C-c");
    assertEquals(await tmux.exitStatus(), 0);
  }
});

Deno.test("through Redis, the operator's kick reaches another server, and a ban holds on every server", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  const { tmux, port } = await operatedServer("--redis", redis.url);
  await using _pane = tmux;
  await using other = await chatServer(redis);
  const carol = await member(other, "carol");
  const dave = await member(other, "dave");
  try {
    await carol.client.send("/nick carol");
    await carol.client.lines.waitFor("* you are now carol");
    await type(tmux, "/kick carol off-topic");
    await tmux.waitFor(/^\* kick: sent to the server that holds carol$/m);
    await carol.client.lines.waitFor("* kicked by the operator: off-topic");
    await dave.client.lines.waitFor("* carol was kicked by the operator (off-topic)");
    await tmux.waitFor(/#parley \* carol was kicked by the operator \(off-topic\)$/m);

    await type(tmux, "/ban 127.0.0.0/8 1");
    await tmux.waitFor(/^\* banned 127\.0\.0\.0\/8 for 1 minute, on every server$/m);
    // Every client of the other server is on 127.0.0.1: each is closed, and no one gets back in.
    await dave.client.lines.waitFor("* banned by the operator");
    await using refused = await TestClient.connect(other.port, { label: "refused" });
    assertEquals(await refused.lines.next(), "ERR you are banned from this server");
    await using here = await TestClient.connect(port, { label: "here" });
    assertEquals(await here.lines.next(), "ERR you are banned from this server");
    // A server that starts later asks the others for their bans.
    await using later = await chatServer(redis);
    await using newcomer = await TestClient.connect(later.port, { label: "newcomer" });
    assertEquals(await newcomer.lines.next(), "ERR you are banned from this server");
  } finally {
    await closeAll([carol.client, dave.client]);
    await tmux.press("C-c");
    assertEquals(await tmux.exitStatus(), 0);
  }
});

Deno.test("with --workers, the console sees every worker's rooms; its kick reaches any worker's client", {
  ignore: !LINUX,
}, async () => {
  const { tmux, port } = await operatedServer("--workers", "2");
  await using _pane = tmux;
  // Every worker listens before the clients come: one still starting would get none of them.
  await tmux.waitFor(/2 workers serving/);
  const clients: TestClient[] = [];
  try {
    // Twelve clients on two workers: the kernel puts some on each (all on one: 1 in 2,048).
    for (let i = 1; i <= 12; i++) {
      const client = await TestClient.connect(port, { label: `c${i}` });
      await client.lines.waitFor(/^\* welcome/);
      await client.send(`/nick c${i}`);
      await client.lines.waitFor(`* you are now c${i}`);
      clients.push(client);
    }
    // The console is worker 1's: /list shows its clients, not the others'.
    await type(tmux, "/list");
    const rows = await tmux.waitFor((rows) => rows.some((row) => /^ ID +NAME/.test(row)));
    const here = new Set(rows.flatMap((row) => /^#\d+ +(c\d+) /.exec(row)?.[1] ?? []));
    assert(here.size >= 1 && here.size < 12, `worker 1 holds ${here.size} of 12`);
    const elsewhere = clients.findIndex((_, i) => !here.has(`c${i + 1}`));
    const local = clients.findIndex((_, i) => here.has(`c${i + 1}`));
    // Whichever worker holds each, its lines reach the console.
    for (const i of [local, elsewhere]) {
      await clients[i].send(`from c${i + 1}`);
      await tmux.waitFor(new RegExp(`#parley <c${i + 1}> from c${i + 1}$`, "m"));
    }
    for (const i of [elsewhere, local]) {
      await type(tmux, `/kick c${i + 1} bye`);
      await clients[i].lines.waitFor("* kicked by the operator: bye");
    }
  } finally {
    await closeAll(clients);
    await tmux.press("C-c");
    assertEquals(await tmux.exitStatus(), 0);
  }
});
