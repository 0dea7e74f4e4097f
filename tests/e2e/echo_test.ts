import { assertEquals, assertMatch } from "../support/assert.ts";
import { startServer, TestClient } from "../../scripts/support/harness.ts";

Deno.test("echo serves 100 concurrent clients, every reply checked", async () => {
  await using server = await startServer(["--mode", "echo"]);
  const roundTrips = 50;
  await Promise.all(Array.from({ length: 100 }, async (_, c) => {
    await using client = await TestClient.connect(server.port);
    for (let i = 0; i < roundTrips; i++) {
      const line = `client ${c} line ${i} ${"x".repeat(i)}`;
      await client.send(line);
      assertEquals(await client.lines.next(), line);
    }
  }));
  await server.stderr.waitFor(/disconnected: .*; 0 open\)$/);
  assertEquals((await server.stop()).code, 0);
  assertMatch(await server.stderr.waitFor(/served/), /served 100 connections, 5000 lines in, 5000 lines out/);
});

Deno.test("echo answers a pipelined burst in order", async () => {
  await using server = await startServer(["--mode", "echo"]);
  await using client = await TestClient.connect(server.port);
  const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
  await client.send(...lines);
  for (const line of lines) assertEquals(await client.lines.next(), line);
});

Deno.test("echo returns lines byte for byte: UTF-8, CRLF stripped, controls untouched", async () => {
  await using server = await startServer(["--mode", "echo"]);
  await using client = await TestClient.connect(server.port);
  await client.write("ünïcödé 🚀\r\nbell\x07 esc\x1b[31m\n\n");
  assertEquals(await client.lines.next(), "ünïcödé 🚀");
  assertEquals(await client.lines.next(), "bell\x07 esc\x1b[31m");
  assertEquals(await client.lines.next(), "");
});

Deno.test("an overlong line gets ERR and a close; the server keeps serving others", async () => {
  await using server = await startServer(["--mode", "echo", "--max-line", "100"]);
  await using bystander = await TestClient.connect(server.port);
  await using offender = await TestClient.connect(server.port);
  await offender.write(`fine\n${"y".repeat(101)}\nnever answered\n`);
  assertEquals(await offender.lines.rest(), ["fine", "ERR line too long (max 100 bytes)"]);
  await bystander.send("still there?");
  assertEquals(await bystander.lines.next(), "still there?");
  assertMatch(
    await server.stderr.waitFor(/disconnected: line too long/),
    /warn: #2 disconnected: line too long/,
  );
});

Deno.test("after a half-close the server answers the complete lines, then closes", async () => {
  await using server = await startServer(["--mode", "echo"]);
  await using client = await TestClient.connect(server.port);
  await client.write("a\nb\npartial");
  await client.closeWrite();
  assertEquals(await client.lines.rest(), ["a", "b"]);
  await server.stderr.waitFor(/#1 disconnected: client closed \(2 lines in, 2 out/);
});

Deno.test("the server listens on IPv6 loopback too", async () => {
  await using server = await startServer(["--mode", "echo", "--host", "::1"]);
  assertMatch(server.stderr.seen[0], /listening on \[::1\]:\d+ \(echo mode\)/);
  await using client = await TestClient.connect(server.port, { hostname: "::1" });
  await client.send("over v6");
  assertEquals(await client.lines.next(), "over v6");
});
