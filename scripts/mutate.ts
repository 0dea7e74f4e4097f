/**
 * `deno task mutate`: mutation testing of the logic modules that have fast unit tests, with
 * StrykerJS. Each group of modules is mutated against its own unit test files only, so that a run
 * takes minutes, not hours: Stryker's command runner runs those files once per mutant (in a
 * sandbox copy of the project, `.stryker-tmp/`), and a mutant the tests do not fail on survives.
 *
 *   deno task mutate [--only NAME[,NAME]] [--concurrency N]
 *
 * Prints each group's score and its surviving mutants, then a table and one JSON line. Not part
 * of `.ci/run`: a full run takes about half an hour on two cores.
 */

import { parseArgs } from "node:util";

/** Stryker's release: it runs under Deno (under Node 20 it refuses to start). */
const STRYKER = "npm:@stryker-mutator/core@10.1.1/stryker";

/** Which modules are mutated, against which unit tests. */
const GROUPS: { name: string; mutate: string[]; tests: string[] }[] = [
  { name: "framer", mutate: ["lib/protocol/framer.ts"], tests: ["tests/unit/lines_test.ts"] },
  {
    name: "escape",
    mutate: ["lib/protocol/escape.ts", "lib/protocol/goodbye.ts"],
    tests: ["tests/unit/escape_test.ts", "tests/unit/properties_test.ts", "tests/unit/goodbye_test.ts"],
  },
  {
    name: "websocket",
    mutate: ["lib/protocol/websocket.ts"],
    tests: ["tests/unit/websocket_frames_test.ts"],
  },
  {
    name: "access",
    mutate: ["lib/server/access_list.ts", "lib/util/ip.ts", "lib/web/host.ts", "lib/web/origin.ts"],
    tests: ["tests/unit/access_list_test.ts", "tests/unit/ip_test.ts", "tests/unit/web_host_test.ts"],
  },
  {
    name: "queue",
    mutate: ["lib/server/output_queue.ts", "lib/server/deadlines.ts", "lib/server/congestion.ts"],
    tests: [
      "tests/unit/output_queue_test.ts",
      "tests/unit/deadlines_test.ts",
      "tests/unit/congestion_test.ts",
    ],
  },
  {
    name: "registry",
    mutate: ["lib/registry/memory.ts", "lib/registry/shared.ts", "lib/protocol/names.ts"],
    tests: ["tests/unit/registry_test.ts", "tests/unit/names_test.ts", "tests/unit/chat_mode_test.ts"],
  },
  {
    name: "rooms",
    mutate: [
      "lib/protocol/rooms.ts",
      "lib/protocol/session.ts",
      "lib/server/replay.ts",
      "lib/rooms/directory.ts",
    ],
    tests: ["tests/unit/rooms_sessions_test.ts", "tests/unit/chat_mode_test.ts"],
  },
  {
    name: "redis",
    mutate: ["lib/redis/names.ts", "lib/redis/ids.ts", "lib/redis/relay.ts", "lib/redis/history.ts"],
    tests: ["tests/unit/redis_backend_test.ts"],
  },
  {
    name: "flags",
    mutate: [
      "lib/app/cli/flags.ts",
      "lib/app/cli/values.ts",
      "lib/app/cli/server_flags.ts",
      "lib/app/cli/client_flags.ts",
    ],
    tests: ["tests/unit/cli_test.ts", "tests/unit/cli_values_test.ts"],
  },
];

interface Report {
  files: Record<
    string,
    {
      mutants: {
        status: string;
        mutatorName: string;
        replacement?: string;
        location: { start: { line: number } };
      }[];
    }
  >;
}

const { values } = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: { only: { type: "string" }, concurrency: { type: "string", default: "2" } },
});
const only = values.only?.split(",");
const groups = GROUPS.filter((group) => only === undefined || only.includes(group.name));
if (groups.length === 0) throw new TypeError(`--only takes ${GROUPS.map((g) => g.name).join(", ")}`);

const dir = await Deno.makeTempDir({ prefix: "parley-mutate-" });
const scores: Record<string, { killed: number; survived: number; score: number }> = {};
try {
  for (const group of groups) {
    const report = `${dir}/${group.name}.json`;
    const config = {
      testRunner: "command",
      commandRunner: { command: `deno test --no-check -A --quiet ${group.tests.join(" ")}` },
      mutate: group.mutate,
      // Stryker looks for plugins in a node_modules folder that Deno does not make; the command
      // runner is built in.
      plugins: [],
      reporters: ["json", "progress"],
      jsonReporter: { fileName: report },
      ignorePatterns: ["docs", "dist", ".github", ".gl", ".whl"],
      concurrency: Number(values.concurrency),
      // Stryker waits this long beyond a normal run before calling a mutant a hang (which kills it).
      timeoutMS: 4000,
      cleanTempDir: true,
    };
    const file = `${dir}/${group.name}.config.json`;
    await Deno.writeTextFile(file, JSON.stringify(config));
    console.error(`mutating ${group.mutate.join(", ")} against ${group.tests.length} test files...`);
    const run = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", STRYKER, "run", file] })
      .output();
    if (!run.success) {
      throw new Error(`stryker failed on ${group.name}: ${new TextDecoder().decode(run.stderr)}`);
    }
    const result = JSON.parse(await Deno.readTextFile(report)) as Report;
    const mutants = Object.entries(result.files).flatMap(([path, { mutants }]) =>
      mutants.map((mutant) => ({ path, ...mutant }))
    );
    const killed = mutants.filter((m) => m.status === "Killed" || m.status === "Timeout").length;
    const survived = mutants.filter((m) => m.status === "Survived" || m.status === "NoCoverage");
    const score = Math.round((killed / Math.max(1, killed + survived.length)) * 1000) / 10;
    scores[group.name] = { killed, survived: survived.length, score };
    console.log(`${group.name}: ${score}% (${killed} killed, ${survived.length} survived)`);
    for (const mutant of survived) {
      const replacement = (mutant.replacement ?? "").replace(/\s+/g, " ").slice(0, 80);
      console.log(
        `  survived: ${mutant.path}:${mutant.location.start.line} ${mutant.mutatorName}: ${replacement}`,
      );
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(
  [
    "",
    "group      score   killed  survived",
    ...Object.entries(scores).map(([name, s]) =>
      `${name.padEnd(10)} ${`${s.score}%`.padStart(6)} ${String(s.killed).padStart(8)} ${
        String(s.survived).padStart(9)
      }`
    ),
  ].join("\n"),
);
console.log(JSON.stringify(scores));
