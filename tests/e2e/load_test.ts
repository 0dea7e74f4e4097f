import { assert, assertEquals, assertMatch, waitUntil, waitUntilSteady } from "../support/assert.ts";
import { delay } from "../../lib/util/delay.ts";
import { closeAll, LINUX, startServer, TestClient, WINDOWS } from "../../scripts/support/harness.ts";
import { echoUntilShutdown, floodRoom } from "../../scripts/support/load.ts";
import { rss } from "../../scripts/support/measure.ts";
import { writeAll } from "../../lib/util/write.ts";

const encoder = new TextEncoder();

const MiB = 1024 * 1024;

Deno.test("SIGTERM under load: every line read before shutdown is answered, then the notice", {
  ignore: WINDOWS,
}, async () => {
  await using server = await startServer(["--mode", "echo", "--quiet", "--drain-timeout", "5"]);
  const clients = await Promise.all(Array.from({ length: 100 }, () => TestClient.connect(server.port)));
  try {
    const progress = { replies: 0 };
    const results = clients.map((client, c) => echoUntilShutdown(client, c, progress));
    await waitUntil(() => progress.replies >= 5000, "5000 replies under load", 20_000);
    const signalled = Date.now();
    const status = await server.stop("SIGTERM");
    assertEquals(status.code, 0);
    assert(Date.now() - signalled < 5000, "the server did not exit within --drain-timeout");
    const answered = (await Promise.all(results)).reduce((a, b) => a + b, 0);
    const summary = await server.stderr.waitFor(/served/);
    const [, linesIn, linesOut] = /(\d+) lines in, (\d+) lines out/.exec(summary)!.map(Number);
    assert(answered > 1000, `only ${answered} lines were answered: the load was not real`);
    assertEquals(linesOut, linesIn + 100, "every line read got its reply, plus one notice per client");
    assertEquals(answered, linesIn, "every reply reached its client");
  } finally {
    await closeAll(clients);
  }
});

Deno.test(
  "SIGTERM while replies wait in the queue for clients that are not reading: they are flushed, then the notice",
  {
    ignore: WINDOWS,
  },
  async () => {
    await using server = await startServer(["--mode", "echo", "--max-queue", "64K", "--drain-timeout", "10"]);
    // Four clients pipeline numbered lines and read nothing until the server has throttled each of
    // them, which it does only once half of --max-queue of their replies waits, unsent, for a second.
    const conns = await Promise.all(
      Array.from({ length: 4 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
    );
    try {
      const sent = conns.map(() => 0);
      const writing = conns.map(async (conn, c) => {
        try {
          for (let batch = 0; batch < 4000; batch++) {
            const lines = Array.from({ length: 100 }, (_, i) => `${c}:${batch * 100 + i} ${"q".repeat(40)}\n`)
              .join("");
            await writeAll(conn, encoder.encode(lines));
            sent[c] += 100;
          }
        } catch {
          // The server closed at shutdown: the rest was never read, which is allowed.
        }
      });
      const throttled = (c: number) => server.stderr.seen.some((line) => line.includes(`#${c} throttled`));
      await waitUntil(() => [1, 2, 3, 4].every(throttled), "all four throttled", 20_000);
      server.kill("SIGTERM");
      await server.stderr.waitFor(/shutting down \(SIGTERM\)/);
      // Only now does anyone read: every line the server read must come back, in order, then the notice.
      const answered = await Promise.all(conns.map(async (conn, c) => {
        const text = new TextDecoder().decode(await readAll(conn));
        const lines = text.split("\n").filter((line) => line !== "");
        assertEquals(lines.at(-1), "* server shutting down", `client ${c}'s last line`);
        const replies = lines.slice(0, -1);
        replies.forEach((line, i) => {
          if (!line.startsWith(`${c}:${i} `)) {
            throw new Error(`client ${c}: reply ${i} is ${JSON.stringify(line)}`);
          }
        });
        return replies.length;
      }));
      await Promise.all(writing);
      const status = await server.status;
      assertEquals(status.code, 0);
      const summary = server.stderr.seen.find((line) => /served/.test(line))!;
      const [, linesIn, linesOut] = /(\d+) lines in, (\d+) lines out/.exec(summary)!.map(Number);
      const total = answered.reduce((a, b) => a + b, 0);
      assert(answered.every((n) => n > 1000), `replies ${answered}: too few were queued to prove anything`);
      assertEquals(linesOut, linesIn + 4, "a reply for every line read, and one notice each");
      assertEquals(total, linesIn, "every queued reply reached its client");
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed by the server already.
        }
      }
    }
  },
);

