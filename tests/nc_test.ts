/**
 * Interop with a client no one here wrote: OpenBSD netcat (`nc`, Debian's netcat-openbsd, which
 * .ci/run installs). `-N` half-closes the socket when stdin ends, as our own client does.
 */

import { assertEquals, assertMatch } from "./assert.ts";
import { LineReader, LINUX, runToEnd, startServer, TestClient } from "./harness.ts";

function spawnNc(
  port: number,
): { stdout: LineReader; stdin: WritableStreamDefaultWriter<Uint8Array>; child: Deno.ChildProcess } {
  const child = new Deno.Command("nc", {
    args: ["-N", "127.0.0.1", String(port)],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  })
    .spawn();
  return { child, stdout: new LineReader(child.stdout, "nc stdout"), stdin: child.stdin.getWriter() };
}

const encoder = new TextEncoder();

Deno.test("nc gets its lines echoed, CRLF (-C) included", { ignore: !LINUX }, async () => {
  await using server = await startServer(["--mode", "echo"]);
  const plain = await runToEnd(["-N", "127.0.0.1", String(server.port)], {
    program: "nc",
    input: "one\ntwo\n",
  });
  assertEquals(plain.stdout, "one\ntwo\n");
  const crlf = await runToEnd(["-C", "-N", "127.0.0.1", String(server.port)], {
    program: "nc",
    input: "three\n",
  });
  assertEquals(crlf.stdout, "three\n");
});

Deno.test("nc takes part in a chat", { ignore: !LINUX }, async () => {
  await using server = await startServer(["--mode", "chat"]);
  const nc = spawnNc(server.port);
  try {
    assertMatch(await nc.stdout.next(), /^\* welcome, user1/);
    await using other = await TestClient.connect(server.port);
    await other.lines.waitFor(/^\* welcome/);
    assertEquals(await nc.stdout.next(), "* user2 joined");
    await nc.stdin.write(encoder.encode("/nick netcat\nhello from nc\n"));
    assertEquals(await nc.stdout.next(), "* you are now netcat");
    assertEquals(await other.lines.next(), "* user1 is now netcat");
    assertEquals(await other.lines.next(), "<netcat> hello from nc");
    await other.send("hello nc");
    assertEquals(await nc.stdout.next(), "<user2> hello nc");
  } finally {
    await nc.stdin.close();
    assertEquals((await nc.child.status).code, 0);
    await nc.stdout.rest();
  }
});

Deno.test(
  "nc talks with the operator in console mode until the operator types .",
  { ignore: !LINUX },
  async () => {
    await using server = await startServer(["--mode", "console"], { stdin: true });
    const nc = spawnNc(server.port);
    try {
      await nc.stdin.write(encoder.encode("hello operator\n"));
      await server.stdout.waitFor(/#1 127\.0\.0\.1:\d+ > hello operator$/);
      await server.type("hello nc");
      assertEquals(await nc.stdout.next(), "hello nc");
      await server.type(".");
      assertEquals(await nc.stdout.next(), "* the operator ended the conversation");
      await server.stderr.waitFor(/#1 disconnected: operator ended the conversation/);
    } finally {
      await nc.stdin.close().catch(() => {/* nc exited when the server closed */});
      await nc.child.status;
    }
  },
);
