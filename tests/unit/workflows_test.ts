/**
 * The GitHub workflows run only on GitHub; here we check their shape (the schema itself is checked
 * by `deno task check:workflows`) and that every place pins the same Deno.
 */

import { parse } from "yaml";
import { assert, assertEquals } from "../support/assert.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}

async function workflow(
  name: string,
): Promise<
  {
    on: Record<string, unknown>;
    jobs: Record<string, { steps: Step[]; strategy?: { matrix: { os: string[] } } }>;
  }
> {
  return parse(await Deno.readTextFile(`${ROOT}.github/workflows/${name}`));
}

async function pinnedDeno(): Promise<string> {
  return /^DENO_VERSION=(\S+)$/m.exec(await Deno.readTextFile(`${ROOT}.ci/run`))![1];
}

function runs(steps: Step[]): string {
  return steps.map((step) => step.run ?? "").join("\n");
}

Deno.test("ci runs fmt, lint, check, compile graphs and tests on Linux, macOS and Windows", async () => {
  const ci = await workflow("ci.yml");
  const job = ci.jobs.test;
  assertEquals(job.strategy?.matrix.os, ["ubuntu-latest", "macos-latest", "windows-latest"]);
  const setup = job.steps.find((step) => step.uses?.startsWith("denoland/setup-deno@"));
  assertEquals(setup?.with?.["deno-version"], await pinnedDeno());
  for (
    const command of [
      "deno fmt --check",
      "deno lint",
      "deno task check",
      "deno task compile:check",
      "deno task test",
    ]
  ) {
    assert(runs(job.steps).includes(command), `ci.yml does not run ${command}`);
  }
});

Deno.test("release cross-compiles on v* tags, smoke-tests Linux and publishes with checksums", async () => {
  const release = await workflow("release.yml");
  assertEquals(release.on, { push: { tags: ["v*"] } });
  const steps = release.jobs.release.steps;
  const setup = steps.find((step) => step.uses?.startsWith("denoland/setup-deno@"));
  assertEquals(setup?.with?.["deno-version"], await pinnedDeno());
  const commands = runs(steps);
  assert(commands.includes("deno task compile:all"));
  assert(
    /scripts\/smoke\.sh\s+dist\/parley-server-x86_64-unknown-linux-gnu\s+dist\/parley-client-x86_64-unknown-linux-gnu/
      .test(commands),
  );
  assert(commands.includes("sha256sum --check SHA256SUMS"));
  const publish = steps.find((step) => step.uses?.startsWith("softprops/action-gh-release@"));
  assert(String(publish?.with?.files).includes("dist/SHA256SUMS"));
});

Deno.test("README, .ci/run and the workflows name the same Deno version", async () => {
  const version = await pinnedDeno();
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const named = new Set([...readme.matchAll(/deno@(\d+\.\d+\.\d+)/g)].map((match) => match[1]));
  assertEquals([...named], [version]);
});
