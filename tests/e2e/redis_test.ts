/**
 * One chat room across several real servers and one real Redis (`--redis`): lines cross every
 * way exactly once and in order, names are unique in the whole room, history is the same on
 * every server, an outage of Redis leaves every server's room going and mends itself, a server
 * that dies has its clients announced as gone, and `--workers` joins in like any server.
 */

import { assert, assertEquals, assertMatch, waitUntil } from "../support/assert.ts";
import {
  closeAll,
  LINE_TIMEOUT_MS,
  LINUX,
  runToEnd,
  SERVER_PATH,
  startServer,
  taskPermissions,
  TestClient,
} from "../../scripts/support/harness.ts";
import { chatServer, member, RedisCluster, RedisServer, who } from "../../scripts/support/redis.ts";
import { roomsScenario } from "../support/rooms_scenario.ts";
import { certificateFiles } from "../../scripts/support/certificate_files.ts";
import { mustEscape } from "../support/escape_oracle.ts";
import { LINK_BACK, LINK_LOST } from "../../lib/server/modes/chat.ts";
import { GONE_WITHIN_MS, HEARTBEAT_MS, SWEEP_MS } from "../../lib/redis/names.ts";

/** Waits until `condition` holds, asking every 50 ms, for at most `timeoutMs`. */
async function waitUntilAsync(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test(
  "three servers, one room: lines cross every way, once each, in order; /who is the same everywhere",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    await using a = await chatServer(redis);
    await using b = await chatServer(redis);
    await using c = await chatServer(redis);
    const members = [];
    for (const [i, server] of [a, b, c].entries()) members.push(await member(server, `m${i}`));
    try {
      // Everyone has heard of everyone who came later: all three are in the room.
      await members[0].client.lines.waitFor(`* ${members[2].name} joined`);
      await members[1].client.lines.waitFor(`* ${members[2].name} joined`);
      const LINES = 40;
      await Promise.all(
        members.map(({ client }, i) =>
          client.send(...Array.from({ length: LINES }, (_, n) => `from ${i} line ${n}`))
        ),
      );
      for (const [i, { client }] of members.entries()) {
        const heard = new Map<string, number[]>();
        for (let got = 0; got < 2 * LINES; got++) {
          const match = /^<(user\d+)> from (\d) line (\d+)$/.exec(await client.lines.waitFor(/^</));
          assert.ok(match, "only the others' lines");
          assertEquals(Number(match[2]) === i, false, "nothing comes back to its sender");
          heard.set(match[1], [...heard.get(match[1]) ?? [], Number(match[3])]);
        }
        const inOrder = Array.from({ length: LINES }, (_, n) => n);
        for (const other of members.filter((_, j) => j !== i)) assertEquals(heard.get(other.name), inOrder);
      }
      const lists = await Promise.all(members.map(({ client }) => who(client)));
      const everyone = members.map(({ name }) => name).sort();
      for (const list of lists) assertEquals(list, everyone);
      // Nothing more arrived: no line twice, none back to its sender.
      for (const { client } of members) {
        assertEquals(
          client.lines.seen.filter((l) => l.startsWith("<")).length,
          80,
        );
      }
    } finally {
      await closeAll(members.map(({ client }) => client));
    }
  },
);

Deno.test("two clients racing for one name on different servers: exactly one gets it, every time", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using a = await chatServer(redis);
  await using b = await chatServer(redis);
  const x = await member(a, "x");
  const y = await member(b, "y");
  try {
    for (let round = 0; round < 10; round++) {
      const name = `racer${round}`;
      await Promise.all([x.client.send(`/nick ${name}`), y.client.send(`/nick ${name.toUpperCase()}`)]);
      const answers = await Promise.all(
        [x, y].map(({ client }) => client.lines.waitFor(/^(\* you are now|ERR name)/)),
      );
      assertEquals(answers.filter((line) => line.startsWith("* you are now")).length, 1, answers.join(" | "));
      assertEquals(answers.filter((line) => / is taken$/.test(line)).length, 1, answers.join(" | "));
    }
  } finally {
    await closeAll([x.client, y.client]);
  }
});

