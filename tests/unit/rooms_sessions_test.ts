/**
 * The pure pieces of rooms and sessions: room names and keys, the merge of several isolates'
 * rooms, a room's numbered lines, and the session's wire forms (tokens, marks, last-seen lists).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { parseRoom, roomKey } from "../../lib/protocol/rooms.ts";
import {
  formatLastSeen,
  looksLikeToken,
  newToken,
  parseLastSeen,
  parseSequenceMark,
  sequenceMark,
} from "../../lib/protocol/session.ts";
import { MemoryDirectory, mergeRooms, TopicStore, viewsOf } from "../../lib/rooms/directory.ts";
import { Replay } from "../../lib/server/replay.ts";

const encoder = new TextEncoder();

Deno.test("a room is # and a name; one room however spelled; everything else is named as wrong", () => {
  assertEquals(parseRoom("#Rust"), { room: "#Rust" });
  assertEquals(parseRoom("#Café"), { room: "#Caf\u00e9" });
  assertEquals(roomKey("#Rust"), roomKey("#rust"));
  assertEquals(roomKey("#ｒｕｓｔ"), roomKey("#rust"), "compatibility forms fold");
  assert(roomKey("#rust") !== roomKey("#rusty"));
  assertEquals(roomKey("#rust"), "#rust");
  for (const bad of ["rust", "", "#", "##a", "#a b", "#a.b", `#${"r".repeat(33)}`]) {
    assert("error" in parseRoom(bad), bad);
  }
  assertEquals(parseRoom("rust"), {
    error: "a room's name starts with # (# then 1-32 letters, digits, - or _ (any one script))",
  });
});

Deno.test("several isolates' rooms merge by key, members together, sorted by name, empty ones left out", () => {
  assertEquals(
    mergeRooms([
      { name: "#rust", members: [1] },
      { name: "#go", members: [] },
      { name: "#Rust", members: [2, 3] },
      { name: "#ada", members: [4] },
    ]),
    [{ name: "#ada", members: [4] }, { name: "#rust", members: [1, 2, 3] }],
  );
  assertEquals(
    mergeRooms(["#e", "#c", "#a", "#d", "#b", "#c"].map((name, i) => ({ name, members: [i] }))).map((room) =>
      room.name
    ),
    ["#a", "#b", "#c", "#d", "#e"],
  );
  assertEquals(viewsOf([[7, ["#a", "#b"]], [8, []]]), [{ name: "#a", members: [7] }, {
    name: "#b",
    members: [7],
  }]);
  const directory = new MemoryDirectory();
  assertEquals(directory.rooms(), []);
  directory.open(() => [{ name: "#x", members: [1] }]);
  assertEquals(directory.rooms(), [{ name: "#x", members: [1] }]);
  directory.setTopic("#X", { text: "t", by: "a", at: 1 });
  assertEquals(directory.topic("#x"), { text: "t", by: "a", at: 1 });
});

Deno.test("a topic store keeps the newest topic of each room, and forgets the oldest set past its bound", () => {
  const topics = new TopicStore();
  topics.set("#a", { text: "new", by: "x", at: 2 });
  topics.set("#A", { text: "old", by: "y", at: 1 });
  assertEquals(topics.get("#a")?.text, "new", "an older topic does not replace a newer one");
  topics.set("#a", { text: "newer", by: "z", at: 2 });
  assertEquals(topics.get("#a")?.text, "newer", "the same time: the last set wins");
  for (let i = 0; i < 9_999; i++) topics.set(`#r${i}`, { text: "", by: "", at: 3 });
  // Set again, a topic is the newest set: the oldest other one goes first.
  topics.set("#a", { text: "again", by: "z", at: 4 });
  topics.set("#last", { text: "", by: "", at: 5 });
  assertEquals(topics.get("#a")?.text, "again");
  assertEquals(topics.get("#r0"), undefined, "the oldest set went first");
  assertEquals(topics.entries().length, 10_000);
});

Deno.test("a room's numbered lines: each gets the next number; what is not kept any more is counted as lost", () => {
  const replay = new Replay(3 * (32 + 4));
  const line = (text: string) => encoder.encode(text);
  assertEquals(replay.after(0), { lines: [], lost: 0 });
  for (let i = 1; i <= 5; i++) assertEquals(replay.push(line(`l${i}0`.slice(0, 4)), 100 + i, i % 2), i);
  assertEquals(replay.last, 5);
  const { lines, lost } = replay.after(0);
  assertEquals(lines.map((entry) => entry.seq), [3, 4, 5], "three fit");
  assertEquals(lines.map((entry) => entry.order), [103, 104, 105]);
  assertEquals(lines.map((entry) => entry.author), [1, 0, 1], "each with who said it");
  assertEquals(lost, 2);
  assertEquals(replay.after(1).lost, 1);
  assertEquals(replay.after(2), { lines, lost: 0 });
  assertEquals(replay.after(4).lines.map((entry) => entry.seq), [5]);
  assertEquals(replay.after(5), { lines: [], lost: 0 });
  // Exactly at the bound, every line is kept.
  const exact = new Replay(3 * (32 + 4));
  for (let i = 0; i < 3; i++) exact.push(line("abcd"), i);
  assertEquals(exact.after(0).lines.length, 3);
  assertEquals(exact.after(0).lost, 0);
  // Lines bigger than the bound: the newest is still kept, and the others counted as lost.
  const big = new Replay(10);
  for (let i = 1; i <= 3; i++) big.push(line("x".repeat(100)), i);
  assertEquals(big.after(0).lines.map((entry) => entry.seq), [3]);
  assertEquals(big.after(0).lost, 2);
  assertEquals(big.after(2).lost, 0);
  // Long runs compact without losing their place.
  const long = new Replay(64 * 36);
  for (let i = 1; i <= 5000; i++) long.push(line("abcd"), i);
  const tail = long.after(4990);
  assertEquals(tail.lines.map((entry) => entry.seq), [
    4991,
    4992,
    4993,
    4994,
    4995,
    4996,
    4997,
    4998,
    4999,
    5000,
  ]);
  const kept = long.after(0).lines.length;
  assert(kept > 0 && kept <= 64, `${kept} kept`);
  assertEquals(long.after(0).lost, 5000 - kept);
  assertEquals(long.after(0).lines[0].seq, 5001 - kept, "compacted, the oldest kept is where it was");
});

Deno.test("sessions on the wire: tokens of 128 bits, marks before a room's lines, last-seen lists", () => {
  const tokens = new Set(Array.from({ length: 100 }, newToken));
  assertEquals(tokens.size, 100);
  for (const token of tokens) assert(looksLikeToken(token), token);
  for (const bad of ["", "short", "A".repeat(21), "A".repeat(23), "A".repeat(21) + "!"]) {
    assert(!looksLikeToken(bad), bad);
  }
  assertEquals(sequenceMark("#rust", 12), "@#rust:12 ");
  assertEquals(parseSequenceMark("@#rust:12 <bob> hi"), { room: "#rust", seq: 12, rest: "<bob> hi" });
  assertEquals(parseSequenceMark("@#rust:12 #rust <bob> hi")?.rest, "#rust <bob> hi");
  for (const plain of ["<bob> @#rust:12 hi", "@rust:12 x", "@#rust:x y", "@#rust:12", "@#rust 12 x"]) {
    assertEquals(parseSequenceMark(plain), undefined, plain);
  }
  const seen = new Map([["#a", 3], ["#b", 70]]);
  assertEquals(formatLastSeen(seen), "#a:3,#b:70");
  assertEquals(parseLastSeen("#a:3,#b:70"), seen);
  assertEquals(parseLastSeen("-"), new Map());
  assertEquals(parseLastSeen(""), new Map());
  for (const bad of ["#a", "#a:", "a:3", "#a:3,", "#a:3;#b:4", "#a:-1"]) {
    assertEquals(parseLastSeen(bad), undefined, bad);
  }
});

Deno.test("the ring keeps each line's bytes intact through wraps and growth, the newest always, within the bound", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const bound of [200, 5000, 300_000]) {
    const replay = new Replay(bound);
    const pushed: Uint8Array[] = [];
    for (let i = 1; i <= 3000; i++) {
      const line = new Uint8Array(1 + Math.floor(random() * 150)).fill(i % 251);
      line[0] = i % 256;
      pushed.push(line);
      assertEquals(replay.push(line, i), i);
      if (i % 97 !== 0 && i !== 3000) continue;
      const { lines, lost } = replay.after(0);
      assert(lines.length >= 1, "the newest is kept");
      assertEquals(lines.at(-1)!.seq, i);
      assertEquals(lost + lines.length, i, "every line is kept or counted as lost");
      const counted = lines.reduce((sum, entry) => sum + entry.line.length + 32, 0);
      assert(lines.length === 1 || counted <= bound, `${counted} bytes counted against ${bound}`);
      // And as many as the bound allows: the line before the oldest kept would not have fitted.
      const before = pushed[lines[0].seq - 2];
      if (before !== undefined) {
        assert(counted + before.length + 32 > bound, `line ${lines[0].seq - 1} was dropped with room for it`);
      }
      for (const [k, entry] of lines.entries()) {
        assertEquals(entry.seq, i - lines.length + 1 + k, "a run of the newest, in order");
        assertEquals(entry.line, pushed[entry.seq - 1], `line ${entry.seq} intact`);
      }
    }
  }
});
