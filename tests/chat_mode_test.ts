/**
 * Chat mode in-process, against fake members, the in-memory registry and a recording relay: what
 * each client sees, names and their races, and what crosses to other rooms.
 */

import { assertEquals, assertMatch } from "./support/assert.ts";
import { MemoryRegistry } from "../lib/registry/memory.ts";
import type { Names } from "../lib/registry/registry.ts";
import type { Relay } from "../lib/relay/relay.ts";
import { createChatMode } from "../lib/server/modes/chat.ts";
import type { Mode } from "../lib/server/modes/mode.ts";
import { Room } from "../lib/server/room.ts";
import { bytes, FakeMember } from "./support/fake_member.ts";

const decoder = new TextDecoder();

/** A room of `count` members joined in order, each with what it received so far taken. */
async function room(count: number, names: Names = new MemoryRegistry().names, relay?: Relay) {
  const room = new Room<FakeMember>();
  const mode = createChatMode({ room, names, relay });
  const members: FakeMember[] = [];
  for (let id = 1; id <= count; id++) members.push(await join(room, mode, id));
  for (const member of members) member.take();
  return { room, mode, members };
}

async function join(room: Room<FakeMember>, mode: Mode, id: number): Promise<FakeMember> {
  const member = new FakeMember(id);
  room.add(member);
  await mode.join(member);
  return member;
}

async function say(mode: Mode, member: FakeMember, text: string): Promise<void> {
  member.linesIn++;
  await mode.line(member, bytes(text));
}

Deno.test("a newcomer is welcomed with the count, and the others are told", async () => {
  const { room: r, mode, members: [alice, bob] } = await room(2);
  const carol = await join(r, mode, 3);
  assertEquals(carol.take(), ["* welcome, user3: 3 online; /help for commands"]);
  assertEquals(alice.take(), ["* user3 joined"]);
  assertEquals(bob.take(), ["* user3 joined"]);
});

Deno.test("a line goes to everyone else with the sender's name; // says a line starting with /", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, a, "hello");
  await say(mode, a, "//etc/passwd is a path");
  assertEquals(a.take(), []);
  for (const other of [b, c]) assertEquals(other.take(), ["<user1> hello", "<user1> /etc/passwd is a path"]);
});

Deno.test("/nick renames and announces; taken, reserved and invalid names are refused", async () => {
  const { mode, members: [a, b] } = await room(2);
  await say(mode, a, "/nick Alice");
  assertEquals(a.take(), ["* you are now Alice"]);
  assertEquals(b.take(), ["* user1 is now Alice"]);
  for (const name of ["alice", "ALICE"]) await say(mode, b, `/nick ${name}`);
  await say(mode, b, "/nick user9");
  await say(mode, b, "/nick two words");
  await say(mode, b, "/nick");
  assertEquals(b.take(), [
    "ERR name alice is taken",
    "ERR name ALICE is taken",
    "ERR name user9 is reserved",
    'ERR invalid name "two words": use 1-32 of A-Z a-z 0-9 - _',
    'ERR invalid name "": use 1-32 of A-Z a-z 0-9 - _',
  ]);
  assertEquals(a.take(), [], "failed renames are not announced");
  await say(mode, a, "/nick alice");
  assertEquals(a.take(), ["* you are now alice"], "the holder may change the case of its own name");
  assertEquals(b.take(), ["* Alice is now alice"]);
});

Deno.test("/who lists everyone in the order they joined, whatever their names now", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, c, "/nick zed");
  await say(mode, a, "/nick bob");
  await say(mode, b, "/who");
  assertEquals(b.take().at(-1), "* online: bob, user2, zed");
});

Deno.test("a leave is announced to those left, and frees the name for someone else", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, a, "/nick alice");
  b.take();
  c.take();
  mode.leave(a, "client closed");
  assertEquals(b.take(), ["* alice left"]);
  assertEquals(c.take(), ["* alice left"]);
  await say(mode, b, "/nick Alice");
  assertEquals(b.take(), ["* you are now Alice"]);
});

Deno.test("/help explains, an unknown command says so; neither reaches the others", async () => {
  const { mode, members: [a, b] } = await room(2);
  await say(mode, a, "/help");
  await say(mode, a, "/dance now");
  const [help, unknown] = a.take();
  assertMatch(help, /^\* commands: \/nick NAME .*\/who, \/help/);
  assertEquals(unknown, "ERR unknown command /dance; try /help");
  assertEquals(b.take(), []);
});

/** Names whose every answer comes a little later, as from another machine; answered in order. */
class SlowNames implements Names {
  #names = new MemoryRegistry().names;
  claim(name: string, owner: number): Promise<boolean> {
    return this.#later(() => this.#names.claim(name, owner) as boolean);
  }
  release(name: string, owner: number): Promise<void> {
    return this.#later(() => this.#names.release(name, owner) as void);
  }
  list(): Promise<string[]> {
    return this.#later(() => this.#names.list() as string[]);
  }
  count(): Promise<number> {
    return this.#later(() => this.#names.count() as number);
  }
  #later<T>(answer: () => T): Promise<T> {
    return new Promise((resolve) => setTimeout(() => resolve(answer()), 1));
  }
}

Deno.test("with a registry that answers later, of two members racing for a name exactly one wins", async () => {
  const { mode, members: [a, b, c] } = await room(3, new SlowNames());
  await Promise.all([say(mode, a, "/nick bob"), say(mode, b, "/nick Bob")]);
  const [winner, loser] = a.received[0].startsWith("* you are now") ? [a, b] : [b, a];
  const won = winner === a ? "bob" : "Bob";
  assertEquals(winner.take(), [`* you are now ${won}`]);
  assertEquals(loser.take().sort(), [
    `* user${winner.id} is now ${won}`,
    `ERR name ${winner === a ? "Bob" : "bob"} is taken`,
  ]);
  assertEquals(c.take(), [`* user${winner.id} is now ${won}`]);
});

Deno.test("a member that leaves while its rename is pending does not keep the name", async () => {
  const names = new SlowNames();
  const { mode, members: [a, b] } = await room(2, names);
  const renaming = say(mode, a, "/nick ghost");
  mode.leave(a, "client closed");
  await renaming;
  assertEquals(await names.list(), ["user2"]);
  assertEquals(b.take(), ["* user1 left"]);
});

/** A relay that records what is published and lets the test deliver lines from elsewhere. */
class RecordingRelay implements Relay {
  published: string[] = [];
  deliver: (line: Uint8Array) => void = () => {};
  open(deliver: (line: Uint8Array) => void): void {
    this.deliver = deliver;
  }
  publish(line: string | Uint8Array): void {
    this.published.push(typeof line === "string" ? line : decoder.decode(line));
  }
  close(): void {}
}

Deno.test("what one room says goes to the relay; what the relay delivers reaches everyone here", async () => {
  const relay = new RecordingRelay();
  const { mode, members: [a, b] } = await room(2, undefined, relay);
  await say(mode, a, "across");
  assertEquals(relay.published, ["* user1 joined", "* user2 joined", "<user1> across"]);
  relay.deliver(bytes("<elsewhere> hi all"));
  assertEquals(a.take(), ["<elsewhere> hi all"]);
  assertEquals(b.take(), ["<user1> across", "<elsewhere> hi all"]);
});
