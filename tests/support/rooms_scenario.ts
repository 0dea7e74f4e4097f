/**
 * One conversation across rooms, for clients served by different isolates or servers: `x` and `y`
 * are served apart, `z` by either, and only `x` and `y` enter `#rust`. What it checks holds however
 * the rooms are shared (`--workers`, `--redis`): a room's lines reach its members and nobody else,
 * marked with the room for those in several; `#room text` addresses a room; `/rooms` and `/who`
 * count members served elsewhere; `/part` is told to the room and stops its lines.
 */

import type { TestClient } from "../../scripts/support/harness.ts";
import { assertEquals } from "./assert.ts";

/** A client, welcomed, and the name it has. */
export interface Named {
  client: TestClient;
  name: string;
}

/** Runs the conversation; `rooms` is what `/rooms` should say once x and y are in `#rust`. */
export async function roomsScenario(x: Named, y: Named, z: Named, rooms: string): Promise<void> {
  await x.client.send("/join #rust");
  await x.client.lines.waitFor("* joined #rust: 1 here; your lines go there now");
  // The join is shared with the other isolates soon after it, not in the same step.
  await roomsSay(z.client, "#rust (1)");
  await y.client.send("/JOIN #RUST");
  await y.client.lines.waitFor("* joined #rust: 2 here; your lines go there now");
  await x.client.lines.waitFor(`#rust * ${y.name} joined #rust`);
  await y.client.send("crabs");
  await x.client.lines.waitFor(`#rust <${y.name}> crabs`);
  await x.client.send("#rust claws");
  await y.client.lines.waitFor(`#rust <${x.name}> claws`);
  await x.client.send("/rooms");
  assertEquals(await x.client.lines.waitFor(/^\* rooms: /), rooms);
  await z.client.send("/who #rust");
  const members = await z.client.lines.waitFor(/^\* online in #rust: /);
  assertEquals(members.slice("* online in #rust: ".length).split(", ").sort(), [x.name, y.name].sort());
  await y.client.send("/part #rust");
  await y.client.lines.waitFor(/^\* left #rust; your lines go to #/);
  await x.client.lines.waitFor(`#rust * ${y.name} left #rust`);
  await x.client.send("#rust anyone?");
  await roomsSay(z.client, "#rust (1)");
  for (const line of ["crabs", "claws", "anyone?"]) {
    assertEquals(
      z.client.lines.seen.some((seen) => seen.endsWith(line)),
      false,
      `z is not in #rust: ${line}`,
    );
  }
  assertEquals(y.client.lines.seen.some((seen) => seen.endsWith("anyone?")), false, "y left #rust");
}

/**
 * Asks `/rooms` until its answer includes `part`: a change is shared with the other isolates soon
 * after it (at most 100 ms), not in the same step.
 */
async function roomsSay(client: TestClient, part: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await client.send("/rooms");
    const line = await client.lines.waitFor(/^\* rooms: /);
    if (line.includes(part)) return;
    if (Date.now() > deadline) throw new Error(`/rooms never said ${part}; last: ${line}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
