/**
 * Unix sockets: a round trip in each mode, the socket file's permissions, a stale file replaced, a
 * live one refused, the file removed at shutdown, and peers shown as `unix`.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  LINUX,
  runClientProcess,
  runToEnd,
  SERVER_PATH,
  spawnClient,
  startServer,
  taskPermissions,
} from "../../scripts/support/harness.ts";

const ignore = !LINUX; // macOS works too, but CI here runs Linux.

/** Runs `test` with a fresh directory for socket files, removed afterwards. */
async function inTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "parley-unix-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "echo over a Unix socket, made with mode 0600 and removed at shutdown",
  { ignore },
  () =>
    inTempDir(async (dir) => {
      const path = `${dir}/echo.sock`;
      const server = await startServer(["--mode", "echo", "--unix", path]);
      try {
        assertMatch(server.stderr.seen[0], new RegExp(`listening on ${path} \\(echo mode, unix\\)$`));
        const info = await Deno.lstat(path);
        assert(info.isSocket);
        assertEquals(info.mode! & 0o777, 0o600);
        const result = await runClientProcess(["--unix", path, "--message", "over unix"]);
        assertMatch(result.stdout, /\] over unix\n$/);
        assertEquals(result.code, 0);
        assertMatch(await server.stderr.waitFor(/#1 connected/), /#1 connected from unix/);
        assertEquals((await server.stop()).code, 0);
        await Deno.lstat(path).then(() => assert(false, "the socket file is still there"), () => {});
      } finally {
        await server[Symbol.asyncDispose]();
      }
    }),
);

Deno.test(
  "chat between two clients over a Unix socket; --unix-mode sets the file's mode",
  { ignore },
  () =>
    inTempDir(async (dir) => {
      const path = `${dir}/chat.sock`;
      await using _server = await startServer(["--mode", "chat", "--unix", path, "--unix-mode", "660"]);
      assertEquals((await Deno.lstat(path)).mode! & 0o777, 0o660);
      await using alice = spawnClient(["--unix", path]);
      await alice.stdout.waitFor(/welcome, user1/);
      const bob = await runClientProcess(["--unix", path, "--message", "hello alice"]);
      assertEquals(bob.code, 0);
      await alice.stdout.waitFor(/<user2> hello alice$/);
      await alice.closeStdin();
    }),
);

Deno.test(
  "console mode over a Unix socket: the operator sees `unix` and answers",
  { ignore },
  () =>
    inTempDir(async (dir) => {
      const path = `${dir}/console.sock`;
      await using server = await startServer(["--mode", "console", "--unix", path], { stdin: true });
      await using client = spawnClient(["--unix", path]);
      await client.type("anyone?");
      await server.stdout.waitFor(/#1 unix > anyone\?$/);
      await server.type("yes");
      await client.stdout.waitFor(/\] yes$/);
      await server.type("/list");
      assertMatch(await server.stdout.waitFor(/#1 /), /^\*#1 +unix +unix +\d\d:/);
      await client.closeStdin();
    }),
);

Deno.test("a stale socket file is replaced; one a live server answers on is refused in one sentence", {
  ignore,
}, () =>
  inTempDir(async (dir) => {
    const path = `${dir}/p.sock`;
    const crashed = await startServer(["--mode", "echo", "--unix", path]);
    await crashed.stop("SIGKILL");
    await crashed[Symbol.asyncDispose]();
    assert((await Deno.lstat(path)).isSocket, "a killed server leaves its socket file behind");
    await using _server = await startServer(["--mode", "echo", "--unix", path]);
    const result = await runClientProcess(["--unix", path, "--message", "after the crash"]);
    assertMatch(result.stdout, /\] after the crash\n$/);
    const second = await runToEnd(["run", ...taskPermissions("server"), SERVER_PATH, "--unix", path]);
    assertEquals(second.stderr, `cannot listen on ${path}: ${path} is in use by a running server\n`);
    assertEquals(second.code, 1);
    await Deno.writeTextFile(`${dir}/file`, "not a socket");
    const notSocket = await runToEnd([
      "run",
      ...taskPermissions("server"),
      SERVER_PATH,
      "--unix",
      `${dir}/file`,
    ]);
    assertEquals(
      notSocket.stderr,
      `cannot listen on ${dir}/file: ${dir}/file exists and is not a socket; it is left alone\n`,
    );
    assertEquals(await Deno.readTextFile(`${dir}/file`), "not a socket");
  }));

Deno.test("--unix with --tls or --workers is a usage error", async () => {
  const cases = [
    [["--tls"], "--tls works over TCP only, not with --unix"],
    [
      ["--workers", "2", "--mode", "echo"],
      "--workers above 1 needs TCP: workers share a port, not a socket file",
    ],
  ] as const;
  for (const [args, message] of cases) {
    const result = await runToEnd(["run", "-A", SERVER_PATH, "--unix", "/tmp/x.sock", ...args]);
    assertEquals(result.stderr, `parley-server: ${message} (see --help)\n`);
    assertEquals(result.code, 2);
  }
});

Deno.test(
  "under umask 002 the socket is never reachable before it has its mode: no socket but the final one appears beside it",
  { ignore },
  () =>
    inTempDir(async (dir) => {
      const path = `${dir}/s.sock`;
      // Every file created directly in `dir` while the server starts, as inotify reports it.
      const watcher = Deno.watchFs(dir, { recursive: false });
      const created: string[] = [];
      const watching = (async () => {
        for await (const event of watcher) if (event.kind === "create") created.push(...event.paths);
      })();
      const permissions = taskPermissions("server").join(" ");
      const command =
        `umask 002; exec "${Deno.execPath()}" run ${permissions} "${SERVER_PATH}" --mode echo --unix "${path}"`;
      await using server = await startServer([], { command: ["sh", "-c", command] });
      assertEquals((await Deno.lstat(path)).mode! & 0o777, 0o600);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let inotify's last events arrive
      watcher.close();
      await watching;
      // The staging socket lives in a private directory (0700); nothing group-writable ever sits here.
      const beside = created.filter((file) => file !== path);
      for (const file of beside) {
        const info = await Deno.lstat(file).catch(() => undefined);
        assert.ok(info === undefined || info.isDirectory, `${file} appeared beside the socket`);
        assert.ok(/\/\.parley-[^/]+$/.test(file), `${file} is not a private staging directory`);
      }
      assert.ok(
        !created.some((file) => /\.tmp$/.test(file)),
        `a staging socket appeared: ${created.join(", ")}`,
      );
      await server.stop();
    }),
);

Deno.test(
  "--unix names the path it was given when it cannot listen there, never a staging file",
  { ignore },
  async () => {
    const result = await runToEnd([
      "run",
      ...taskPermissions("server"),
      SERVER_PATH,
      "--unix",
      "/var/lib/parley-test.sock",
    ]);
    assertEquals(result.code, 1);
    assertMatch(
      result.stderr.trim(),
      /^cannot listen on \/var\/lib\/parley-test\.sock: not permitted: .*"\/var\/lib\/parley-test\.sock"/,
    );
    assert.ok(!/\.tmp|\.parley-/.test(result.stderr), result.stderr);
  },
);
