/**
 * What the Redis backend promises above its link: names unique across servers, ids never handed
 * out twice, lines relayed with their kind and mark to every other server and never back, a
 * history that knows which live lines it holds, and a server's names freed when it leaves or dies.
 * The same cases run over the in-memory Redis (`tests/unit`, in milliseconds) and over a real
 * `redis-server` (`tests/e2e`), so the fake cannot drift from what Redis does.
 */

import type { Backend } from "../../lib/backend.ts";
import { createLogger } from "../../lib/log.ts";
import { joinChat } from "../../lib/redis/mod.ts";
import type { RedisArgument, RedisLink } from "../../lib/redis/link.ts";
import { CLAIM, KEEP, type RedisScript } from "../../lib/redis/scripts.ts";
import type { Buffer } from "node:buffer";
import { FENCE_MS, GONE_WITHIN_MS, HEARTBEAT_MS } from "../../lib/redis/names.ts";
import { MemoryRegistry } from "../../lib/registry/memory.ts";
import type { NameEvents } from "../../lib/registry/registry.ts";
import type { RoomLine } from "../../lib/relay/relay.ts";
import { assert, assertEquals } from "./assert.ts";

/** The names `names` lists, in its order. */
async function listed(
  names: { list(): { name: string }[] | Promise<{ name: string }[]> },
): Promise<string[]> {
  return (await names.list()).map(({ name }) => name);
}

/** A Redis the cases run on. */
export interface RedisUnderTest {
  /** A new server's link to the room. */
  link(): Promise<RedisLink>;
  /** Lets `ms` pass as far as the keys' TTLs go (the fake moves its clock; a real one waits). */
  advance(ms: number): Promise<void>;
  /** Stops whatever it started. */
  close(): Promise<void>;
}

/** Where the cases get a fresh Redis from. */
export interface RedisFixture {
  /** Put before every case's name: `fake Redis`, `redis-server`. */
  label: string;
  ignore?: boolean;
  open(): Promise<RedisUnderTest>;
}

/** The room every test server has a client in. */
const ROOM = "#parley";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A link that the test can cut as a dead process or a dead path would: from then on nothing it
 * sends arrives, nothing published reaches it, and it says it is down.
 */
class CuttableLink implements RedisLink {
  #link: RedisLink;
  #cut = false;
  /** Cut, and nobody noticed yet: what is sent waits on the way, as TCP retransmits it. */
  #silent = false;
  #late: { what: string; command: () => Promise<unknown> }[] = [];
  #watchers = new Set<(up: boolean) => void>();