Deno.test(
  "history is the same on every server: the last N lines, escaped, with their times, before the welcome",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    await using a = await chatServer(redis, ["--history", "3"]);
    await using b = await chatServer(redis, ["--history", "3"]);
    await using c = await chatServer(redis, ["--history", "3"]);
    const x = await member(a, "x");
    const y = await member(b, "y");
    const late = [];
    try {
      await x.client.lines.waitFor(`* ${y.name} joined`);
      // One at a time, each seen across before the next, so "the last 3" has one answer.
      // A real ESC is escaped once; a typed backslash is doubled once, not again by the server it
      // reaches through Redis.
      const said = ["one", "two", "three \x1b[2J", String.raw`four \e`, "five"];
      const heard = [];
      for (const [n, text] of said.entries()) {
        const [speaker, listener] = n % 2 === 0 ? [x, y] : [y, x];
        await speaker.client.send(text);
        heard.push(
          await listener.client.lines.waitFor((line) =>
            line.startsWith(`<${speaker.name}> ${text.slice(0, 3)}`)
          ),
        );
      }
      assertEquals(heard.slice(2, 4), [`<${x.name}> three \\e[2J`, String.raw`<${y.name}> four \\e`]);
      for (const server of [a, b, c]) {
        const client = await TestClient.connect(server.port, { label: `late on ${server.port}` });
        late.push(client);
      }
      const histories = [];
      for (const client of late) {
        const lines = [];
        for (
          let line = await client.lines.next();
          !line.startsWith("* welcome");
          line = await client.lines.next()
        ) {
          lines.push(line);
        }
        histories.push(lines);
      }
      assertEquals(histories[0], histories[1], "the same history whichever server one joins");
      assertEquals(histories[0], histories[2], "and on a server where nothing was said");
      const pattern = /^\* history (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) <(user\d+)> (.*)$/;
      assertEquals(histories[0].map((line) => pattern.exec(line)?.slice(2)), [
        [x.name, "three \\e[2J"],
        [y.name, String.raw`four \\e`],
        [x.name, "five"],
      ]);
      const times = histories[0].map((line) => Date.parse(pattern.exec(line)![1]));
      assert.ok(times.every((t, i) => Math.abs(t - Date.now()) < 60_000 && (i === 0 || t >= times[i - 1])));
    } finally {
      await closeAll([x.client, y.client, ...late]);
    }
  },
);

Deno.test("Redis dies mid-conversation: each room goes on alone, is told once, and is whole again after", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using a = await chatServer(redis);
  await using b = await chatServer(redis);
  const a1 = await member(a, "a1");
  const a2 = await member(a, "a2");
  const b1 = await member(b, "b1");
  try {
    await a1.client.lines.waitFor(`* ${b1.name} joined`);
    await redis.kill();
    for (const { client } of [a1, a2, b1]) await client.lines.waitFor(LINK_LOST);
    await a1.client.send("said during the outage");
    await a2.client.lines.waitFor(`<${a1.name}> said during the outage`);
    // Both sides hand out the same name while they cannot ask each other; a1 first.
    await a1.client.send("/nick zed");
    await a1.client.lines.waitFor("* you are now zed");
    await b1.client.send("/nick ZED");
    await b1.client.lines.waitFor("* you are now ZED");

    await redis.restart();
    for (const { client } of [a1, a2, b1]) await client.lines.waitFor(LINK_BACK, 15_000);
    // The later claimant is renamed, and told why.
    const notice = await b1.client.lines.waitFor(/^\* ZED was taken elsewhere/, 3 * HEARTBEAT_MS);
    assertMatch(notice, new RegExp(`you are now ${b1.name}$`));
    await a1.client.send("the room is whole");
    await b1.client.lines.waitFor(`<zed> the room is whole`);
    assertEquals(await who(a1.client), await who(b1.client));
    assertEquals((await who(b1.client)).includes("zed"), true);
    for (const { client } of [a1, a2, b1]) {
      assertEquals(client.lines.seen.filter((line) => line === LINK_LOST).length, 1, "told once");
      assertEquals(client.lines.seen.filter((line) => line === LINK_BACK).length, 1, "told once");
    }
    assertEquals(b1.client.lines.seen.some((line) => line.includes("said during the outage")), false);
  } finally {
    await closeAll([a1.client, a2.client, b1.client]);
  }
});

