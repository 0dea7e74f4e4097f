import { assertEquals, assertMatch } from "../support/assert.ts";
import { spawnClient, startServer, TestClient } from "../../scripts/support/harness.ts";
import { WsLines } from "../../scripts/support/ws_lines.ts";

const STAMP = String.raw`\[\d\d:\d\d:\d\d\.\d{3}\]`;

Deno.test("console shows received lines and replies to the client that spoke last", async () => {
  await using server = await startServer(["--mode", "console"], { stdin: true });
  await using first = await TestClient.connect(server.port);
  await using second = await TestClient.connect(server.port);

  await first.send("hello from one");
  assertMatch(await server.stdout.next(), new RegExp(`^${STAMP} #1 127\\.0\\.0\\.1:\\d+ > hello from one$`));
  await server.type("hi one");
  assertEquals(await first.lines.next(), "hi one");

  await second.send("and from two \x1b[2J");
  assertMatch(await server.stdout.next(), new RegExp(`#2 127\\.0\\.0\\.1:\\d+ > and from two \\\\e\\[2J$`));
  await server.type("hi two");
  assertEquals(await second.lines.next(), "hi two");
  await second.send(String.raw`typed \e[2J`);
  assertMatch(await server.stdout.next(), new RegExp(String.raw`#2 127\.0\.0\.1:\d+ > typed \\\\e\[2J$`));

  await server.type("@1 direct to one");
  assertEquals(await first.lines.next(), "direct to one");
  await server.type("/all everyone");
  assertEquals(await first.lines.next(), "everyone");
  assertEquals(await second.lines.next(), "everyone");
  await server.type("//slash");
  assertEquals(await second.lines.next(), "/slash");
});

Deno.test("console /list, /kick and . manage clients", async () => {
  await using server = await startServer(["--mode", "console"], { stdin: true });
  await using first = await TestClient.connect(server.port);
  await using second = await TestClient.connect(server.port);
  await first.send("one");
  await server.stdout.waitFor(/#1 .* > one$/);
  await second.send("two", "three");
  await server.stdout.waitFor(/#2 .* > three$/);

  await server.type("/list");
  assertMatch(await server.stdout.next(), /^ ID +ADDRESS +VIA +SINCE +IN +OUT$/);
  assertMatch(await server.stdout.next(), /^ #1 +127\.0\.0\.1:\d+ +tcp +\d\d:\d\d:\d\d\.\d{3} +1 +0$/);
  assertMatch(await server.stdout.next(), /^\*#2 +127\.0\.0\.1:\d+ +tcp +\d\d:\d\d:\d\d\.\d{3} +2 +0$/);

  await server.type(".");
  assertEquals(await second.lines.rest(), ["* the operator ended the conversation"]);
  await server.stderr.waitFor(/#2 disconnected: operator ended the conversation/);

  await server.type("no one to reply to");
  assertMatch(await server.stdout.next(), /^! no current client/);

  await server.type("/kick 1");
  assertEquals(await first.lines.rest(), ["* disconnected by the operator"]);
  await server.type("/kick 1");
  assertMatch(await server.stdout.next(), /^! no client #1/);
  await server.type("@9 anyone?");
  assertMatch(await server.stdout.next(), /^! no client #9; .*nothing sent/);
  await server.type("/list");
  assertEquals(await server.stdout.next(), "no clients connected");
});

Deno.test("console /stats shows the server's numbers", async () => {
  await using server = await startServer(["--mode", "console"], { stdin: true });
  await using client = await TestClient.connect(server.port);
  await client.send("one", "two");
  await server.stdout.waitFor(/> two$/);
  await server.type("/stats");
  assertMatch(
    await server.stdout.waitFor(/^clients /),
    /^clients +1 open \(tcp 1\); 1 accepted; refused: none$/,
  );
  assertMatch(await server.stdout.next(), /^lines +2 in, 0 out; 8 B in, 0 B out$/);
  assertMatch(await server.stdout.next(), /^queues +0 B waiting/);
  assertMatch(await server.stdout.next(), /^closed +none$/);
  assertMatch(await server.stdout.next(), /^memory +\d+ MiB resident$/);
});

Deno.test("console /quit shuts down gracefully and a client's . ends its conversation", async () => {
  await using server = await startServer(["--mode", "console"], { stdin: true });
  await using leaver = await TestClient.connect(server.port);
  await using stayer = await TestClient.connect(server.port);
  await leaver.send(".");
  assertEquals(await leaver.lines.rest(), []);
  await server.stderr.waitFor(/#1 disconnected: client ended the conversation/);
  await server.type("/quit");
  assertEquals(await stayer.lines.rest(), ["* server shutting down"]);
  assertEquals((await server.status).code, 0);
  await server.stderr.waitFor(/served 2 connections/);
});

Deno.test("console keeps serving after the operator's input ends", async () => {
  await using server = await startServer(["--mode", "console"], { stdin: true });
  await server.closeStdin();
  await server.stderr.waitFor(/operator input ended; still serving/);
  await using client = await TestClient.connect(server.port);
  await client.send("anyone home?");
  await server.stdout.waitFor(/> anyone home\?$/);
});

Deno.test("a scripted client that has said everything still gets the operator's answer", async () => {
  await using server = await startServer(["--mode", "console"], { stdin: true });
  await using client = spawnClient([
    "--port",
    String(server.port),
    "--message",
    "what time is it?",
    "--wait",
    "10",
  ]);
  await server.stdout.waitFor(/#1 127\.0\.0\.1:\d+ > what time is it\?$/);
  await server.stdout.waitFor("! #1 has finished sending; answer it, or . to end the conversation");
  await server.type("half past two");
  assertMatch(await client.stdout.next(), /\] half past two$/);
  await server.type(".");
  assertMatch(await client.stdout.next(), /\] \* the operator ended the conversation$/);
  assertEquals((await client.status).code, 0);
  await server.stderr.waitFor(/#1 disconnected: operator ended the conversation \(1 line in, 2 out/);
});

Deno.test("console: a browser's close frame ends its conversation; no ghost is left in /list", async () => {
  await using server = await startServer(["--mode", "console", "--web", "0"], { stdin: true });
  const browser = await WsLines.open(server.webPort);
  await browser.write(new TextEncoder().encode("bye from the tab\n"));
  await server.stdout.waitFor(/#1 .* > bye from the tab$/);
  // A closed tab sends a close frame: unlike a TCP half-close, nothing can be read after it.
  await browser.closeWrite();
  await server.stderr.waitFor(/#1 disconnected: client closed/, 3000);
  await server.type("/list");
  assertEquals(await server.stdout.waitFor(/no clients connected|^ ID/), "no clients connected");
  browser.close();
});
