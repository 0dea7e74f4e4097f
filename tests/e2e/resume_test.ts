/**
 * Sessions that survive a dropped connection (`/session`, `/resume`, `--resume-window`), with real
 * sockets: a client cut mid-conversation comes back as itself with every line it missed exactly
 * once and the room never hears it leave; past the window its name is free and its leave told;
 * a resume while the old connection is open takes it over; `parley-client --reconnect` does all
 * of it by itself across a connection cut under it.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  CLIENT_PATH,
  closeAll,
  LINUX,
  type ServerProcess,
  spawnProcess,
  startServer,
  taskPermissions,
  TestClient,
} from "../../scripts/support/harness.ts";
import { RedisServer } from "../../scripts/support/redis.ts";
import { LINK_BACK } from "../../lib/server/modes/chat.ts";
import { GONE_WITHIN_MS } from "../../lib/redis/names.ts";

/** A chat server with sessions; clients welcomed and named. */
async function chat(...args: string[]): Promise<ServerProcess> {
  return await startServer(["--mode", "chat", ...args]);
}

async function named(server: ServerProcess | number, name: string): Promise<TestClient> {
  const client = await TestClient.connect(typeof server === "number" ? server : server.port, { label: name });
  await client.lines.waitFor(/^\* welcome, /);
  await client.send(`/nick ${name}`);
  await client.lines.waitFor(`* you are now ${name}`);
  return client;
}

/** Asks for a session; its token. */
async function sessionOf(client: TestClient): Promise<string> {
  await client.send("/session");
  return (await client.lines.waitFor(/^\* session /)).slice("* session ".length);
}

