/**
 * The layout is the architecture, and these tests keep it so: they read every module's imports
 * and fail when a dependency points the wrong way.
 */

import { assertEquals } from "../support/assert.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Every `.ts` file under `dir`, as a path relative to the project root. */
function modules(dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(`${ROOT}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...modules(path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}

/** The project files `path` imports or re-exports, relative to the root; packages are skipped. */
function importsOf(path: string): string[] {
  const source = Deno.readTextFileSync(`${ROOT}${path}`);
  const specifiers = [...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms)].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith(".")).map((s) =>
    new URL(s, `file://${ROOT}${path}`).pathname.slice(ROOT.length)
  );
}

/** `[importer, imported]` pairs where a module of `from` imports one that `forbidden` matches. */
function violations(from: string, forbidden: (imported: string) => boolean): string[] {
  return modules(from).flatMap((path) =>
    importsOf(path).filter(forbidden).map((imported) => `${path} -> ${imported}`)
  );
}

/** The seams: interfaces that the server core and the backends may know. */
const INTERFACES = [
  "lib/backend.ts",
  "lib/transport/transport.ts",
  "lib/registry/registry.ts",
  "lib/relay/relay.ts",
  "lib/history/history.ts",
  "lib/rooms/directory.ts",
];

Deno.test("the server core imports no app, client, terminal, web, Redis, nor a particular transport, registry, relay, history or directory", () => {
  const forbidden = (imported: string) =>
    imported.startsWith("lib/app/") || imported === "lib/terminal.ts" || imported.startsWith("lib/client/") ||
    imported.startsWith("lib/web/") || imported.startsWith("lib/redis/") ||
    (/^lib\/(transport|registry|relay|history|rooms)\//.test(imported) && !INTERFACES.includes(imported));
  assertEquals([...violations("lib/server", forbidden), ...violations("lib/protocol", forbidden)], []);
});

Deno.test("a backend folder imports only its own files, the seams, the log, the pure protocol and util", () => {
  for (const folder of ["registry", "relay", "history", "rooms", "redis"]) {
    const allowed = (imported: string) =>
      imported.startsWith(`lib/${folder}/`) || INTERFACES.includes(imported) || imported === "lib/log.ts" ||
      imported.startsWith("lib/util/") || imported.startsWith("lib/protocol/");
    assertEquals(violations(`lib/${folder}`, (imported) => !allowed(imported)), []);
  }
});

Deno.test("nothing outside app/ imports app/: only the entry points do", () => {
  const outside = modules("lib").filter((path) => !path.startsWith("lib/app/"));
  const offenders = outside.flatMap((path) =>
    importsOf(path).filter((imported) => imported.startsWith("lib/app/")).map((imported) =>
      `${path} -> ${imported}`
    )
  );
  assertEquals(offenders, []);
});

/**
 * The part of the layout a module belongs to: its top folder under `lib/` (`server/modes/` is
 * part of `server/`), or the module itself for a file at the top of `lib/`.
 */
function part(path: string): string {
  const parts = path.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : path;
}

Deno.test("no two parts of lib/ import each other, even through different files", () => {
  const edges = new Map<string, Set<string>>();
  for (const path of modules("lib")) {
    for (const imported of importsOf(path)) {
      if (!imported.startsWith("lib/") || part(imported) === part(path)) continue;
      if (!edges.has(part(path))) edges.set(part(path), new Set());
      edges.get(part(path))!.add(part(imported));
    }
  }
  // A cycle of any length shows as a part that reaches itself.
  const cycles: string[] = [];
  for (const start of edges.keys()) {
    const seen = new Set<string>();
    const stack = [...edges.get(start)!];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (next === start) {
        cycles.push(start);
        break;
      }
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(edges.get(next) ?? []));
    }
  }
  assertEquals(cycles, []);
});

Deno.test("the protocol is pure: it imports only itself and calls no Deno API", () => {
  assertEquals(violations("lib/protocol", (imported) => !imported.startsWith("lib/protocol/")), []);
  const impure = modules("lib/protocol").filter((path) =>
    /\bDeno\./.test(Deno.readTextFileSync(`${ROOT}${path}`))
  );
  assertEquals(impure, []);
});

Deno.test("the client side imports nothing of the server side", () => {
  const serverSide = (imported: string) => /^lib\/(server|workers|registry|relay)\//.test(imported);
  assertEquals(violations("lib/client", serverSide), []);
});

Deno.test("lib imports neither tests nor scripts; scripts never import tests; tests use only scripts/support", () => {
  const outside = (imported: string) => !imported.startsWith("lib/") && imported !== "deno.json";
  assertEquals(violations("lib", outside), []);
  // scripts/support runs Parley, Redis and a browser as real processes, for benchmarks and tests alike.
  const aScript = (imported: string) =>
    imported.startsWith("scripts/") && !imported.startsWith("scripts/support/");
  assertEquals(violations("tests", aScript), []);
  assertEquals(violations("scripts", (imported) => imported.startsWith("tests/")), []);
});

Deno.test("lib never exits the process nor reads its arguments: the entry points do", () => {
  const offenders = modules("lib").filter((path) =>
    /\bDeno\.(exit|args)\b/.test(Deno.readTextFileSync(`${ROOT}${path}`))
  );
  assertEquals(offenders, []);
});

Deno.test("shared memory lives only in the workers' registry", () => {
  const users = modules("lib").filter((path) =>
    /\bSharedArrayBuffer\b/.test(Deno.readTextFileSync(`${ROOT}${path}`))
  );
  assertEquals(users, ["lib/registry/shared.ts", "lib/registry/shared_table.ts"]);
});

/** Every project file `entry` loads, following relative imports. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path) || !path.endsWith(".ts")) return;
    seen.add(path);
    for (const imported of importsOf(path)) visit(imported);
  };
  visit(entry);
  return seen;
}

Deno.test("the Redis client is loaded by one module, which neither the library entry nor the client program reaches", () => {
  const importsRedis = (path: string) =>
    /^import\b[^;]*\bfrom\s+"@redis\/client"/m.test(Deno.readTextFileSync(`${ROOT}${path}`));
  const loader = "lib/redis/client_link.ts";
  assertEquals(modules("lib").filter(importsRedis), [loader]);
  assertEquals(reachable("lib/mod.ts").has(loader), false);
  const client = [...reachable("client.ts")];
  assertEquals(client.filter((path) => path.startsWith("lib/redis/")), []);
  assertEquals(client.filter((path) => path.startsWith("lib/web/") && path !== "lib/web/origin.ts"), []);
  assertEquals(reachable("server.ts").has(loader), true);
});