  constructor(link: RedisLink) {
    this.#link = link;
    link.watch((up) => {
      if (!this.#cut) { for (const watcher of this.#watchers) watcher(up); }
    });
  }

  get node(): string {
    return this.#link.node;
  }
  get keys(): RedisLink["keys"] {
    return this.#link.keys;
  }
  get shown(): string {
    return this.#link.shown;
  }
  get sharded(): boolean {
    return this.#link.sharded;
  }
  get up(): boolean {
    return !this.#cut && this.#link.up;
  }
  /** What was sent into a silent cut and waits on the way: commands, and scripts by name. */
  get late(): string[] {
    return this.#late.map(({ what }) => what);
  }
  get outages(): number {
    return this.#link.outages;
  }
  get roundTripMs(): number {
    return this.#link.roundTripMs;
  }

  /**
   * Cuts the path silently: the link still says it is up, nothing published reaches it, and what
   * it sends waits on the way (TCP retransmits it) while the sender gives up on its reply.
   */
  cutSilently(): void {
    this.#silent = true;
  }

  /** From now on nothing gets through, and the link is down. */
  cut(): void {
    this.#silent = false;
    this.#cut = true;
    for (const watcher of this.#watchers) watcher(false);
  }

  /** The path is back: what waited on the way reaches Redis first, its replies lost. */
  async restore(): Promise<void> {
    for (const { command } of this.#late.splice(0)) await command().catch(() => {});
    this.#cut = false;
    for (const watcher of this.#watchers) watcher(this.#link.up);
  }

  send<T>(args: RedisArgument[]): Promise<T> {
    return this.#through(String(args[0]), () => this.#link.send<T>(args));
  }
  run<T>(script: RedisScript, keys: string[], args: RedisArgument[]): Promise<T> {
    return this.#through(script.name, () => this.#link.run<T>(script, keys, args));
  }
  #through<T>(what: string, command: () => Promise<T>): Promise<T> {
    if (this.#silent) {
      this.#late.push({ what, command });
      return Promise.reject(new Error("timed out"));
    }
    return this.#cut ? Promise.reject(new Error("cut")) : command();
  }
  subscribe(channel: string, listener: (message: Buffer) => void, sharded?: boolean): Promise<void> {
    return this.#link.subscribe(
      channel,
      (message) => this.#cut || this.#silent || listener(message),
      sharded,
    );
  }
  unsubscribe(channel: string, sharded?: boolean): Promise<void> {
    return this.#link.unsubscribe(channel, sharded);
  }
  watch(watcher: (up: boolean) => void): void {
    this.#watchers.add(watcher);
  }
  close(): Promise<void> {
    return this.#link.close();
  }
}

/** A server of the room: its backend, and what its relay and its names' events told it. */
interface TestServer {
  backend: Backend;
  link: CuttableLink;
  delivered: RoomLine[];
  departed: string[];
  /** The names each of its returns (after it was counted as gone) announced. */
  returned: string[][];
  /** The rooms each departed name was in, where the reaper said. */
  departedRooms: Map<string, string[]>;
  lost: string[];
  logged: string[];
}

async function join(redis: RedisUnderTest, history = 0): Promise<TestServer> {
  const logged: string[] = [];
  const logger = createLogger({ write: (line) => logged.push(line) });
  const link = new CuttableLink(await redis.link());
  const backend = await joinChat(link, { history, local: new MemoryRegistry(), logger });
  const server: TestServer = {
    backend,
    link,
    delivered: [],
    departed: [],
    returned: [],
    departedRooms: new Map(),
    lost: [],
    logged,
  };
  backend.relay!.open({ deliver: (line) => server.delivered.push(line) });
  await backend.relay!.enter!(ROOM);
  const events: NameEvents = {
    lost: (name) => server.lost.push(name),
    departed: (names, rooms) => {
      server.departed.push(...names);
      for (const [name, list] of rooms ?? []) server.departedRooms.set(name, list);
    },
    returned: (names) => server.returned.push(names),
  };
  backend.registry.names.watch?.(events);
  return server;
}

/** Resolves once `condition` holds; fails after `ms`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Registers the cases against the Redis that `fixture` opens. */
export function redisBackendCases(fixture: RedisFixture): void {
  const test = (name: string, body: (redis: RedisUnderTest) => Promise<void>) =>
    Deno.test({
      name: `${fixture.label}: ${name}`,
      ignore: fixture.ignore,
      // The backend's heartbeat and sweep timers run until leave(), which every case calls.
      async fn() {
        const redis = await fixture.open();
        try {
          await body(redis);
        } finally {
          await redis.close();
        }
      },
    });

  test("a name held on one server is refused on another, and free again once released", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      assertEquals(await a.backend.registry.names.claim("zoe", 1), true);
      assertEquals(await b.backend.registry.names.claim("ZOE", 2), false, "the same name, folded");
      assertEquals(await listed(b.backend.registry.names), ["zoe"]);
      await a.backend.registry.names.release("zoe", 1);
      assertEquals(await b.backend.registry.names.claim("Zoe", 2), true);
      assertEquals(await a.backend.registry.names.count(), 1);
    } finally {
      await b.backend.leave();
      await a.backend.leave();
    }
  });