Deno.test(
  "a server killed with -9: its names are free within the TTL, and the others announce who left, once",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    await using a = await chatServer(redis);
    await using c = await chatServer(redis);
    const doomed = await chatServer(redis);
    const x = await member(a, "x");
    const z = await member(c, "z");
    const victim = await member(doomed, "victim");
    try {
      await victim.client.send("/nick dave");
      await victim.client.lines.waitFor("* you are now dave");
      for (const { client } of [x, z]) await client.lines.waitFor(`* ${victim.name} is now dave`);
      const killed = Date.now();
      await doomed.stop("SIGKILL");
      // Free within the TTL: asking again and again until it is.
      while (true) {
        await x.client.send("/nick dave");
        const answer = await x.client.lines.waitFor(/^(\* you are now dave|ERR name dave is taken)$/);
        if (answer.startsWith("* you are now")) break;
        assert.ok(Date.now() - killed < GONE_WITHIN_MS + 1000, "the name is free within the TTL and a sweep");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // The departure and the free name come in one step of the sweep: x may have seen it already.
      for (const { client } of [x, z]) {
        await waitUntil(() => client.lines.seen.includes("* dave left"), "* dave left", LINE_TIMEOUT_MS);
      }
      assert.ok(
        Date.now() - killed < GONE_WITHIN_MS + 1000,
        `announced ${Date.now() - killed} ms after the kill`,
      );
      // "Once" is only proved after the sweeps that could repeat it: two more of them, then a round trip.
      await new Promise((resolve) => setTimeout(resolve, 2 * SWEEP_MS + 500));
      await z.client.send("/who");
      await z.client.lines.waitFor(/^\* online: /);
      for (const { client } of [x, z]) {
        assertEquals(client.lines.seen.filter((line) => line === "* dave left").length, 1, "announced once");
      }
    } finally {
      await doomed[Symbol.asyncDispose]();
      await closeAll([x.client, z.client, victim.client]);
    }
  },
);

Deno.test("a server that shuts down tells the others at once that its clients left", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using a = await chatServer(redis);
  await using b = await chatServer(redis);
  const x = await member(a, "x");
  const y = await member(b, "y");
  try {
    await x.client.lines.waitFor(`* ${y.name} joined`);
    const stopped = Date.now();
    assertEquals((await b.stop("SIGTERM")).code, 0);
    await x.client.lines.waitFor(`* ${y.name} left`, 2000);
    assert.ok(Date.now() - stopped < GONE_WITHIN_MS, "at once, not after the TTL");
  } finally {
    await closeAll([x.client, y.client]);
  }
});

Deno.test("--workers 2 joins the room like any server: every line once, one list of names", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using pooled = await chatServer(redis, ["--workers", "2"]);
  await using single = await chatServer(redis);
  const here = [];
  for (let i = 0; i < 8; i++) here.push(await member(pooled, `w${i}`));
  const there = await member(single, "there");
  const everyone = [...here, there];
  try {
    for (const { client } of here) await client.lines.waitFor(`* ${there.name} joined`);
    for (const [i, { client }] of everyone.entries()) await client.send(`hello ${i}`);
    for (const [i, { client }] of everyone.entries()) {
      const expected = everyone.flatMap(({ name }, j) => j === i ? [] : [`<${name}> hello ${j}`]).sort();
      const got = [];
      while (got.length < expected.length) got.push(await client.lines.waitFor(/^</));
      assertEquals(got.sort(), expected);
    }
    const lists = await Promise.all(everyone.map(({ client }) => who(client)));
    for (const list of lists) assertEquals(list, everyone.map(({ name }) => name).sort());
    for (const { client } of everyone) {
      assertEquals(client.lines.seen.filter((l) => l.startsWith("<")).length, 8);
    }
  } finally {
    await closeAll(everyone.map(({ client }) => client));
  }
});

/** Runs the server with `args` to its exit. */
function runServer(args: string[]) {
  return runToEnd(["run", ...taskPermissions("server"), SERVER_PATH, "--port", "0", ...args]);
}

