/**
 * Interop with a client no one here wrote: OpenBSD netcat (`nc`, Debian's netcat-openbsd, which
 * .ci/run installs). `-N` half-closes the socket when stdin ends, as our own client does.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  LINUX,
  type ProcessHandle,
  runToEnd,
  type ServerProcess,
  spawnProcess,
  startServer,
  TestClient,
} from "../../scripts/support/harness.ts";

/** `nc` connected to `port`; its stdin half-closes the socket when it ends (`-N`). */
function spawnNc(port: number): ProcessHandle {
  return spawnProcess("nc", ["-N", "127.0.0.1", String(port)], { stdin: true });
}

/** `nc` in a chat on `server` as user1, with a TestClient as user2 that both know has joined. */
async function ncInChat(server: ServerProcess): Promise<{ nc: ProcessHandle; other: TestClient }> {
  const nc = spawnNc(server.port);
  assertMatch(await nc.stdout.next(), /^\* welcome, user1/);
  const other = await TestClient.connect(server.port);
  await other.lines.waitFor(/^\* welcome/);
  assertEquals(await nc.stdout.next(), "* user2 joined");
  return { nc, other };
}

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
  const joined = await ncInChat(server);
  await using nc = joined.nc;
  await using other = joined.other;
  await nc.type("/nick netcat");
  await nc.type("hello from nc");
  assertEquals(await nc.stdout.next(), "* you are now netcat");
  assertEquals(await other.lines.next(), "* user1 is now netcat");
  assertEquals(await other.lines.next(), "<netcat> hello from nc");
  await other.send("hello nc");
  assertEquals(await nc.stdout.next(), "<user2> hello nc");
  await nc.closeStdin();
  assertEquals((await nc.status).code, 0);
});

Deno.test(
  "nc talks with the operator in console mode until the operator types .",
  { ignore: !LINUX },
  async () => {
    await using server = await startServer(["--mode", "console"], { stdin: true });
    await using nc = spawnNc(server.port);
    await nc.type("hello operator");
    await server.stdout.waitFor(/#1 127\.0\.0\.1:\d+ > hello operator$/);
    await server.type("hello nc");
    assertEquals(await nc.stdout.next(), "hello nc");
    await server.type(".");
    assertEquals(await nc.stdout.next(), "* the operator ended the conversation");
    await server.stderr.waitFor(/#1 disconnected: operator ended the conversation/);
    // OpenBSD nc keeps running while its stdin is open, whatever the server did.
    await nc.closeStdin();
    await nc.status;
  },
);

Deno.test("nc in a chat: /ME is an action, an empty line says nothing, /QUIT leaves with its reason", {
  ignore: !LINUX,
}, async () => {
  await using server = await startServer(["--mode", "chat"]);
  const joined = await ncInChat(server);
  await using nc = joined.nc;
  await using other = joined.other;
  await nc.type("/ME waves");
  await nc.type("");
  await nc.type("/Nick");
  await nc.type("after the blank");
  assertEquals(await other.lines.next(), "* user1 waves");
  assertMatch(await nc.stdout.next(), /^ERR usage: \/nick NAME/);
  assertEquals(await other.lines.next(), "<user1> after the blank", "the empty line was not relayed");
  await nc.type("/QUIT off to lunch");
  assertEquals(await nc.stdout.next(), "* bye");
  assertEquals(await other.lines.next(), "* user1 left (off to lunch)");
  await nc.closeStdin();
  assertEquals((await nc.status).code, 0);
  assertEquals(await nc.stdout.rest(), [], "nothing after the goodbye");
});