  test("two servers never hand out the same id", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      // Past a block each: the next block is fetched while the first is used up, as clients come.
      const ids = new Set<number>();
      for (let i = 1; i <= 1500; i++) {
        ids.add(a.backend.registry.nextId());
        ids.add(b.backend.registry.nextId());
        if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assertEquals(ids.size, 3000);
      assertEquals(a.logged.concat(b.logged).filter((line) => line.includes("ids may repeat")), []);
    } finally {
      await b.backend.leave();
      await a.backend.leave();
    }
  });

  test("a line goes to every other server with its kind, and never back to its own", async (redis) => {
    const [a, b, c] = [await join(redis), await join(redis), await join(redis)];
    try {
      a.backend.relay!.publish("<ann> hi", "said", ROOM);
      a.backend.relay!.publish("* bob joined", "notice", ROOM);
      await until(() => b.delivered.length === 2 && c.delivered.length === 2, 2000, "both lines on b and c");
      const shown = (lines: RoomLine[]) => lines.map(({ line, kind }) => `${kind} ${decoder.decode(line)}`);
      assertEquals(shown(b.delivered), ["said <ann> hi", "notice * bob joined"]);
      assertEquals(shown(c.delivered), shown(b.delivered));
      assertEquals(a.delivered, []);
    } finally {
      for (const server of [c, b, a]) await server.backend.leave();
    }
  });

  test("a room's lines reach only the servers with clients in it, and its own history", async (redis) => {
    const [a, b, c] = [await join(redis, 10), await join(redis, 10), await join(redis, 10)];
    try {
      await b.backend.relay!.enter!("#rust");
      a.backend.relay!.publish(encoder.encode("<ann> in rust"), "said", "#Rust");
      a.backend.relay!.publish(encoder.encode("<ann> in parley"), "said", ROOM);
      await until(() => b.delivered.length === 2 && c.delivered.length === 1, 2000, "the lines on b and c");
      const shown = (lines: RoomLine[]) => lines.map(({ line, room }) => `${room} ${decoder.decode(line)}`);
      assertEquals(shown(b.delivered), ["#rust <ann> in rust", "#parley <ann> in parley"]);
      assertEquals(shown(c.delivered), ["#parley <ann> in parley"], "c has nobody in #rust");
      const history = async (room: string) =>
        (await c.backend.history!.recent(room)).entries.map((entry) =>
          decoder.decode(entry.line as Uint8Array)
        );
      assertEquals(await history("#RUST"), ["<ann> in rust"]);
      assertEquals(await history(ROOM), ["<ann> in parley"]);
      b.backend.relay!.leave!("#rust");
      a.backend.relay!.publish(encoder.encode("<ann> anyone?"), "said", "#rust");
      a.backend.relay!.publish(encoder.encode("<ann> done"), "said", ROOM);
      await until(() => b.delivered.length === 3, 2000, "the last line on b");
      assertEquals(shown(b.delivered.slice(2)), ["#parley <ann> done"], "b left #rust");
    } finally {
      for (const server of [c, b, a]) await server.backend.leave();
    }
  });

  test("every server sees every server's rooms, members and topics; a server that leaves drops out", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      // Each server knows its own members' rooms (open) and shares each move.
      let aRooms = [{ name: "#parley", members: [1] }, { name: "#rust", members: [2] }];
      a.backend.directory.open(() => aRooms);
      a.backend.directory.moved(1, ["#parley"]);
      a.backend.directory.moved(2, ["#rust"]);
      b.backend.directory.open(() => [{ name: "#Parley", members: [3, 4] }]);
      b.backend.directory.moved(3, ["#Parley"]);
      b.backend.directory.moved(4, ["#Parley"]);
      const counts = async (server: TestServer) =>
        (await server.backend.directory.rooms()).map(({ name, members }) => `${name} ${members.length}`);
      await until(
        async () => (await counts(b)).length === 2 && (await counts(a))[0] === "#parley 3",
        2000,
        "rooms",
      );
      assertEquals(await counts(a), ["#parley 3", "#rust 1"]);
      assertEquals(await counts(b), ["#Parley 3", "#rust 1"]);
      await a.backend.directory.setTopic("#rust", { text: "crabs", by: "al", at: 1 });
      assertEquals(await b.backend.directory.topic("#RUST"), { text: "crabs", by: "al", at: 1 });
      assertEquals(await b.backend.directory.topic("#parley"), undefined);
      aRooms = [{ name: "#parley", members: [1, 2] }];
      a.backend.directory.moved(2, ["#parley"]);
      await until(async () => (await counts(b)).length === 1, 2000, "#rust gone");
      assertEquals(await counts(b), ["#Parley 4"]);
      await a.backend.leave();
      assertEquals(await counts(b), ["#Parley 2"]);
    } finally {
      await b.backend.leave();
    }
  });

  test("the history keeps said lines, not notices, and knows which delivered lines it holds", async (redis) => {
    const [a, b] = [await join(redis, 10), await join(redis, 10)];
    try {
      a.backend.relay!.publish(encoder.encode("<ann> one"), "said", ROOM);
      a.backend.relay!.publish("* ann is now anna", "notice", ROOM);
      a.backend.relay!.publish(encoder.encode("<anna> two"), "said", ROOM);
      await until(() => b.delivered.length === 3, 2000, "three lines on b");
      const snapshot = await b.backend.history!.recent(ROOM);
      assertEquals(snapshot.entries.map((entry) => decoder.decode(entry.line as Uint8Array)), [
        "<ann> one",
        "<anna> two",
      ]);
      const [one, notice, two] = b.delivered;
      assert.ok(one.mark !== undefined && snapshot.holds(one), "a said line carries its mark");
      assertEquals(notice.mark, undefined);
      assert.ok(snapshot.holds(two));
      a.backend.relay!.publish(encoder.encode("<anna> three"), "said", ROOM);
      await until(() => b.delivered.length === 4, 2000, "the fourth line on b");
      assertEquals(snapshot.holds(b.delivered[3]), false, "a line said after the snapshot");
    } finally {
      await b.backend.leave();
      await a.backend.leave();
    }
  });

  test("a server that leaves frees its names, and the others hear who left", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      await a.backend.registry.names.claim("ann", 1);
      await a.backend.registry.names.claim("user7", 7);
      await a.backend.leave();
      assertEquals((await listed(b.backend.registry.names)).sort(), []);
      assertEquals(await b.backend.registry.names.claim("ann", 2), true);
    } finally {
      await b.backend.leave();
    }
  });

  test("a server that dies is reaped: its names are freed and its clients announced as gone, with their rooms", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      await a.backend.registry.names.claim("ann", 1);
      a.backend.directory.open(() => [{ name: "#rust", members: [1] }]);
      a.backend.directory.moved(1, ["#rust", "#go"]);
      await until(async () => (await b.backend.directory.rooms()).length === 2, 2000, "ann's rooms seen");
      // Dies: nothing it sends arrives any more, and it says nothing of leaving.
      a.link.cut();
      await redis.advance(GONE_WITHIN_MS);
      await until(() => b.departed.length > 0, GONE_WITHIN_MS + 2000, "ann announced as gone");
      assertEquals(b.departed, ["ann"]);
      assertEquals([...b.departedRooms], [["ann", ["#rust", "#go"]]]);
      assertEquals(await b.backend.directory.rooms(), [], "its rooms went with it");
      assertEquals(await b.backend.registry.names.claim("ann", 2), true);
    } finally {
      await a.backend.leave();
      await b.backend.leave();
    }
  });

  test("a server counted as gone learns it is back, though a heartbeat of its ran with its reply lost", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      await a.backend.registry.names.claim("ann", 1);
      a.backend.directory.open(() => [{ name: ROOM, members: [1] }]);
      a.backend.directory.moved(1, [ROOM]);
      await until(async () => (await b.backend.directory.rooms()).length === 1, 2000, "ann's room seen");
      // The path goes silent: a heartbeat goes on its way before the link is counted down.
      a.link.cutSilently();
      await until(() => a.link.late.includes(KEEP.name), 2 * HEARTBEAT_MS, "a heartbeat sent into the cut");
      a.link.cut();
      await redis.advance(GONE_WITHIN_MS);
      await until(() => b.departed.length > 0, GONE_WITHIN_MS + 2000, "ann announced as gone");
      // Mended: the heartbeat that waited on the way runs first, and its sender never hears how.
      await a.link.restore();
      await until(() => a.returned.length > 0, 3 * HEARTBEAT_MS, "a told its clients are back");
      assertEquals(a.returned, [["ann"]]);
      assertEquals(await listed(b.backend.registry.names), ["ann"]);
      await until(async () => (await b.backend.directory.rooms()).length === 1, 2000, "ann's room again");
    } finally {
      await a.backend.leave();
      await b.backend.leave();
    }
  });

  test("bans are kept for servers that start later; one past its time is left out", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      const later = Date.now() + 60_000;
      await a.backend.bans!.save({ entry: "10.0.0.0/8", until: later });
      await a.backend.bans!.save({ entry: "192.0.2.1", until: Date.now() - 1 });
      await a.backend.bans!.save({ entry: "::1", until: later });
      await a.backend.bans!.remove("::1");
      assertEquals(await b.backend.bans!.load(), [{ entry: "10.0.0.0/8", until: later }]);
    } finally {
      await b.backend.leave();
      await a.backend.leave();
    }
  });

  test("entries in Redis that no server wrote are left out of /who, and said once in the log", async (redis) => {
    const a = await join(redis);
    const intruder = await redis.link();
    try {
      await a.backend.registry.names.claim("ann", 1);
      await intruder.run(
        CLAIM,
        [intruder.keys.name("x"), intruder.keys.online],
        ["node", "1", "2", "3", "\x1b[2Jbad", "60000", "x"],
      );
      assertEquals(await listed(a.backend.registry.names), ["ann"]);
      assertEquals(await listed(a.backend.registry.names), ["ann"]);
      assertEquals(a.logged.filter((line) => line.includes("no server wrote")).length, 1);
    } finally {
      await intruder.close();
      await a.backend.leave();
    }
  });

  test("a name taken on both sides of an outage goes to the earlier claim; the other holder is told", async (redis) => {
    const [a, b] = [await join(redis), await join(redis)];
    try {
      a.link.cut();
      assertEquals(await a.backend.registry.names.claim("zoe", 1), true, "decided here while down");
      await new Promise((resolve) => setTimeout(resolve, 5));
      assertEquals(await b.backend.registry.names.claim("zoe", 2), true, "free in Redis meanwhile");
      await a.link.restore();
      await until(() => b.lost.length > 0, 3 * HEARTBEAT_MS, "b told it lost zoe");
      assertEquals(b.lost, ["zoe"]);
      assertEquals(a.lost, []);
      assertEquals(await listed(b.backend.registry.names), ["zoe"]);
      assertEquals(await b.backend.registry.names.claim("zoe", 2), false);
    } finally {
      await b.backend.leave();
      await a.backend.leave();
    }
  });

  test("a Redis that lost its data gets each server's names, rooms and ids back", async (redis) => {
    const [a, z] = [await join(redis), await join(redis)];
    const other = await redis.link();
    try {
      await a.backend.registry.names.claim("ann", 1);
      await z.backend.registry.names.claim("zed", 1);
      a.backend.directory.open(() => [{ name: "#rust", members: [1] }]);
      z.backend.directory.open(() => [{ name: "#go", members: [1] }]);
      a.backend.directory.moved(1, ["#rust"]);
      z.backend.directory.moved(1, ["#go"]);
      const both = async (server: TestServer) =>
        (await server.backend.directory.rooms()).map((room) => room.name).sort().join() === "#go,#rust";
      await until(() => both(a), 2000, "each server's room seen");
      const before = a.backend.registry.nextId();
      await other.send(["FLUSHALL"]);
      // Each server finds the data gone at its next heartbeat, and writes its share again.
      for (const server of [a, z]) {
        await until(
          () => server.logged.some((line) => line.includes("lost the room's data")),
          3 * HEARTBEAT_MS,
          "restored",
        );
      }
      assertEquals((await listed(a.backend.registry.names)).sort(), ["ann", "zed"]);
      await until(async () => await both(a) && await both(z), 1000, "each server's room again");
      // No block of ids is handed out until every live server has raised the counter (the fence).
      await redis.advance(FENCE_MS);
      const b = await join(redis);
      try {
        assert.ok(b.backend.registry.nextId() > before, "ids go on from where they were");
        assertEquals(await b.backend.registry.names.claim("ann", 9), false);
      } finally {
        await b.backend.leave();
      }
    } finally {
      await other.close();
      await a.backend.leave();
      await z.backend.leave();
    }
  });

  test("a name's holder is found from any server; a private line reaches the others with its recipient", async (redis) => {
    const [a, b] = [await join(redis, 5), await join(redis)];
    try {
      await a.backend.registry.names.claim("Ann", 7);
      assertEquals(await b.backend.registry.names.holder("ann"), 7);
      assertEquals(await b.backend.registry.names.holder("nobody"), undefined);
      b.backend.relay!.publish("* private from bob: hi", "private", 7);
      await until(() => a.delivered.length === 1, 2000, "the private line on a");
      const [line] = a.delivered;
      assertEquals([decoder.decode(line.line), line.kind, line.to], ["* private from bob: hi", "private", 7]);
      // Through the history's script too (a keeps a history): not kept there, as a said line would be.
      a.backend.relay!.publish("* private from ann: and you", "private", 3);
      await until(() => b.delivered.length === 1, 2000, "the private line on b");
      assertEquals([b.delivered[0].kind, b.delivered[0].to], ["private", 3]);
      assertEquals((await a.backend.history!.recent(ROOM)).entries, []);
    } finally {
      await b.backend.leave();
      await a.backend.leave();
    }
  });
}