Deno.test("an unreachable Redis, a wrong password, no password: exit 1 with one sentence naming the URL", {
  ignore: !LINUX,
}, async () => {
  const gone = await RedisServer.start();
  const port = gone.port;
  await gone.kill();
  const unreachable = await runServer(["--mode", "chat", "--redis", `redis://127.0.0.1:${port}`]);
  assertEquals(unreachable.code, 1);
  assertEquals(unreachable.stderr, `cannot join the chat on redis://127.0.0.1:${port}: connection refused\n`);

  await using locked = await RedisServer.start({ args: ["--requirepass", "s3cret"] });
  const wrong = await runServer(["--mode", "chat", "--redis", `redis://:nope@127.0.0.1:${locked.port}`]);
  assertEquals(wrong.code, 1);
  assertEquals(
    wrong.stderr,
    `cannot join the chat on redis://:***@127.0.0.1:${locked.port}: wrong user name or password\n`,
  );
  const none = await runServer(["--mode", "chat", "--redis", locked.url]);
  assertEquals(none.code, 1);
  assertMatch(none.stderr, /^cannot join the chat on redis:\/\/127\.0\.0\.1:\d+: Redis wants a password/);
  await using right = await startServer([
    "--mode",
    "chat",
    "--redis",
    `redis://:s3cret@127.0.0.1:${locked.port}`,
  ]);
  assertMatch(right.stderr.seen.join("\n"), /joined the chat on redis:\/\/:\*\*\*@127/);
});

Deno.test("rooms across two servers: lines stay in their room, /rooms and /who count both servers", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using a = await chatServer(redis);
  await using b = await chatServer(redis, ["--room", "lobby"]);
  const x = await member(a, "x");
  const y = await member(b, "y");
  const z = await member(b, "z");
  try {
    await y.client.lines.waitFor(`* ${z.name} joined`);
    await roomsScenario(x, y, z, "* rooms: #lobby (2), #parley (1, you), #rust (2, you, current)");
    // Servers that start their clients in different rooms share the names, not the lines.
    await z.client.send("only the lobby");
    await y.client.lines.waitFor(`<${z.name}> only the lobby`);
    await x.client.send("/who #lobby");
    assertEquals(
      await x.client.lines.waitFor(/^\* online in #lobby: /),
      `* online in #lobby: ${y.name}, ${z.name}`,
    );
    assertEquals(x.client.lines.seen.some((line) => line.includes("only the lobby")), false);
  } finally {
    await closeAll([x.client, y.client, z.client]);
  }
});