/** A new connection to `port` that sends `/resume ARGS` once welcomed. */
async function resuming(port: number, label: string, args: string): Promise<TestClient> {
  const client = await TestClient.connect(port, { label });
  try {
    await client.lines.waitFor(/^\* welcome, /);
    await client.send(`/resume ${args}`);
    return client;
  } catch (error) {
    await client[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test(
  "a client cut mid-conversation comes back as itself with every missed line once; nobody heard it go",
  {
    ignore: !LINUX,
  },
  async () => {
    await using server = await chat();
    const zoe = await named(server, "zoe");
    const bob = await named(server, "bob");
    const token = await sessionOf(zoe);
    await bob.send("before");
    const before = await zoe.lines.waitFor(/before$/);
    assertMatch(before, /^@#parley:\d+ <bob> before$/);
    const seen = Number(/:(\d+) /.exec(before)![1]);
    // Its last word, numbered after what it saw: it does not come back to it.
    await zoe.send("my last word");
    await bob.lines.waitFor("<zoe> my last word");
    await zoe[Symbol.asyncDispose]();
    await server.stderr.waitFor(/#1 disconnected/);
    const since = bob.lines.seen.length;
    for (let i = 1; i <= 50; i++) await bob.send(`missed ${i}`);
    await bob.send("/who");
    assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: zoe, bob", "its name is held");
    const back = await resuming(server.port, "back", `${token} #parley:${seen}`);
    try {
      assertEquals(await back.lines.next(), "* resumed as zoe; 50 missed lines follow");
      for (let i = 1; i <= 50; i++) {
        assertEquals(
          await back.lines.next(),
          `@#parley:${seen + 1 + i} <bob> missed ${i}`,
        );
      }
      assertMatch(await back.lines.next(), /^\* session [A-Za-z0-9_-]{22}$/);
      await bob.send("live");
      assertEquals(await back.lines.next(), `@#parley:${seen + 52} <bob> live`);
      await back.send("I am back");
      await bob.lines.waitFor("<zoe> I am back");
      for (const line of bob.lines.seen.slice(since)) {
        assert(!/zoe left|joined|user\d+/.test(line), `bob saw: ${line}`);
      }
      // The token is never logged.
      assert(!server.stderr.seen.some((line) => line.includes(token)), "no token in the log");
    } finally {
      await closeAll([back, bob]);
    }
  },
);

Deno.test("past the window the name is free and the leave told; a resume then gets ERR and a fresh session", {
  ignore: !LINUX,
}, async () => {
  await using server = await chat("--resume-window", "1");
  const zoe = await named(server, "zoe");
  const bob = await named(server, "bob");
  const token = await sessionOf(zoe);
  await zoe[Symbol.asyncDispose]();
  await bob.lines.waitFor("* zoe left", 5000);
  await bob.send("/nick zoe");
  await bob.lines.waitFor("* you are now zoe");
  const late = await resuming(server.port, "late", `${token} #parley:0`);
  try {
    assertEquals(
      await late.lines.next(),
      "ERR no such session (wrong, expired or used already); a new one follows",
    );
    assertMatch(await late.lines.next(), /^\* session [A-Za-z0-9_-]{22}$/);
  } finally {
    await closeAll([late, bob]);
  }
});

Deno.test(
  "a resume while the old connection is still open takes it over and closes the old one with a reason",
  {
    ignore: !LINUX,
  },
  async () => {
    await using server = await chat();
    const zoe = await named(server, "zoe");
    const bob = await named(server, "bob");
    const token = await sessionOf(zoe);
    const again = await resuming(server.port, "again", token);
    try {
      assertEquals(await again.lines.next(), "* resumed as zoe; 0 missed lines follow");
      await zoe.lines.waitFor("* your session was resumed on another connection");
      await zoe.lines.rest();
      await server.stderr.waitFor(/#1 disconnected: session taken over/);
      await bob.send("still here?");
      assertEquals(await again.lines.next().then((line) => line.replace(/^\* session \S+$/, "")), "");
      assertMatch(await again.lines.next(), /^@#parley:\d+ <bob> still here\?$/);
    } finally {
      await closeAll([again, bob, zoe]);
    }
  },
);

/** A TCP proxy to `port` whose connections the test can cut, as a network change would. */
function cuttableProxy(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs: Deno.Conn[][] = [];
  (async () => {
    for await (const inbound of listener) {
      const outbound = await Deno.connect({ hostname: "127.0.0.1", port });
      pairs.push([inbound, outbound]);
      inbound.readable.pipeTo(outbound.writable).catch(() => {});
      outbound.readable.pipeTo(inbound.writable).catch(() => {});
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    /** Cuts every connection through it, at once, both ways. */
    cut() {
      for (const pair of pairs.splice(0)) {
        for (const conn of pair) {
          try {
            conn.close();
          } catch { /* closed already */ }
        }
      }
    },
    close() {
      this.cut();
      listener.close();
    },
  };
}

Deno.test(
  "parley-client --reconnect resumes by itself after its connection is cut, and shows each missed line once",
  {
    ignore: !LINUX,
  },
  async () => {
    await using server = await chat();
    const proxy = cuttableProxy(server.port);
    const bob = await named(server, "bob");
    await using client = spawnProcess(
      Deno.execPath(),
      ["run", ...taskPermissions("client"), CLIENT_PATH, "--port", String(proxy.port), "--reconnect"],
      { stdin: true, label: "client" },
    );
    try {
      await client.stdout.waitFor(/\* welcome, /);
      await client.type("/nick zoe");
      await bob.lines.waitFor(/is now zoe$/);
      await bob.send("one");
      await client.stdout.waitFor(/\] <bob> one$/);
      // Its session is asked for and kept out of sight: no token, no numbers on the screen.
      proxy.cut();
      await server.stderr.waitFor(/disconnected/);
      await bob.send("two");
      await bob.send("three");
      await client.stdout.waitFor(/\* resumed as zoe; 2 missed lines follow$/, 15_000);
      await client.stdout.waitFor(/\] <bob> two$/);
      await client.stdout.waitFor(/\] <bob> three$/);
      await bob.send("four");
      await client.stdout.waitFor(/\] <bob> four$/);
      const shown = client.stdout.seen;
      assertEquals(
        shown.filter((line) => /<bob> (one|two|three|four)$/.test(line)).length,
        4,
        shown.join("\n"),
      );
      assert(!shown.some((line) => /\* session |@#parley:/.test(line)), shown.join("\n"));
      assert(!bob.lines.seen.some((line) => /zoe left/.test(line)), "bob never heard zoe leave");
    } finally {
      proxy.close();
      await bob[Symbol.asyncDispose]();
    }
  },
);

/** Asserts that `client` never heard `name` leave or join: a session away and back is not news. */
function assertNobodyHeard(client: TestClient, name: string): void {
  const heard = client.lines.seen.filter((line) => new RegExp(`\\* ${name} (left|joined)`).test(line));
  assertEquals(heard, [], `${client.lines.label} heard ${name} go or come`);
}

/** The lines `client` is sent until the new token, after a `* resumed ...` line. */
async function resumedLines(client: TestClient): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = await client.lines.next();
    if (line.startsWith("* session ")) return lines;
    lines.push(line);
  }
}

Deno.test(
  "through Redis, a session resumes on another server: its name, every missed line once, its private lines",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    await using a = await chat("--redis", redis.url);
    await using b = await chat("--redis", redis.url);
    const zoe = await named(a, "zoe");
    const bob = await named(b, "bob");
    const amy = await named(a, "amy");
    const token = await sessionOf(zoe);
    await bob.send("marker");
    const marker = await zoe.lines.waitFor(/<bob> marker$/);
    assertMatch(marker, /^@#parley:\d+ <bob> marker$/);
    const seen = /^@(#parley:\d+) /.exec(marker)![1];
    await amy.send("from zoe's own server");
    assertMatch(await zoe.lines.waitFor(/own server$/), /^@#parley:\d+ <amy> from zoe's own server$/);
    await zoe.send("zoe's last word");
    await bob.lines.waitFor("<zoe> zoe's last word");
    await zoe[Symbol.asyncDispose]();
    await a.stderr.waitFor(/disconnected/);
    for (let i = 1; i <= 20; i++) await (i % 2 === 0 ? amy : bob).send(`missed ${i}`);
    await amy.lines.waitFor("<bob> missed 19");
    await bob.lines.waitFor("<amy> missed 20");
    await bob.send("/msg zoe psst");
    await bob.lines.waitFor("* private to zoe: psst");
    await amy.send("/msg zoe from amy");
    await amy.lines.waitFor("* private to zoe: from amy");
    await bob.send("/who");
    assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: zoe, bob, amy", "held across the chat");
    // It comes back on the other server.
    const back = await resuming(b.port, "back", `${token} ${seen}`);
    try {
      assertEquals(await back.lines.next(), "* resumed as zoe; 23 missed lines follow");
      const lines = await resumedLines(back);
      const said = lines.filter((line) => line.startsWith("@"));
      const texts = said.map((line) => line.replace(/^@#parley:\d+ /, ""));
      const expected = Array.from(
        { length: 20 },
        (_, i) => `<${i % 2 === 0 ? "bob" : "amy"}> missed ${i + 1}`,
      );
      assertEquals(texts[0], "<amy> from zoe's own server");
      assertEquals(
        texts.slice(1).toSorted(),
        expected.toSorted(),
        "every line said after the last it saw, once; not its own",
      );
      for (const who of ["<bob>", "<amy>"]) {
        const mine = (line: string) => line.startsWith(who);
        assertEquals(texts.slice(1).filter(mine), expected.filter(mine), `${who}'s lines in the order said`);
      }
      const numbers = said.map((line) => Number(/:(\d+) /.exec(line)![1]));
      assert(numbers.every((n, i) => i === 0 || n > numbers[i - 1]), `numbered in order: ${numbers}`);
      // Sent from two servers, they were kept in the order they arrived.
      assertEquals(lines.filter((line) => line.startsWith("* private")).toSorted(), [
        "* private from amy: from amy",
        "* private from bob: psst",
      ]);
      await back.send("back, via the other server");
      await bob.lines.waitFor("<zoe> back, via the other server");
      await amy.lines.waitFor("<zoe> back, via the other server");
      // Live lines carry on after the missed ones, with no gap and no repeat.
      await amy.send("live");
      assertEquals(await back.lines.next(), `@#parley:${numbers.at(-1)! + 2} <amy> live`);
      await bob.send("/who");
      assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: zoe, bob, amy", "one zoe, as before");
      for (const client of [bob, amy]) assertNobodyHeard(client, "zoe");
      // The old server let go of it: a private line reaches the new connection.
      await amy.send("/msg zoe welcome back");
      assertEquals(await back.lines.waitFor(/^\* private/), "* private from amy: welcome back");
      // The token was used: a second try gets ERR and a fresh session.
      await using again = await resuming(a.port, "again", `${token} -`);
      assertEquals(
        await again.lines.next(),
        "ERR no such session (wrong, expired or used already); a new one follows",
      );
      assertMatch(await again.lines.next(), /^\* session [A-Za-z0-9_-]{22}$/);
    } finally {
      await closeAll([back, bob, amy]);
    }
    for (const server of [a, b]) {
      assert(!server.stderr.seen.some((line) => line.includes(token)), "the token is never logged");
    }
  },
);

Deno.test(
  "through Redis, a resume on another server takes over a connection still open on the first",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    await using a = await chat("--redis", redis.url);
    await using b = await chat("--redis", redis.url);
    await using zoe = await named(a, "zoe");
    await using bob = await named(b, "bob");
    await zoe.lines.waitFor(/ is now bob$/);
    const token = await sessionOf(zoe);
    await using back = await resuming(b.port, "back", `${token} -`);
    assertEquals(await back.lines.next(), "* resumed as zoe; 0 missed lines follow");
    assertEquals(
      await zoe.lines.waitFor(/^\* your session/),
      "* your session was resumed on another connection",
    );
    await zoe.lines.rest();
    await a.stderr.waitFor(/#\d+ disconnected: session taken over/);
    await bob.send("after");
    assertMatch(await back.lines.waitFor(/after$/), /^@#parley:\d+ <bob> after$/);
    await bob.send("/who");
    assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: zoe, bob");
    // Cut again, it comes back to the same server: parked there, resumed there.
    const token2 = back.lines.seen.find((line) => line.startsWith("* session "))!.slice("* session ".length);
    const after = /^@(#parley:\d+) /.exec(back.lines.seen.find((line) => line.endsWith("<bob> after"))!)![1];
    await back[Symbol.asyncDispose]();
    await b.stderr.waitFor(/#\d+ disconnected: client closed/);
    await bob.send("while away again");
    await using again = await resuming(b.port, "again", `${token2} ${after}`);
    assertEquals(await again.lines.next(), "* resumed as zoe; 1 missed line follows");
    assertMatch(await again.lines.next(), /^@#parley:\d+ <bob> while away again$/);
    assertNobodyHeard(bob, "zoe");
  },
);

Deno.test(
  "through Redis, a session resumes after its server restarted, with what the others said meanwhile",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    const a = await chat("--redis", redis.url);
    await using b = await chat("--redis", redis.url);
    const zoe = await named(a, "zoe");
    await using bob = await named(b, "bob");
    const token = await sessionOf(zoe);
    await zoe.send("/join #rust");
    await zoe.lines.waitFor(/^\* joined #rust/);
    await bob.send("/join #rust");
    await bob.lines.waitFor(/^\* joined #rust/);
    await zoe.lines.waitFor(/bob joined #rust$/);
    await bob.send("#parley marker");
    const marker = await zoe.lines.waitFor(/marker$/);
    const seen = /^@(#parley:\d+) /.exec(marker)![1];
    // Its server stops (the client is cut with it) and comes back on the same port.
    const port = a.port;
    await a.stop();
    await zoe[Symbol.asyncDispose]();
    await bob.send("#parley while it was down");
    await bob.send("#rust rust while it was down");
    await using restarted = await chat("--redis", redis.url, "--port", String(port));
    await using back = await resuming(restarted.port, "back", `${token} ${seen}`);
    const resumed = await back.lines.next();
    assertMatch(resumed, /^\* resumed as zoe; \d+ missed lines follow$/);
    const lines = await resumedLines(back);
    const said = lines.filter((line) => /<bob>/.test(line)).map((line) => line.replace(/^@#\w+:\d+ /, ""));
    assertEquals(said, ["#parley <bob> while it was down", "#rust <bob> rust while it was down"]);
    // Its rooms had heard it leave with its server: they hear it come back.
    await bob.lines.waitFor(/^(#\w+ )?\* zoe joined$/);
    await back.send("/rooms");
    assertMatch(await back.lines.waitFor(/^\* rooms: /), /#parley \(2, you\), #rust \(2, you, current\)/);
    await back.send("back");
    await bob.lines.waitFor("#rust <zoe> back");
  },
);

Deno.test(
  "more missed than a room keeps: the client is told how many it lost, and the rest arrive in order",
  {
    ignore: !LINUX,
  },
  async () => {
    await using server = await chat("--resume-buffer", "4K", "--rate", "0");
    const zoe = await named(server, "zoe");
    const bob = await named(server, "bob");
    const token = await sessionOf(zoe);
    await zoe[Symbol.asyncDispose]();
    await server.stderr.waitFor(/#1 disconnected/);
    await bob.send(...Array.from({ length: 300 }, (_, i) => `line ${i + 1}`));
    await bob.send("/rooms");
    await bob.lines.waitFor(/^\* rooms: /);
    const back = await resuming(server.port, "back", token);
    try {
      const [, follow, lost] =
        /^\* resumed as zoe; (\d+) missed lines follow; (\d+) more were lost \(more was said than this server keeps\)$/
          .exec(await back.lines.next())!;
      assertEquals(Number(follow) + Number(lost), 300);
      assert(Number(follow) > 0 && Number(lost) > 0, `${follow} kept, ${lost} lost`);
      for (let i = 300 - Number(follow) + 1; i <= 300; i++) {
        assertMatch(await back.lines.next(), new RegExp(`^@#parley:\\d+ <bob> line ${i}$`));
      }
    } finally {
      await closeAll([back, bob]);
    }
  },
);

Deno.test("with --workers and no Redis, /session says what sessions need", { ignore: !LINUX }, async () => {
  await using server = await chat("--workers", "2");
  await server.stderr.waitFor(/workers serving/);
  await using client = await TestClient.connect(server.port);
  await client.lines.waitFor(/^\* welcome, /);
  await client.send("/session");
  assertEquals(
    await client.lines.next(),
    "ERR sessions need --redis with --workers (any worker then resumes them)",
  );
});

Deno.test(
  "with --workers and --redis, a session resumes on whichever worker takes it",
  { ignore: !LINUX },
  async () => {
    await using redis = await RedisServer.start();
    await using server = await chat("--workers", "2", "--redis", redis.url);
    await server.stderr.waitFor(/workers serving/);
    const zoe = await named(server, "zoe");
    await using bob = await named(server, "bob");
    await zoe.lines.waitFor(/ is now bob$/);
    const token = await sessionOf(zoe);
    await zoe[Symbol.asyncDispose]();
    await server.stderr.waitFor(/disconnected/);
    await bob.send("missed 0");
    await bob.send("/who");
    await bob.lines.waitFor(/^\* online: /);
    // Six comebacks in a row, each cut again: the kernel hands each to either worker (all six to the
    // one that kept it: 1 in 32), and each resumes.
    let current = token;
    let seen = "-";
    for (let i = 0; i < 6; i++) {
      const back = await resuming(server.port, `back${i}`, `${current} ${seen}`);
      assertMatch(await back.lines.next(), /^\* resumed as zoe; \d+ missed lines? follows?$/);
      const lines = await resumedLines(back);
      assertEquals(lines.map((line) => line.replace(/^@#parley:\d+ /, "")), [`<bob> missed ${i}`]);
      seen = /^@(#parley:\d+) /.exec(lines[0])![1];
      current = back.lines.seen.at(-1)!.slice("* session ".length);
      await back[Symbol.asyncDispose]();
      await bob.send(`missed ${i + 1}`);
      await bob.send("/who");
      assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: zoe, bob");
    }
    assertNobodyHeard(bob, "zoe");
  },
);

Deno.test(
  "through a frozen Redis, clients with sessions still hear their server's room, and a resume is told it cannot be now",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    await using a = await chat("--redis", redis.url);
    await using zoe = await named(a, "zoe");
    await using amy = await named(a, "amy");
    await zoe.lines.waitFor(/ is now amy$/);
    await sessionOf(zoe);
    await amy.send("before");
    assertMatch(await zoe.lines.waitFor(/before$/), /^@#parley:\d+ <amy> before$/);
    const carl = await named(a, "carl");
    const token = await sessionOf(carl);
    await carl[Symbol.asyncDispose]();
    await a.stderr.waitFor(/disconnected/);
    Deno.kill(redis.pid, "SIGSTOP");
    await using back = await TestClient.connect(a.port, { label: "back" });
    let fresh = "";
    try {
      // Said as Redis froze: it never comes back numbered, and zoe is told it anyway.
      await amy.send("during the freeze");
      assertEquals(await zoe.lines.waitFor(/during the freeze$/, 6000), "<amy> during the freeze");
      await back.lines.waitFor(/^\* welcome, /);
      await back.send(`/resume ${token} -`);
      assertEquals(
        await back.lines.waitFor(/^ERR /, 6000),
        "ERR cannot reach the chat's sessions now (Redis); a new one follows",
      );
      fresh = (await back.lines.waitFor(/^\* session /, 6000)).slice("* session ".length);
    } finally {
      Deno.kill(redis.pid, "SIGCONT");
    }
    await zoe.lines.waitFor(LINK_BACK, 15_000);
    await back.lines.waitFor(LINK_BACK, 15_000);
    await amy.send("after");
    assertMatch(await zoe.lines.waitFor(/after$/), /^@#parley:\d+ <amy> after$/);
    assertEquals(zoe.lines.seen.filter((line) => line.endsWith("during the freeze")).length, 1, "told once");
    // The session started while Redis was frozen learned what it had seen once the link was back:
    // cut and resumed with no numbers of its own, it gets what was said after it left, and no more.
    await back.lines.waitFor(/<amy> after$/);
    await back[Symbol.asyncDispose]();
    await a.stderr.waitFor(/disconnected/);
    await amy.send("later");
    await amy.send("/who");
    await amy.lines.waitFor(/^\* online: /);
    await using again = await resuming(a.port, "again", `${fresh} -`);
    assertMatch(await again.lines.next(), /^\* resumed as user\d+; 2 missed lines follow$/);
  },
);

Deno.test(
  "through Redis, a session on a server killed with -9 resumes on another before the crash is noticed; the reap then tells nobody it left",
  {
    ignore: !LINUX,
  },
  async () => {
    await using redis = await RedisServer.start();
    const a = await chat("--redis", redis.url);
    await using b = await chat("--redis", redis.url);
    const zoe = await named(a, "zoe");
    const amy = await named(a, "amy");
    await using bob = await named(b, "bob");
    await zoe.lines.waitFor(/ is now bob$/);
    const token = await sessionOf(zoe);
    await bob.send("marker");
    const seen = /^@(#parley:\d+) /.exec(await zoe.lines.waitFor(/<bob> marker$/))![1];
    await a.stop("SIGKILL");
    await closeAll([zoe, amy]);
    await bob.send("after the crash");
    await using back = await resuming(b.port, "back", `${token} ${seen}`);
    assertEquals(await back.lines.next(), "* resumed as zoe; 1 missed line follows");
    assertMatch(await back.lines.next(), /^@#parley:\d+ <bob> after the crash$/);
    // The dead server is reaped: amy left with it; zoe, handed over already, did not.
    await bob.lines.waitFor("* amy left", GONE_WITHIN_MS + 5000);
    await bob.send("/who");
    assertEquals(await bob.lines.waitFor(/^\* online: /), "* online: zoe, bob");
    assertNobodyHeard(bob, "zoe");
  },
);
