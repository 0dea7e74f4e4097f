/**
 * Builds the self-contained executables with `deno compile`.
 *
 *   deno task compile              dist/parley-server and dist/parley-client for this machine
 *   deno task compile --target T   the same for target T, named parley-server-T, parley-client-T
 *   deno task compile:all          every release target into dist/, plus dist/SHA256SUMS
 *   deno task compile:check        builds both compile graphs here, with no runtime download
 *
 * `deno compile` appends the program to Deno's runtime base, `denort`, which it downloads for the
 * target. Where that download is impossible, set DENORT_BIN to a local denort of the same Deno
 * version and target. `compile:check` runs everything `deno compile` does up to writing the
 * executable (type check, module graph, embedded files, permission flags) against a stand-in base,
 * so a broken import fails CI here rather than at release time; its output is thrown away.
 */

import { parseArgs } from "node:util";
import denoConfig from "../deno.json" with { type: "json" };
import { taskPermissions } from "./support/harness.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DIST = `${ROOT}dist`;

/** The release targets, as `deno compile --target` names them. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/**
 * Each program, its entry point, exactly the permissions it needs, the modules it loads that
 * `deno compile` cannot find by following imports (a Worker's module is named by a URL), and the
 * npm packages it embeds (only those it imports: the tests' and tasks' packages stay out).
 * The unstable `net` feature that `--workers` needs (reusePort) comes from deno.json.
 */
export const PROGRAMS = [
  {
    name: "parley-server",
    entry: "server.ts",
    permissions: taskPermissions("server"),
    include: ["lib/app/workers/worker.ts"],
    npm: ["@redis/client"],
  },
  { name: "parley-client", entry: "client.ts", permissions: taskPermissions("client"), include: [], npm: [] },
] as const;

/** A build that failed; the message is what to tell the user. */
class BuildError extends Error {}

function hostTarget(): string {
  return Deno.build.target;
}

function executableName(program: string, target: string | undefined): string {
  if (target === undefined) return program + (Deno.build.os === "windows" ? ".exe" : "");
  return `${program}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** Why `deno compile` failed, in one sentence when it is the runtime download. */
function explain(program: string, target: string, stderr: string): string {
  const download = /denort|dns error|error sending request|failed to lookup|download/i.test(stderr) &&
    !/TS\d{4} \[ERROR\]|Module not found|Cannot find module/.test(stderr);
  if (download) {
    return `cannot build ${program} for ${target}: deno compile could not download Deno's runtime base ` +
      `(denort ${Deno.version.deno} for ${target}); fetch denort-${target}.zip of Deno v${Deno.version.deno} ` +
      `from Deno's release assets where the internet is reachable, unzip it, and set DENORT_BIN to its path`;
  }
  return `cannot build ${program} for ${target}:\n${stderr.trim()}`;
}