Deno.test(
  "rooms across two servers on a Redis Cluster of 3 primaries: sharded channels, a room's keys in its slot",
  {
    ignore: !LINUX,
  },
  async () => {
    await using cluster = await RedisCluster.start();
    await using a = await chatServer(cluster, ["--history", "10"]);
    await using b = await chatServer(cluster, ["--history", "10", "--room", "lobby"]);
    const x = await member(a, "x");
    const y = await member(b, "y");
    const z = await member(b, "z");
    try {
      await y.client.lines.waitFor(`* ${z.name} joined`);
      assertMatch(a.stderr.seen.join("\n"), /joined the chat on redis\+cluster:\/\/127\.0\.0\.1:\d+,/);
      await roomsScenario(x, y, z, "* rooms: #lobby (2), #parley (1, you), #rust (2, you, current)");
      // A private message crosses the cluster to its recipient alone.
      await x.client.send(`/msg ${z.name} psst`);
      await z.client.lines.waitFor(`* private from ${x.name}: psst`);
      // Each room's log (its history, numbered for sessions) lives on the node of its slot: the
      // rooms are spread.
      for (const room of ["#a1", "#b2", "#c3", "#d4", "#e5", "#f6"]) {
        await x.client.send(`/join ${room}`);
        await x.client.lines.waitFor(`* joined ${room}: 1 here; your lines go there now`);
        await x.client.send(`kept in ${room}`);
      }
      await waitUntilAsync(async () => {
        const holding = [];
        for (const node of cluster.nodes) {
          // With sessions (the default), a room's history is its log.
          if ((await cluster.keysOn(node)).some((key) => /^parley:\{#.*\}:log$/.test(key))) {
            holding.push(node);
          }
        }
        return holding.length >= 2;
      }, "room histories on two nodes or more");
      const chat = (await Promise.all(cluster.nodes.map((node) => cluster.keysOn(node))))
        .filter((keys) => keys.some((key) => key.startsWith("parley:{parley}:")));
      assertEquals(chat.length, 1, "the chat's own keys share one slot");
      const { client: newcomer } = await member(a, "newcomer");
      try {
        await newcomer.send("/join #c3");
        await newcomer.lines.waitFor("* joined #c3: 2 here; your lines go there now");
      } finally {
        await newcomer[Symbol.asyncDispose]();
      }
    } finally {
      await closeAll([x.client, y.client, z.client]);
    }
  },
);

Deno.test(
  "rediss://: Redis over TLS, verified; its certificate is trusted with --redis-ca, refused without",
  {
    ignore: !LINUX,
  },
  async () => {
    await using files = await certificateFiles();
    await using redis = await RedisServer.start({ tls: { cert: files.certPath, key: files.keyPath } });
    const refused = await runServer(["--mode", "chat", "--redis", redis.url]);
    assertEquals(refused.code, 1);
    assertEquals(refused.stderr, `cannot join the chat on ${redis.url}: self-signed certificate\n`);
    const trusting = ["--redis-ca", files.certPath];
    await using a = await chatServer(redis, trusting);
    await using b = await chatServer(redis, trusting);
    const x = await member(a, "x");
    const y = await member(b, "y");
    try {
      await x.client.lines.waitFor(`* ${y.name} joined`);
      await y.client.send("over TLS");
      await x.client.lines.waitFor(`<${y.name}> over TLS`);
    } finally {
      await closeAll([x.client, y.client]);
    }
  },
);

Deno.test(
  "a WebSocket client on one server and a TCP client on another share the room",
  { ignore: !LINUX },
  async () => {
    await using redis = await RedisServer.start();
    await using a = await chatServer(redis, ["--web", "0"]);
    await using b = await chatServer(redis);
    const tcp = await member(b, "tcp");
    const socket = new WebSocket(`ws://127.0.0.1:${a.webPort}/ws`);
    const received: string[] = [];
    const closed = new Promise((resolve) => socket.onclose = resolve);
    socket.onmessage = (event) => received.push(String(event.data));
    try {
      await new Promise((resolve) => socket.onopen = resolve);
      const joined = await tcp.client.lines.waitFor(/^\* user\d+ joined$/);
      socket.send("from a browser on A");
      await tcp.client.lines.waitFor(`<${joined.split(" ")[1]}> from a browser on A`);
      await tcp.client.send("from TCP on B");
      await waitUntil(() => received.includes(`<${tcp.name}> from TCP on B`), "the line across");
    } finally {
      socket.close();
      await closed;
      await closeAll([tcp.client]);
    }
  },
);

Deno.test("hostile bytes written straight into Redis reach clients escaped, never raw", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using server = await chatServer(redis, ["--history", "10"]);
  const { client, name } = await member(server, "reader");
  try {
    // Whoever else can write to Redis: a message on the room's channel as a server would publish
    // it (node id, then `mark line` records), and a history entry, both carrying escape sequences.
    const hostile = "\x1b]0;PWNED\x07\x1b[2J\u202eevil";
    const raw = (line: string) => [...line].some((char) => mustEscape(char.codePointAt(0)!));
    const cli = (...args: string[]) =>
      new Deno.Command("redis-cli", { args: ["-p", String(redis.port), ...args], stdout: "null" }).output();
    await cli("PUBLISH", "parley:{#parley}:room", `intruder\nS - <mallory> ${hostile}`);
    const relayed = await client.lines.waitFor(/^<mallory> /);
    assertEquals(relayed, "<mallory> \\e]0;PWNED\\x07\\e[2J\\u{202e}evil");
    // The room's history: its stream, or with sessions (the default) its log.
    await cli("XADD", "parley:{#parley}:history", "*", "l", `<mallory> ${hostile}`);
    await cli(
      "XADD",
      "parley:{#parley}:log",
      "999999-0",
      "k",
      "S",
      "t",
      "0",
      "a",
      "-",
      "l",
      `<mallory> ${hostile}`,
    );
    const { client: newcomer } = await member(server, "newcomer");
    try {
      const kept = newcomer.lines.seen.find((line) => line.includes("mallory"));
      assertEquals(kept !== undefined && !raw(kept), true, String(kept));
    } finally {
      await newcomer[Symbol.asyncDispose]();
    }
    // Names: an entry in the online hash reaches /who, and a dead server's names a leave notice.
    await cli("HSET", "parley:{parley}:online", "evil", `ghost|1|1|1|${hostile}`);
    await cli("HSET", "parley:{parley}:online", "short", "ghost|1|1");
    await cli("SADD", "parley:{parley}:nodes", "ghost");
    await client.send("/who");
    assertEquals(await client.lines.waitFor(/^\* online: /), `* online: ${name}`);
    await cli("HSET", "parley:{parley}:online", "mallory", "ghost|2|1|1|mallory");
    // The server finds the "ghost" node without presence and reaps its names: mallory is told to have
    // left; the hostile name is not told at all.
    await client.lines.waitFor("* mallory left", 10_000);
    for (const line of client.lines.seen) assertEquals(raw(line), false, line);
    assertEquals(client.lines.seen.filter((line) => line.endsWith(" left")), ["* mallory left"]);
    // The server says once that it skipped what no server wrote, escaped.
    const warning = await server.stderr.waitFor(/skipped an entry in Redis that no server wrote/);
    assertEquals(raw(warning), false, warning);
  } finally {
    await client[Symbol.asyncDispose]();
  }
});

Deno.test("a newcomer during a Redis outage is told at once that the room is this server's only", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using server = await chatServer(redis);
  const { client } = await member(server, "before");
  try {
    await redis.kill();
    await client.lines.waitFor(LINK_LOST);
    const { client: newcomer } = await member(server, "newcomer");
    try {
      assertEquals(await newcomer.lines.next(), LINK_LOST, "right after the welcome");
    } finally {
      await newcomer[Symbol.asyncDispose]();
    }
  } finally {
    await client[Symbol.asyncDispose]();
  }
});

