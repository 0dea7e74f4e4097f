import { assertEquals, assertMatch } from "../support/assert.ts";
import { runToEnd, SERVER_PATH, startServer, TestClient, WINDOWS } from "../../scripts/support/harness.ts";

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(
    `${signal} tells connected clients, flushes, and exits 0 with a summary`,
    { ignore: WINDOWS },
    async () => {
      await using server = await startServer(["--mode", "echo"]);
      await using a = await TestClient.connect(server.port);
      await using b = await TestClient.connect(server.port);
      await a.send("before");
      assertEquals(await a.lines.next(), "before");
      await b.send("also before");
      assertEquals(await b.lines.next(), "also before");

      const status = await server.stop(signal);
      assertEquals(status.code, 0);
      assertEquals(await a.lines.rest(), ["* server shutting down"]);
      assertEquals(await b.lines.rest(), ["* server shutting down"]);
      await server.stderr.waitFor(new RegExp(`shutting down \\(${signal}\\); closing 2 connections`));
      // Both leave at once; each disconnect counts those still open after it.
      const opens = [await server.stderr.waitFor(/disconnected/), await server.stderr.waitFor(/disconnected/)]
        .map((line) => /; (\d+) open\)$/.exec(line)![1]);
      assertEquals(opens, ["1", "0"]);
      assertMatch(await server.stderr.waitFor(/served/), /served 2 connections, 2 lines in, 4 lines out/);
    },
  );
}

Deno.test("a port in use is one sentence and exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const result = await runToEnd(["run", "--allow-net", SERVER_PATH, "--port", String(listener.addr.port)]);
    assertEquals(result.stderr, `cannot listen on 127.0.0.1:${listener.addr.port}: address already in use\n`);
    assertEquals(result.code, 1);
  } finally {
    listener.close();
  }
});

Deno.test("a port in use on [::1] names the address once bracketed", async () => {
  const listener = Deno.listen({ hostname: "::1", port: 0 });
  try {
    const { port } = listener.addr;
    const result = await runToEnd([
      "run",
      "--allow-net",
      SERVER_PATH,
      "--host",
      "[::1]",
      "--port",
      String(port),
    ]);
    assertEquals(result.stderr, `cannot listen on [::1]:${port}: address already in use\n`);
    assertEquals(result.code, 1);
  } finally {
    listener.close();
  }
});

Deno.test("an empty --host is a usage error, exit 2", async () => {
  const result = await runToEnd(["run", "--allow-net", SERVER_PATH, "--host", ""]);
  assertEquals(result.stderr, 'parley-server: --host needs an address or a host name, got "" (see --help)\n');
  assertEquals(result.code, 2);
});

Deno.test("a bad flag is one line with a hint, exit 2; --help exits 0", async () => {
  const bad = await runToEnd(["run", "--allow-net", SERVER_PATH, "--mode", "karaoke"]);
  assertEquals(
    bad.stderr,
    'parley-server: --mode must be one of console, echo, chat, got "karaoke" (see --help)\n',
  );
  assertEquals(bad.code, 2);
  const help = await runToEnd(["run", "--allow-net", SERVER_PATH, "--help"]);
  assertMatch(help.stdout, /^parley-server \d+\.\d+\.\d+: /);
  assertMatch(help.stdout, /--mode MODE/);
  assertEquals(help.code, 0);
});

Deno.test("--log json writes one object per event, whatever a client sends", async () => {
  await using server = await startServer(["--mode", "echo", "--log", "json"]);
  const listening = JSON.parse(server.stderr.seen[0]);
  assertEquals(listening.event, "listening");
  assertMatch(listening.msg, /^listening on 127\.0\.0\.1:\d+ \(echo mode\)$/);
  await using client = await TestClient.connect(server.port);
  await client.send('\x1b[31m\u2028"}{');
  await client.lines.next();
  await server.stop();
  const events = (await server.stderr.rest()).map((line) => JSON.parse(line));
  assertEquals(events.map((e) => e.event), ["connect", "shutdown", "disconnect", "summary"]);
  for (const e of events) assertMatch(e.time, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
});