/** Runs `deno compile` for one program; resolves with what it printed. */
async function compile(
  program: typeof PROGRAMS[number],
  output: string,
  options: { target?: string; denort?: string },
): Promise<string> {
  const args = ["compile", "--exclude-unused-npm", ...program.permissions, "--output", output];
  for (const module of program.include) args.push("--include", `${ROOT}${module}`);
  if (options.target !== undefined) args.push("--target", options.target);
  args.push(`${ROOT}${program.entry}`);
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (options.denort !== undefined) env.DENORT_BIN = options.denort;
  const result = await new Deno.Command(Deno.execPath(), { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const printed = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
  if (!result.success) throw new BuildError(explain(program.name, options.target ?? hostTarget(), printed));
  return printed;
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function build(target: string | undefined, denort: string | undefined): Promise<string[]> {
  await Deno.mkdir(DIST, { recursive: true });
  const built: string[] = [];
  for (const program of PROGRAMS) {
    const name = executableName(program.name, target);
    await compile(program, `${DIST}/${name}`, { target, denort });
    console.log(`built dist/${name} (${program.permissions.join(" ")}, version ${denoConfig.version})`);
    built.push(name);
  }
  return built;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The last `bytes` of a file, as Latin-1 text: where deno compile appends its metadata. */
async function readTail(path: string, bytes: number): Promise<string> {
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  await file.seek(Math.max(0, size - bytes), Deno.SeekMode.Start);
  const tail = new Uint8Array(Math.min(bytes, size));
  let read = 0;
  while (read < tail.length) {
    const n = await file.read(tail.subarray(read));
    if (n === null) break;
    read += n;
  }
  return new TextDecoder("latin1").decode(tail.subarray(0, read));
}

/**
 * Builds both compile graphs against a stand-in runtime base (this Deno binary) and checks what
 * was embedded. Proves everything but the runtime itself; the outputs are not Parley and are
 * deleted.
 */
export async function checkCompileGraphs(): Promise<string[]> {
  const scratch = await Deno.makeTempDir({ prefix: "parley-compile-check-" });
  const report: string[] = [];
  try {
    for (const program of PROGRAMS) {
      const printed = await compile(program, `${scratch}/${program.name}`, { denort: Deno.execPath() });
      for (const embedded of ["deno.json", "lib", program.entry]) {
        if (!printed.includes(embedded)) {
          throw new BuildError(
            `${program.name}: ${embedded} is missing from the embedded files:\n${printed}`,
          );
        }
      }
      const metadata = await readTail(`${scratch}/${program.name}`, 16 << 20);
      // The listing above folds a folder of several files into "folder/*"; the embedded file
      // system's own index names every file.
      for (const module of program.include) {
        if (!metadata.includes(`{"File":{"n":"${basename(module)}"`)) {
          throw new BuildError(`${program.name}: ${module} is missing from the embedded files`);
        }
      }
      const embedded = [...printed.matchAll(/localhost\/((?:@[\w.-]+\/)?[\w.-]+)/g)].map((m) => m[1]);
      const unexpected = [...new Set(embedded)].filter((name) =>
        !(program.npm as readonly string[]).includes(name)
      );
      if (unexpected.length > 0) {
        throw new BuildError(
          `${program.name}: embeds npm packages it does not import: ${unexpected.join(", ")}`,
        );
      }
      if (!metadata.includes('"features":["net"]')) {
        throw new BuildError(`${program.name}: the unstable net feature (for reusePort) was not embedded`);
      }
      report.push(`${program.name}: compile graph of ${program.entry} ok (${program.permissions.join(" ")})`);
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
  return report;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { all: { type: "boolean" }, check: { type: "boolean" }, target: { type: "string" } },
  });
  const denort = Deno.env.get("DENORT_BIN") || undefined;
  if (denort !== undefined && !(await Deno.stat(denort).then((info) => info.isFile, () => false))) {
    throw new BuildError(
      `DENORT_BIN is set to "${denort}", which is not a file; point it at an unzipped denort ` +
        `of Deno v${Deno.version.deno} for the target, or unset it to let deno compile download one`,
    );
  }
  if (values.check) {
    for (const line of await checkCompileGraphs()) console.log(line);
    return 0;
  }
  if (values.all) {
    if (denort !== undefined) {
      throw new BuildError(
        "DENORT_BIN is the runtime base of one target; build targets one at a time with --target, " +
          "or unset DENORT_BIN so each target's base is downloaded",
      );
    }
    const built = (await Promise.all(TARGETS.map((target) => build(target, undefined)))).flat();
    const sums = await Promise.all(built.map(async (name) => `${await sha256(`${DIST}/${name}`)}  ${name}`));
    await Deno.writeTextFile(`${DIST}/SHA256SUMS`, sums.join("\n") + "\n");
    console.log(`wrote dist/SHA256SUMS (${built.length} files)`);
    return 0;
  }
  if (values.target !== undefined && !(TARGETS as readonly string[]).includes(values.target)) {
    throw new BuildError(`unknown target "${values.target}"; one of: ${TARGETS.join(", ")}`);
  }
  await build(values.target, denort);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (!(error instanceof BuildError) && !(error instanceof TypeError)) throw error;
    console.error(error.message);
    Deno.exit(error instanceof TypeError ? 2 : 1);
  }
}