Deno.test("after an outage each room hears, in one line, who renamed, joined and left elsewhere meanwhile", {
  ignore: !LINUX,
}, async () => {
  await using redis = await RedisServer.start();
  await using a = await chatServer(redis);
  await using b = await chatServer(redis);
  const watcher = await member(a, "watcher");
  const dave = await member(b, "dave");
  const leaver = await member(b, "leaver");
  const clients = [watcher.client, dave.client, leaver.client];
  try {
    await watcher.client.lines.waitFor(`* ${leaver.name} joined`);
    await redis.kill();
    for (const client of clients) await client.lines.waitFor(LINK_LOST);
    await dave.client.send("/nick erin");
    await dave.client.lines.waitFor("* you are now erin");
    const newcomer = await member(b, "newcomer");
    clients.push(newcomer.client);
    // Its first line settles it: its join is told (here, during the outage) at once.
    await newcomer.client.send("hello from the outage");
    await dave.client.lines.waitFor(`<${newcomer.name}> hello from the outage`);
    await leaver.client[Symbol.asyncDispose]();
    await dave.client.lines.waitFor(`* ${leaver.name} left`);
    await redis.restart();
    const heard = await watcher.client.lines.waitFor(/^\* while the link was down: /, 20_000);
    const changes = heard.replace("* while the link was down: ", "").split("; ").sort();
    assertEquals(
      changes,
      [`${dave.name} is now erin`, `${leaver.name} left`, `${newcomer.name} joined`].sort(),
    );
    // Told once, and not to the room where it happened.
    await watcher.client.send("/who");
    await watcher.client.lines.waitFor(/^\* online: /);
    assertEquals(watcher.client.lines.seen.filter((line) => line.startsWith("* while the link")).length, 1);
    assertEquals(dave.client.lines.seen.some((line) => line.startsWith("* while the link")), false);
  } finally {
    await closeAll(clients);
  }
});
