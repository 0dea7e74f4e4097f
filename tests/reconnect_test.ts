import { assertEquals, assertMatch } from "./assert.ts";
import { CLIENT_PATH, LineReader, runClientProcess, startServer } from "./harness.ts";

const encoder = new TextEncoder();

Deno.test("client --reconnect comes back after the server restarts and resends nothing", async () => {
  const first = await startServer(["--mode", "echo"]);
  const port = first.port;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", CLIENT_PATH, "--port", String(port), "--reconnect"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new LineReader(child.stdout, "client stdout");
  const stderr = new LineReader(child.stderr, "client stderr");
  const stdin = child.stdin.getWriter();
  try {
    await stdin.write(encoder.encode("before the restart\n"));
    assertMatch(await stdout.next(), /\] before the restart$/);

    await first.stop("SIGKILL");
    await first[Symbol.asyncDispose]();
    assertMatch(await stderr.waitFor(/reconnecting in/), /reconnecting in \d+\.\d s \(attempt 1\)/);
    // Typed while the server is away: sent once the client is back, exactly once.
    await stdin.write(encoder.encode("during the outage\n"));

    await using second = await startServer(["--mode", "echo", "--port", String(port)]);
    await stderr.waitFor(/^reconnected to 127\.0\.0\.1:\d+/);
    assertMatch(await stdout.next(), /\] during the outage$/);
    await stdin.write(encoder.encode("after the restart\n"));
    assertMatch(await stdout.next(), /\] after the restart$/);
    await stdin.close();
    assertEquals((await child.status).code, 0);
    await second.stderr.waitFor(/#1 disconnected: client closed \(2 lines in, 2 out/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await child.status;
    await Promise.all([stdout.rest(), stderr.rest()]);
  }
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
