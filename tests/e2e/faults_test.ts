import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LineReader, LINUX, SERVER_PATH, startServer, TestClient } from "../../scripts/support/harness.ts";

const encoder = new TextEncoder();

/** Reads from `conn` until `count` bytes have arrived. */
async function readBytes(conn: Deno.TcpConn, count: number): Promise<Uint8Array> {
  const out = new Uint8Array(count);
  let got = 0;
  while (got < count) {
    const n = await conn.read(out.subarray(got));
    if (n === null) throw new Error(`connection closed after ${got} of ${count} bytes`);
    got += n;
  }
  return out;
}

/** Fails the test if the server ever logged an unhandled rejection. */
function assertNoUnhandled(stderr: readonly string[]): void {
  const bad = stderr.filter((line) => /unhandled|uncaught/i.test(line));
  assertEquals(bad, [], "the server logged an unhandled error");
}

Deno.test("echo returns invalid UTF-8, NUL and control bytes exactly", async () => {
  await using server = await startServer(["--mode", "echo"]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const hostile = Uint8Array.of(
      0xff,
      0xfe,
      0x00,
      0x01,
      0x1b,
      0x5b,
      0x32,
      0x4a,
      0xc3,
      0x28,
      0x9b,
      0x7f,
      0x0d,
      0x0a,
    );
    await conn.write(hostile);
    // The \r before the \n is part of the terminator, not the line.
    assertEquals(await readBytes(conn, hostile.length - 1), Uint8Array.of(...hostile.subarray(0, -2), 0x0a));
  } finally {
    conn.close();
  }
});

Deno.test("console and JSON log stay clean whatever bytes a client sends", async () => {
  await using server = await startServer(["--mode", "console", "--log", "json"], { stdin: true });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(Uint8Array.of(0x1b, 0x5d, 0x30, 0x3b, 0x07, 0xff, 0x00, 0xc2, 0x9b, 0x32, 0x4a, 0x0a));
    const shown = await server.stdout.next();
    assertMatch(shown, /> \\e\]0;\\x07\uFFFD\\x00\\x9b2J$/);
    // deno-lint-ignore no-control-regex -- looking for control characters is the point.
    assertEquals(/[\u0000-\u001f\u007f-\u009f]/.test(shown), false);
  } finally {
    conn.close();
  }
  await server.stop();
  for (const line of [...server.stderr.seen, ...await server.stderr.rest()]) JSON.parse(line);
});

Deno.test("100,000 lines in one write are all answered, in order", async () => {
  await using server = await startServer(["--mode", "echo", "--quiet"]);
  await using client = await TestClient.connect(server.port);
  const count = 100_000;
  const sending = client.write(Array.from({ length: count }, (_, i) => `pipelined ${i}\n`).join(""));
  for (let i = 0; i < count; i++) {
    const line = await client.lines.next();
    if (line !== `pipelined ${i}`) assertEquals(line, `pipelined ${i}`);
  }
  await sending;
});

Deno.test("a reset in the middle of a line, a silent client and a connect storm leave the server serving", async () => {
  await using server = await startServer(["--mode", "echo"]);
  await using silent = await TestClient.connect(server.port);

  // Closing with unread data makes the kernel send RST instead of FIN.
  const resetter = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await resetter.write(encoder.encode("abc\ndef\nghi\npartial line"));
  await readBytes(resetter, 4);
  resetter.close();
  await server.stderr.waitFor(
    /#2 disconnected: (connection reset by peer|connection closed by peer|client closed)/,
  );

  // A storm: 500 connections opened and dropped, in waves, half of them mid-line.
  for (let wave = 0; wave < 10; wave++) {
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      if (i % 2 === 0) await conn.write(encoder.encode("half a li")).catch(() => {});
      conn.close();
    }));
  }
  await using probe = await TestClient.connect(server.port);
  await probe.send("after the storm");
  assertEquals(await probe.lines.next(), "after the storm");
  await silent.send("the silent one was never disturbed");
  assertEquals(await silent.lines.next(), "the silent one was never disturbed");
  assertEquals((await server.stop()).code, 0);
  const log = [...server.stderr.seen, ...await server.stderr.rest()];
  assertMatch(log.at(-1)!, /served 503 connections/);
  assertNoUnhandled(log);
});

Deno.test(
  "accept errors (EMFILE) are logged once per burst and recovered from",
  { ignore: !LINUX },
  async () => {
    const child = new Deno.Command("prlimit", {
      args: [
        "--nofile=64:64",
        Deno.execPath(),
        "run",
        "--allow-net",
        SERVER_PATH,
        "--mode",
        "echo",
        "--port",
        "0",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new LineReader(child.stderr, "server stderr");
    const conns: Deno.TcpConn[] = [];
    try {
      const port = Number(/:(\d+) /.exec(await stderr.waitFor(/listening on/))![1]);
      // More connections than the server has descriptors: the kernel completes them all, the
      // server can accept only some and must back off instead of spinning or dying.
      for (let i = 0; i < 80; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      await stderr.waitFor(/warn: accept failed: too many open files; backing off/);
      for (const conn of conns.splice(0, 60)) conn.close();
      await stderr.waitFor(/accepting again after \d+ failed accepts/);
      await Promise.all(conns.map(async (conn, i) => {
        await conn.write(encoder.encode(`survivor ${i}\n`));
        assertEquals(
          new TextDecoder().decode(await readBytes(conn, `survivor ${i}\n`.length)),
          `survivor ${i}\n`,
        );
      }));
      const failures = stderr.seen.filter((line) => line.includes("accept failed")).length;
      const recoveries = stderr.seen.filter((line) => line.includes("accepting again")).length;
      assert(
        failures <= recoveries + 1,
        `${failures} accept warnings for ${recoveries} recoveries: one per burst`,
      );
    } finally {
      for (const conn of conns) conn.close();
      child.kill("SIGTERM");
      assertEquals((await child.status).code, 0);
      assertNoUnhandled(await stderr.rest());
    }
  },
);
