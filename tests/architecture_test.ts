/**
 * The layout is the architecture, and these tests keep it so: they read every module's imports
 * and fail when a dependency points the wrong way.
 */

import { assertEquals } from "./support/assert.ts";

const ROOT = new URL("..", import.meta.url).pathname;

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

/** The seams: the server core may know these files of `transport/`, `registry/`, `relay/`. */
const INTERFACES = ["lib/transport/transport.ts", "lib/registry/registry.ts", "lib/relay/relay.ts"];

Deno.test("the server core imports no CLI, client, workers, terminal, web, Redis, nor a particular transport, registry or relay", () => {
  const forbidden = (imported: string) =>
    imported === "lib/cli.ts" || imported === "lib/terminal.ts" || imported.startsWith("lib/client/") ||
    imported.startsWith("lib/workers/") || imported.startsWith("lib/web/") ||
    imported.startsWith("lib/redis/") ||
    (/^lib\/(transport|registry|relay)\//.test(imported) && !INTERFACES.includes(imported));
  assertEquals([...violations("lib/server", forbidden), ...violations("lib/protocol", forbidden)], []);
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

Deno.test("lib imports neither tests nor scripts, and tests do not import scripts", () => {
  const outside = (imported: string) => !imported.startsWith("lib/") && imported !== "deno.json";
  assertEquals(violations("lib", outside), []);
  assertEquals(violations("tests", (imported) => imported.startsWith("scripts/")), []);
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

Deno.test("the Redis client is loaded only by the server's Redis modules, never by the client program", () => {
  const importsRedis = (path: string) =>
    /^import\b[^;]*\bfrom\s+"@redis\/client"/m.test(Deno.readTextFileSync(`${ROOT}${path}`));
  assertEquals(modules("lib").filter(importsRedis), ["lib/redis/link.ts"]);
  const client = [...reachable("client.ts")];
  assertEquals(client.filter((path) => path.startsWith("lib/redis/link")), []);
  assertEquals(client.filter((path) => path.startsWith("lib/web/") && path !== "lib/web/origin.ts"), []);
  assertEquals(reachable("server.ts").has("lib/redis/link.ts"), true);
});
