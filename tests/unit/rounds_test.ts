/**
 * Rounds: who waits, and for how long. Their effect on a saturated server (no starved client, an
 * even share for all) is measured by `deno task bench` and the shared compare.sh with a load
 * generator in C: a load generator in Deno shares the event loop's bias it would be measuring.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { Rounds } from "../../lib/server/rounds.ts";
import { delay } from "../../lib/util/delay.ts";

Deno.test("a caller that read in this round waits for the next; one from an earlier round does not", async () => {
  const rounds = new Rounds();
  try {
    // The doorbell opens asynchronously; until it does, nobody waits.
    while (rounds.after(rounds.current) === undefined) await delay(1);
    const round = rounds.current;
    const waits = Array.from({ length: 150 }, () => rounds.after(round)!);
    assert(waits.every((wait) => wait instanceof Promise));
    await Promise.all(waits);
    assertEquals(rounds.current, round + 1, "150 waiters, one round");
    assertEquals(rounds.after(round), undefined, "a caller from the round before goes at once");
  } finally {
    await rounds.close();
  }
});

Deno.test("closing the rounds lets every waiter go", async () => {
  const rounds = new Rounds();
  while (rounds.after(rounds.current) === undefined) await delay(1);
  const wait = rounds.after(rounds.current)!;
  await rounds.close();
  await wait;
  assertEquals(rounds.after(rounds.current), undefined, "closed rounds make nobody wait");
});
