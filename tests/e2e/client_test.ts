import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  receivedTexts,
  runClientProcess,
  spawnClient,
  startServer,
  TestClient,
} from "../../scripts/support/harness.ts";

Deno.test("piped client sends every line and prints every reply before exiting 0", async () => {
  await using server = await startServer(["--mode", "echo"]);
  const result = await runClientProcess(["--port", String(server.port)], "a\nb\n");
  assertEquals(receivedTexts(result.stdout), ["a", "b"]);
  assertEquals(result.stderr.split("\n").filter((line) => line !== ""), [
    `connected to 127.0.0.1:${server.port}`,
    "conversation ended",
  ], "no prompt hints for a script, and the server's close after our end is no news");
  assertEquals(result.code, 0);
});

Deno.test("client says so when the server closes first", async () => {
  await using server = await startServer(["--mode", "echo", "--max-line", "4"]);
  await using client = spawnClient(["--port", String(server.port)]);
  await client.type("too long");
  assertMatch(await client.stdout.next(), /\] ERR line too long \(max 4 bytes\)$/);
  await client.stderr.waitFor("connection closed by server");
  assertEquals((await client.status).code, 1);
});

Deno.test("client sends .. as a lone . and ends at a lone .", async () => {
  await using server = await startServer(["--mode", "echo"]);
  const result = await runClientProcess(["--port", String(server.port)], "..\n...\n..x\n.\nnot sent\n");
  assertEquals(receivedTexts(result.stdout), [".", "..", "..x"]);
  assertEquals(result.code, 0);
});

Deno.test("client stamps each received line and escapes control characters", async () => {
  await using server = await startServer(["--mode", "echo"]);
  const result = await runClientProcess([
    "--port",
    String(server.port),
    "--message",
    "red \x1b[31m alert\x07",
  ]);
  assertMatch(result.stdout, /^\[\d\d:\d\d:\d\d\.\d{3}\] red \\e\[31m alert\\x07\n$/);
  assertEquals(result.code, 0);
});

Deno.test("client --message sends each line in order, --json prints objects", async () => {
  await using server = await startServer(["--mode", "echo"]);
  const result = await runClientProcess([
    "--port",
    String(server.port),
    "--message",
    "first",
    "--message",
    "second \x1b",
    "--json",
  ]);
  const objects = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assertEquals(objects.map((o) => o.text), ["first", "second \x1b"]);
  for (const o of objects) assertMatch(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assertEquals(result.code, 0);
});

Deno.test("client stops at a line with only a dot", async () => {
  await using server = await startServer(["--mode", "echo"]);
  const result = await runClientProcess(["--port", String(server.port)], "one\n.\nnever sent\n");
  assertEquals(receivedTexts(result.stdout), ["one"]);
  assertEquals(result.code, 0);
  await server.stderr.waitFor(/#1 disconnected: client closed \(1 line in/);
});

Deno.test("client exits 1 when the server's last line is an ERR", async () => {
  await using server = await startServer(["--mode", "echo", "--max-line", "10"]);
  const result = await runClientProcess(["--port", String(server.port), "--message", "far too long for ten"]);
  assertEquals(receivedTexts(result.stdout), ["ERR line too long (max 10 bytes)"]);
  assertEquals(result.code, 1);
});

Deno.test("client prints chat lines from others while its own input is still open", async () => {
  await using server = await startServer(["--mode", "chat"]);
  await using client = spawnClient(["--port", String(server.port)]);
  assertMatch(await client.stdout.next(), /\* welcome, user1/);
  await using other = await TestClient.connect(server.port);
  assertMatch(await client.stdout.next(), /\* user2 joined$/);
  await other.send("ping while you type");
  assertMatch(await client.stdout.next(), /<user2> ping while you type$/);
  await client.closeStdin();
  assertEquals((await client.status).code, 0);
});

Deno.test("client that cannot connect says so in one sentence and exits 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runClientProcess(["--port", String(port)]);
  assertEquals(
    result.stderr,
    `cannot connect to 127.0.0.1:${port}: connection refused (is the server running? start one with: deno task server)\n`,
  );
  assertEquals(result.code, 1);
});

Deno.test("client rejects a bad flag with exit 2", async () => {
  const result = await runClientProcess(["--port", "many"]);
  assertEquals(
    result.stderr,
    'parley-client: --port must be a port number from 0 to 65535, got "many" (see --help)\n',
  );
  assertEquals(result.code, 2);
});

Deno.test("a plain client on a TLS port is told the server speaks TLS, and exits 1", async () => {
  await using server = await startServer(["--mode", "echo", "--tls"]);
  const result = await runClientProcess(["--port", String(server.port), "--message", "hi"]);
  assertMatch(result.stderr, /the server speaks TLS; use --tls \(and --fingerprint\)/);
  assertEquals(result.code, 1, result.stderr);
});

Deno.test("a client refused by --deny is told the server closed without a word, and exits 1", async () => {
  await using server = await startServer(["--mode", "echo", "--deny", "127.0.0.1"]);
  await using client = spawnClient(["--port", String(server.port)]);
  await client.stderr.waitFor(/the server closed the connection without a word|connection lost/);
  assertEquals((await client.status).code, 1);
});

Deno.test("a server killed mid-conversation is no goodbye: the client exits 1", async () => {
  const server = await startServer(["--mode", "echo"]);
  await using client = spawnClient(["--port", String(server.port)]);
  await client.type("still here");
  await client.stdout.waitFor(/\] still here$/);
  await server.stop("SIGKILL");
  await client.stderr.waitFor(/without a goodbye|connection lost/);
  assertEquals((await client.status).code, 1);
});

Deno.test("a server's goodbye is a normal end: the client exits 0 at a shutdown", async () => {
  const server = await startServer(["--mode", "echo"]);
  await using client = spawnClient(["--port", String(server.port)]);
  await client.type("before the end");
  await client.stdout.waitFor(/\] before the end$/);
  await server.stop("SIGTERM");
  await client.stdout.waitFor(/\] \* server shutting down$/);
  await client.stderr.waitFor("connection closed by server");
  assertEquals((await client.status).code, 0);
});