/** Reads `conn` to its end. */
async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (
    let n = await conn.read(buffer).catch(() => null);
    n !== null;
    n = await conn.read(buffer).catch(() => null)
  ) {
    chunks.push(buffer.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

Deno.test("a second SIGINT during a stuck drain exits at once with 130", { ignore: WINDOWS }, async () => {
  await using server = await startServer(["--mode", "echo", "--drain-timeout", "60"]);
  // A client that sends far more than it reads leaves the drain with something it cannot flush.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const flood = encoder.encode("flood\n".repeat(100_000));
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 100; i++) written += await conn.write(flood);
    })().catch(() => {/* the server went away: expected */});
    await server.stderr.waitFor(/#1 connected/);
    // Once our writes stall, the server has stopped reading from us: it holds replies it cannot flush.
    await waitUntilSteady(() => written);
    server.kill("SIGINT");
    await server.stderr.waitFor(/shutting down \(SIGINT\)/);
    // A person's second Ctrl+C comes well after the first: within 0.5 s it would count as the same
    // press, which `deno task` delivers twice.
    await delay(700);
    const started = Date.now();
    server.kill("SIGINT");
    assertEquals((await server.status).code, 130);
    assert(Date.now() - started < 10_000, "the second SIGINT did not cut the drain short");
    conn.close();
    await writing;
  } finally {
    try {
      conn.close();
    } catch {
      // Closed above.
    }
  }
});

Deno.test("a SIGINT right after the first is the same Ctrl+C: the drain runs to --drain-timeout, logged", {
  ignore: WINDOWS,
}, async () => {
  await using server = await startServer(["--mode", "echo", "--drain-timeout", "1"]);
  // A client that sends without reading leaves the drain with replies it cannot flush.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  let written = 0;
  const flood = encoder.encode("flood\n".repeat(100_000));
  const writing = (async () => {
    while (true) written += await conn.write(flood);
  })().catch(() => {/* the server went away: expected */});
  try {
    await waitUntilSteady(() => written);
    server.kill("SIGINT");
    await server.stderr.waitFor(/shutting down \(SIGINT\)/);
    // What `deno task` does with one Ctrl+C: the same SIGINT again, milliseconds later.
    server.kill("SIGINT");
    assertEquals((await server.status).code, 0);
    assertMatch(
      await server.stderr.waitFor(/drain timeout/),
      /warn: #1: closed after the drain timeout with \d+ bytes not sent/,
    );
    await server.stderr.waitFor(/served 1 connection,/);
  } finally {
    conn.close();
    await writing;
  }
});

Deno.test("50 slowloris clients and a flooder do not stop a normal client's round trips", async () => {
  await using server = await startServer(["--mode", "echo", "--quiet", "--line-timeout", "1"]);
  const slow = await Promise.all(Array.from({ length: 50 }, () => TestClient.connect(server.port)));
  await using flooder = await TestClient.connect(server.port);
  await using normal = await TestClient.connect(server.port);
  let flooding = true;
  try {
    const trickle = slow.map(async (client) => {
      const ended = client.lines.rest();
      let closed = false;
      void ended.then(() => closed = true);
      while (!closed) {
        await client.write("s").catch(() => closed = true);
        // Pacing is the point: a byte every 50 ms is a line that never ends (slowloris).
        await delay(50);
      }
      return await ended;
    });
    const flood = (async () => {
      let i = 0;
      while (flooding) {
        await flooder.send(...Array.from({ length: 500 }, () => `flood ${i++}`));
        for (let j = 0; j < 500; j++) await flooder.lines.next();
      }
    })();
    for (let i = 0; i < 50; i++) {
      await normal.send(`normal ${i}`);
      assertEquals(await normal.lines.next(2000), `normal ${i}`);
    }
    for (const rest of await Promise.all(trickle)) assertEquals(rest, ["ERR line timeout"]);
    flooding = false;
    await flood;
  } finally {
    flooding = false;
    for (const client of slow) await client[Symbol.asyncDispose]();
  }
});

