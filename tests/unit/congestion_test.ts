/**
 * A room's congestion (`lib/server/congestion.ts`): senders wait while anyone is backed up, and are
 * let go once the last one catches up, whatever order they catch up in.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { Congestion } from "../../lib/server/congestion.ts";

/** Whether `promise` has settled, after the microtasks queued so far have run. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("nobody backed up: senders need not wait", () => {
  const congestion = new Congestion();
  assertEquals(congestion.cleared(), undefined);
  congestion.delete({});
  assertEquals(congestion.cleared(), undefined, "deleting someone never added changes nothing");
});

Deno.test("senders wait until the last backed-up member catches up, then all go at once", async () => {
  const congestion = new Congestion();
  const [a, b] = [{}, {}];
  congestion.add(a);
  congestion.add(b);
  congestion.add(a);
  const first = congestion.cleared()!;
  const second = congestion.cleared()!;
  assert(first !== undefined && first === second, "every sender waits on the one promise");
  congestion.delete(a);
  assert(!await settled(first), "b is still backed up");
  assertEquals(congestion.cleared(), first);
  congestion.delete(a);
  assert(!await settled(first), "deleting a twice does not count for b");
  congestion.delete(b);
  assert(await settled(first));
  assertEquals(congestion.cleared(), undefined);
});

Deno.test("after clearing, the next backlog makes a new wait, not the settled one", async () => {
  const congestion = new Congestion();
  const a = {};
  congestion.add(a);
  const first = congestion.cleared()!;
  congestion.delete(a);
  assert(await settled(first));
  congestion.add(a);
  const second = congestion.cleared()!;
  assert(second !== first);
  assert(!await settled(second));
  congestion.delete(a);
  assert(await settled(second));
});

Deno.test("a backlog with nobody waiting clears without anyone asking", () => {
  const congestion = new Congestion();
  const a = {};
  congestion.add(a);
  congestion.delete(a);
  assertEquals(congestion.cleared(), undefined);
});
