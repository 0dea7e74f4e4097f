import { assertEquals, assertMatch } from "../support/assert.ts";
import { runClientProcess, spawnClient, startServer } from "../../scripts/support/harness.ts";

Deno.test("client --reconnect comes back after the server restarts and resends nothing", async () => {
  const first = await startServer(["--mode", "echo"]);
  const port = first.port;
  await using client = spawnClient(["--port", String(port), "--reconnect"]);
  await client.type("before the restart");
  assertMatch(await client.stdout.next(), /\] before the restart$/);

  await first.stop("SIGKILL");
  await first[Symbol.asyncDispose]();
  assertMatch(await client.stderr.waitFor(/reconnecting in/), /reconnecting in \d+\.\d s \(attempt 1\)/);
  // Typed while the server is away: sent once the client is back, exactly once.
  await client.type("during the outage");

  await using second = await startServer(["--mode", "echo", "--port", String(port)]);
  await client.stderr.waitFor(/^reconnected to 127\.0\.0\.1:\d+/);
  assertMatch(await client.stdout.next(), /\] during the outage$/);
  await client.type("after the restart");
  assertMatch(await client.stdout.next(), /\] after the restart$/);
  await client.closeStdin();
  assertEquals((await client.status).code, 0);
  await second.stderr.waitFor(/#1 disconnected: client closed \(2 lines in, 2 out/);
});

Deno.test("client --reconnect-attempts gives up with one sentence and exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runClientProcess(["--port", String(port), "--reconnect", "--reconnect-attempts", "3"]);
  assertEquals(
    result.stderr.trim().split("\n").at(-1),
    `cannot connect to 127.0.0.1:${port}: connection refused; gave up after 3 attempts`,
  );
  assertEquals(result.stderr.match(/reconnecting in/g)?.length, 2);
  assertEquals(result.code, 1);
});
