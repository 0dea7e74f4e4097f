/**
 * The registries' admission, ids and names, in process: the one-process `MemoryRegistry` and the
 * workers' `SharedRegistry` obey the same contract. (Two Workers racing on the shared one is in
 * `shared_table_test.ts`; a registry over Redis is in `redis_test.ts`.)
 */

import { assert, assertEquals } from "../support/assert.ts";
import { MemoryRegistry } from "../../lib/registry/memory.ts";
import type { Registry, RegistryLimits } from "../../lib/registry/registry.ts";
import { describeRefusal } from "../../lib/registry/registry.ts";
import { SharedRegistry } from "../../lib/registry/shared.ts";

/** The names `names` lists, in its order. */
async function listed(
  names: { list(): { name: string }[] | Promise<{ name: string }[]> },
): Promise<string[]> {
  return (await names.list()).map(({ name }) => name);
}

const kinds: [string, (limits?: RegistryLimits) => Registry][] = [
  ["memory", (limits) => new MemoryRegistry(limits)],
  ["shared", (limits) => new SharedRegistry(SharedRegistry.create(limits).buffers)],
];

for (const [kind, make] of kinds) {
  Deno.test(`${kind}: ids start at 1 and are never handed out twice`, () => {
    const registry = make();
    assertEquals([registry.nextId(), registry.nextId(), registry.nextId()], [1, 2, 3]);
  });

  Deno.test(`${kind}: limits default to 10000 connections and none per address`, () => {
    const registry = make();
    assertEquals([registry.maxConns, registry.maxConnsPerIp], [10000, 0]);
    for (let i = 0; i < 50; i++) assertEquals(registry.admit("10.0.0.1"), undefined);
  });

  Deno.test(`${kind}: --max-conns admits exactly that many at once, and a release makes room`, () => {
    const registry = make({ maxConns: 2 });
    assertEquals(registry.admit("10.0.0.1"), undefined);
    assertEquals(registry.admit(undefined), undefined);
    assertEquals(registry.admit("10.0.0.2"), "server full");
    assertEquals(registry.admit(undefined), "server full");
    registry.release(undefined);
    assertEquals(registry.admit("10.0.0.2"), undefined);
    assertEquals(registry.admit("10.0.0.3"), "server full");
    registry.release("10.0.0.1");
    assertEquals(
      registry.admit("10.0.0.3"),
      undefined,
      "a place given back by address, with no per-address limit",
    );
  });

  Deno.test(`${kind}: --max-conns-per-ip counts each address apart, and Unix peers not at all`, () => {
    const registry = make({ maxConns: 100, maxConnsPerIp: 2 });
    assertEquals(registry.admit("10.0.0.1"), undefined);
    assertEquals(registry.admit("10.0.0.1"), undefined);
    assertEquals(registry.admit("10.0.0.1"), "too many connections from one address");
    assertEquals(registry.admit("10.0.0.2"), undefined);
    for (let i = 0; i < 5; i++) assertEquals(registry.admit(undefined), undefined);
    for (let i = 0; i < 5; i++) registry.release(undefined);
    registry.release("10.0.0.1");
    assertEquals(registry.admit("10.0.0.1"), undefined);
    assertEquals(registry.admit("10.0.0.1"), "too many connections from one address");
    // Both of 10.0.0.1's places given back: it starts from nothing, not from a negative count.
    registry.release("10.0.0.1");
    registry.release("10.0.0.1");
    assertEquals(registry.admit("10.0.0.1"), undefined);
    assertEquals(registry.admit("10.0.0.1"), undefined);
    assertEquals(registry.admit("10.0.0.1"), "too many connections from one address");
  });

  Deno.test(`${kind}: an address whose last connection left is forgotten, however many come and go`, () => {
    const registry = make({ maxConns: 2, maxConnsPerIp: 1 });
    for (let i = 0; i < 500; i++) {
      const ip = `10.0.${i >> 8}.${i & 255}`;
      assertEquals(registry.admit(ip), undefined, ip);
      registry.release(ip);
    }
  });

  Deno.test(`${kind}: a refusal by address takes no place in the whole`, () => {
    const registry = make({ maxConns: 2, maxConnsPerIp: 1 });
    assertEquals(registry.admit("10.0.0.1"), undefined);
    for (let i = 0; i < 3; i++) {
      assertEquals(registry.admit("10.0.0.1"), "too many connections from one address");
    }
    assertEquals(registry.admit("10.0.0.2"), undefined);
    assertEquals(registry.admit("10.0.0.3"), "server full");
  });

  Deno.test(`${kind}: names list in the order their holders connected`, async () => {
    const { names } = make();
    assert(await names.claim("zed", 3));
    assert(await names.claim("amy", 1));
    assert(await names.claim("bob", 2));
    assertEquals(await listed(names), ["amy", "bob", "zed"]);
    assertEquals(await names.count(), 3);
    await names.release("nobody", 1);
    assertEquals(await names.count(), 3, "releasing a name nobody holds changes nothing");
  });
}

Deno.test("a refusal is described with the limit that refused it", () => {
  const registry = new MemoryRegistry({ maxConns: 5, maxConnsPerIp: 2 });
  assertEquals(describeRefusal("server full", registry, "10.0.0.1"), "server full (max 5 connections)");
  assertEquals(
    describeRefusal("too many connections from one address", registry, "10.0.0.1"),
    "too many connections from 10.0.0.1 (max 2)",
  );
});