/**
 * How much a chat server with `--max-queue queue` grows while a slow consumer sits in a 100 MB
 * flood, over the higher peak of two floods without it; checks that the slow consumer is dropped
 * and that the listener got every line.
 */
async function slowConsumerGrowth(queue: string): Promise<number> {
  await using server = await startServer([
    "--mode",
    "chat",
    "--quiet",
    "--max-queue",
    queue,
    "--drain-timeout",
    "1",
    "--rate",
    "0",
  ]);
  await using talker = await TestClient.connect(server.port);
  await using listener = await TestClient.connect(server.port);
  await talker.lines.waitFor("* user2 joined");
  const count = 100_000; // 100 MB through the room: far beyond kernel buffers and the queue limit.
  // The same flood without a slow consumer first, twice: the heap grows to its working size under
  // this traffic, so what follows measures only what the slow consumer adds.
  const warm = Math.max(
    await floodRoom(server.pid, talker, listener, count),
    await floodRoom(server.pid, talker, listener, count),
  );
  const sleeper = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await listener.lines.waitFor("* user3 joined");
    const peak = await floodRoom(server.pid, talker, listener, count);
    assertMatch(await server.stderr.waitFor(/#3 disconnected/), /warn: #3 disconnected: output queue full/);
    return peak - warm;
  } finally {
    sleeper.close();
  }
}

Deno.test("chat: a slow consumer during a flood costs at most its queue in memory; others get every line", {
  ignore: !LINUX,
}, async () => {
  // Two queue sizes, so that what the heap does on its own under this traffic (10-25 MiB, from
  // machine to machine) cancels out: what the slow consumer costs grows with its queue. What the
  // queue holds is at most twice it (the drop rule); in RSS that came to 37-41 MiB for the 7 MiB
  // between these queues on a kernel whose send buffers grow to 4 MiB (the buffers that hold it grow
  // by doubling, and what they leave behind waits for the garbage collector), so the bound is four
  // times the difference. A bound 8x too loose grows it by 92 MiB.
  const small = await slowConsumerGrowth("1M");
  const large = await slowConsumerGrowth("8M");
  assert(
    large - small < 4 * 7 * MiB + 16 * MiB,
    `the slow consumer grew RSS by ${(small / MiB).toFixed(1)} MiB with a 1 MiB queue and by ` +
      `${(large / MiB).toFixed(1)} MiB with an 8 MiB one`,
  );
});

Deno.test(
  "echo: a client that pipelines without reading is back-pressured, not buffered",
  { ignore: !LINUX },
  async () => {
    await using server = await startServer(["--mode", "echo", "--quiet", "--max-queue", "1M"]);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      const before = await rss(server.pid);
      const chunk = encoder.encode(
        "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n".repeat(16384),
      );
      const total = 64; // chunks of ~0.9 MiB: ~60 MiB that the server must not hold
      let written = 0;
      const writing = (async () => {
        for (let i = 0; i < total; i++) {
          let offset = 0;
          while (offset < chunk.length) offset += await conn.write(chunk.subarray(offset));
          written++;
        }
      })();
      // Wait until the writes stall: the server has stopped reading from us.
      await waitUntilSteady(() => written);
      assert(written < total, "the server read everything without anyone reading replies");
      const growth = (await rss(server.pid)) - before;
      assert(growth < 1 * MiB + 24 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB with a 1 MiB queue`);
      // Now read: every reply arrives and the writer finishes.
      let received = 0;
      const buffer = new Uint8Array(1 << 20);
      while (received < total * chunk.length) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error("closed early");
        received += n;
      }
      await writing;
    } finally {
      conn.close();
    }
  },
);
