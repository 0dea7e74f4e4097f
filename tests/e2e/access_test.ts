/** `--allow` and `--deny` against real connections, IPv4 and IPv6. */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { runToEnd, SERVER_PATH, startServer, TestClient } from "../../scripts/support/harness.ts";

/** A client the server turned away: closed before a byte was read, and nothing sent to it. */
async function assertRefused(port: number, hostname = "127.0.0.1"): Promise<void> {
  await using client = await TestClient.connect(port, { hostname });
  await client.send("let me in").catch(() => {/* closed already: that is the point */});
  assertEquals(await client.lines.rest(), []);
}

Deno.test("--deny 127.0.0.1 closes the connection at once, logs and counts it", async () => {
  await using server = await startServer(["--mode", "echo", "--deny", "127.0.0.1"]);
  await assertRefused(server.port);
  assertMatch(await server.stderr.waitFor(/denied/), /warn: denied 127\.0\.0\.1:\d+: in --deny$/);
  assertEquals((await server.stop()).code, 0);
  assertMatch(
    await server.stderr.waitFor(/served/),
    /served 0 connections, 0 lines in, 0 lines out; 1 denied$/,
  );
});

Deno.test("--allow 10.0.0.0/8 refuses 127.0.0.1; --allow 127.0.0.0/8 admits it", async () => {
  {
    await using server = await startServer(["--mode", "echo", "--allow", "10.0.0.0/8"]);
    await assertRefused(server.port);
    assertMatch(await server.stderr.waitFor(/denied/), /: not in --allow$/);
  }
  await using server = await startServer(["--mode", "echo", "--allow", "10.0.0.0/8,127.0.0.0/8"]);
  await using client = await TestClient.connect(server.port);
  await client.send("welcome");
  assertEquals(await client.lines.next(), "welcome");
});

Deno.test("::1 is judged by IPv6 entries", async () => {
  {
    await using server = await startServer(["--mode", "echo", "--host", "::1", "--deny", "::1"]);
    await assertRefused(server.port, "::1");
  }
  await using server = await startServer([
    "--mode",
    "echo",
    "--host",
    "::1",
    "--allow",
    "::1/128",
    "--deny",
    "127.0.0.1",
  ]);
  await using client = await TestClient.connect(server.port, { hostname: "::1" });
  await client.send("v6");
  assertEquals(await client.lines.next(), "v6");
});

Deno.test("on a dual-stack listener an IPv4 client (::ffff:127.0.0.1) matches its IPv4 entry", async () => {
  await using server = await startServer(["--mode", "echo", "--host", "::", "--allow", "127.0.0.1"]);
  await using client = await TestClient.connect(server.port);
  await client.send("mapped");
  assertEquals(await client.lines.next(), "mapped");
  await assertRefused(server.port, "::1");
});

Deno.test("--allow-file and --deny-file take one entry a line; a bad entry is exit 2, named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-access-" });
  try {
    await Deno.writeTextFile(`${dir}/deny`, "# loopback is not welcome\n127.0.0.1  # v4\n");
    {
      await using server = await startServer(["--mode", "echo", "--deny-file", `${dir}/deny`]);
      await assertRefused(server.port);
    }
    await Deno.writeTextFile(`${dir}/bad`, "10.0.0.0/8\nnot-an-address\n");
    const bad = await runToEnd(["run", "-A", SERVER_PATH, "--port", "0", "--allow-file", `${dir}/bad`]);
    assertEquals(
      bad.stderr,
      `parley-server: --allow-file ${dir}/bad: "not-an-address" is not an IP address or a CIDR block such as ` +
        `10.0.0.0/8 or fd00::/8 (see --help)\n`,
    );
    assertEquals(bad.code, 2);
    const flag = await runToEnd(["run", "-A", SERVER_PATH, "--port", "0", "--deny", "10.0.0.0/33"]);
    assertMatch(flag.stderr, /^parley-server: --deny: "10\.0\.0\.0\/33" is not an IP address/);
    assertEquals(flag.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a flood of denied connections costs a few log lines, not one each", async () => {
  await using server = await startServer(["--mode", "echo", "--deny", "127.0.0.1"]);
  for (let i = 0; i < 60; i++) await assertRefused(server.port);
  assertEquals((await server.stop()).code, 0);
  const log = [...server.stderr.seen, ...await server.stderr.rest()];
  const lines = log.filter((line) => /denied/.test(line));
  assert(lines.length < 20, `${lines.length} log lines for 60 denied connections`);
  assert(log.some((line) => /\d+ more denied connections in that second/.test(line)), log.join("\n"));
  assertMatch(log.at(-1)!, /; 60 denied$/);
});
