/**
 * The chat's transcript (`--transcript`): every line said as JSON, a rotation by `mv` and SIGHUP
 * that loses nothing, and a file that cannot be written logged once while the chat goes on.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  LINUX,
  runToEnd,
  SERVER_PATH,
  startServer,
  taskPermissions,
  TestClient,
} from "../../scripts/support/harness.ts";

/** The entries of a JSON-lines file. */
async function entries(path: string): Promise<Record<string, string>[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

Deno.test("the transcript keeps every line said; mv and SIGHUP start a new file and lose nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-transcript-" });
  const path = `${dir}/chat.jsonl`;
  try {
    await using server = await startServer(["--mode", "chat", "--rate", "0", "--transcript", path]);
    await using alice = await TestClient.connect(server.port);
    await alice.lines.waitFor(/^\* welcome/);
    await using bob = await TestClient.connect(server.port);
    await bob.lines.waitFor(/^\* welcome/);
    await alice.send("/nick alice", "hello \x1b[2J bob", "/me waves");
    await bob.lines.waitFor(/^\* alice waves$/);
    // Lines keep coming while the file is moved away and the server is told.
    const saying = (async () => {
      for (let i = 0; i < 300; i++) {
        await bob.send(`line ${i}`);
        if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await Deno.rename(path, `${path}.1`);
    server.kill("SIGHUP");
    await server.stderr.waitFor(/reopened the transcript$/);
    await saying;
    await alice.lines.waitFor(/^<user2> line 299$/);
    server.kill("SIGTERM");
    await server.status;
    const old = await entries(`${path}.1`);
    const fresh = await entries(path);
    assert(fresh.length > 0, "the new file has the lines said after the SIGHUP");
    const all = [...old, ...fresh];
    assertEquals(all.slice(0, 2).map(({ name, kind, text }) => [name, kind, text]), [
      ["alice", "said", "hello \x1b[2J bob"],
      ["alice", "action", "waves"],
    ]);
    assertEquals(all.slice(2).map((entry) => entry.text), Array.from({ length: 300 }, (_, i) => `line ${i}`));
    for (const entry of all) {
      assertEquals(entry.room, "#parley");
      assertMatch(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a transcript that cannot be written is said once, and the chat goes on",
  { ignore: !LINUX },
  async () => {
    // /dev/full takes every open and refuses every write (ENOSPC). Writing there takes a
    // permission the server's task does not grant (its writes are kept to /tmp, /run, /var/log).
    const command = [Deno.execPath(), "run", "-A", SERVER_PATH, "--port", "0"];
    await using server = await startServer(["--mode", "chat", "--transcript", "/dev/full"], { command });
    await using a = await TestClient.connect(server.port);
    await a.lines.waitFor(/^\* welcome/);
    await using b = await TestClient.connect(server.port);
    await b.lines.waitFor(/^\* welcome/);
    for (let i = 0; i < 5; i++) {
      await a.send(`still talking ${i}`);
      assertEquals(await b.lines.waitFor(/^<user1> /), `<user1> still talking ${i}`);
    }
    await server.stderr.waitFor(
      /cannot write the transcript \/dev\/full: .*; going on without it \(said once\)$/,
    );
    assertEquals(server.stderr.seen.filter((line) => line.includes("cannot write the transcript")).length, 1);
  },
);

Deno.test("a transcript that cannot be opened is one sentence and exit 1", async () => {
  const args = ["--mode", "chat", "--port", "0", "--transcript", "/nonexistent/dir/chat.jsonl"];
  const result = await runToEnd(["run", ...taskPermissions("server"), SERVER_PATH, ...args]);
  assertEquals([result.code, result.stdout], [1, ""]);
  assertMatch(result.stderr, /^cannot open the transcript \/nonexistent\/dir\/chat\.jsonl: [^\n]+\n$/);
});
