/**
 * The path to the executables, as far as it can be walked without Deno's runtime base: the compile
 * graphs build (and a broken import breaks them), and a build that cannot get the runtime base
 * says so in one sentence.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { runToEnd, taskPermissions, WINDOWS } from "../../scripts/support/harness.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const COMPILE = `${ROOT}scripts/compile.ts`;
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-run", "--allow-env"];

Deno.test("both compile graphs build, with deno.json embedded for --version", async () => {
  const result = await runToEnd(["run", ...PERMISSIONS, COMPILE, "--check"], { timeoutMs: 120_000 });
  assertEquals(
    result.stdout,
    [
      `parley-server: compile graph of server.ts ok (${taskPermissions("server").join(" ")})`,
      `parley-client: compile graph of client.ts ok (${taskPermissions("client").join(" ")})`,
      "",
    ].join("\n"),
  );
  assertEquals(result.code, 0);
});

Deno.test("the compile-graph check fails on a broken import", { ignore: WINDOWS }, async () => {
  const copy = await Deno.makeTempDir({ prefix: "parley-broken-" });
  try {
    for (const path of ["server.ts", "client.ts", "deno.json", "deno.lock", "lib", "scripts", "tests"]) {
      await new Deno.Command("cp", { args: ["-r", `${ROOT}${path}`, `${copy}/`] }).output();
    }
    const connection = `${copy}/lib/server/connection.ts`;
    const source = await Deno.readTextFile(connection);
    await Deno.writeTextFile(
      connection,
      source.replace('from "../protocol/framer.ts"', 'from "./no_such_module.ts"'),
    );
    const result = await runToEnd(["run", ...PERMISSIONS, `${copy}/scripts/compile.ts`, "--check"], {
      timeoutMs: 120_000,
    });
    assertMatch(result.stderr, /^cannot build parley-server for [\w-]+:\n/);
    assertMatch(result.stderr, /no_such_module\.ts/);
    assertEquals(result.code, 1);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("deno task compile without a reachable runtime base fails with one clear sentence", async () => {
  // A dead proxy makes the download fail the same way everywhere, not only on machines offline.
  const dead = "http://127.0.0.1:9";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, COMPILE],
    env: { HTTPS_PROXY: dead, HTTP_PROXY: dead, https_proxy: dead, http_proxy: dead, DENORT_BIN: "" },
    stdout: "piped",
    stderr: "piped",
  });
  const result = await child.output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.success) {
    // Only where a denort was already cached by an earlier, online build: then it must be real.
    const version = await runToEnd(["--version"], { program: `${ROOT}dist/parley-server` });
    assertMatch(version.stdout, /^parley-server \d+\.\d+\.\d+\n$/);
    return;
  }
  assertEquals(stderr.trim().split("\n").length, 1, stderr);
  assertMatch(
    stderr,
    /^cannot build parley-server for [\w-]+: deno compile could not download Deno's runtime base/,
  );
  assertMatch(stderr, /set DENORT_BIN to its path\n$/);
  assertEquals(result.code, 1);
});

Deno.test("DENORT_BIN pointing nowhere is named in the error", async () => {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, COMPILE],
    env: { DENORT_BIN: "/no/such/denort" },
    stderr: "piped",
    stdout: "null",
  }).output();
  assertEquals(
    new TextDecoder().decode(child.stderr),
    `DENORT_BIN is set to "/no/such/denort", which is not a file; point it at an unzipped denort of Deno ` +
      `v${Deno.version.deno} for the target, or unset it to let deno compile download one\n`,
  );
  assertEquals(child.code, 1);
});

Deno.test(
  "the release smoke test passes against the programs it will test",
  { ignore: WINDOWS },
  async () => {
    const run = (entry: string) => `${Deno.execPath()} run --allow-net ${ROOT}${entry}`;
    const result = await runToEnd([`${ROOT}scripts/smoke.sh`, run("server.ts"), run("client.ts")], {
      program: "bash",
      timeoutMs: 60_000,
    });
    assertEquals(result.stdout, "smoke: ok (version, echo round trip, graceful exit)\n");
    assertEquals(result.code, 0);
  },
);
