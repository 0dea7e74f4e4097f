import { assert, assertEquals } from "../support/assert.ts";
import { Clock, Deadlines } from "../../lib/server/deadlines.ts";

const LIMITS = { idleMs: 1000, lineMs: 300 };

Deno.test("the idle deadline counts from the last input", () => {
  const deadlines = new Deadlines(0);
  assertEquals(deadlines.expired(1000, LIMITS), undefined);
  assertEquals(deadlines.expired(1001, LIMITS), "idle timeout");
  deadlines.input(900, true, false);
  assertEquals(deadlines.expired(1800, LIMITS), undefined);
});

Deno.test("the line deadline counts from a line's first byte, not from each trickle", () => {
  const deadlines = new Deadlines(0);
  deadlines.input(100, false, true); // a line begins
  deadlines.input(200, false, true); // more of it
  deadlines.input(350, false, true); // and more: still the same line
  assertEquals(deadlines.expired(400, LIMITS), undefined);
  assertEquals(deadlines.expired(401, LIMITS), "line timeout");
});

Deno.test("a read that finishes lines and starts another restarts the line clock", () => {
  const deadlines = new Deadlines(0);
  deadlines.input(100, false, true);
  deadlines.input(350, true, true);
  assertEquals(deadlines.expired(600, LIMITS), undefined);
  assertEquals(deadlines.expired(651, LIMITS), "line timeout");
  deadlines.input(700, true, false); // done, nothing open
  assertEquals(deadlines.expired(1500, LIMITS), undefined);
});

Deno.test("no deadline passes while the server is not reading", () => {
  const deadlines = new Deadlines(0);
  deadlines.input(100, false, true);
  deadlines.pause(true);
  assertEquals(deadlines.expired(5000, LIMITS), undefined);
  deadlines.pause(false);
  assertEquals(deadlines.expired(5000, LIMITS), "line timeout");
});

Deno.test("a zero limit never passes", () => {
  const deadlines = new Deadlines(0);
  assertEquals(deadlines.expired(1e9, { idleMs: 0, lineMs: 0 }), undefined);
  deadlines.input(10, false, true);
  assertEquals(
    deadlines.expired(1e9, { idleMs: 0, lineMs: 0 }),
    undefined,
    "not with a line unfinished either",
  );
});

Deno.test("a deadline passes only after its whole limit, not at it", () => {
  const deadlines = new Deadlines(1000);
  const limits = { idleMs: 100, lineMs: 50 };
  assertEquals(deadlines.expired(1100, limits), undefined);
  assertEquals(deadlines.expired(1101, limits), "idle timeout");
  deadlines.input(2000, false, true);
  assertEquals(deadlines.expired(2050, limits), undefined);
  assertEquals(deadlines.expired(2051, limits), "line timeout");
});

Deno.test("the clock reads whole milliseconds, and tick() moves it to now", () => {
  const clock = new Clock();
  assert(Number.isInteger(clock.now));
  const before = clock.now;
  const ticked = clock.tick();
  assertEquals(ticked, clock.now);
  assert(Number.isInteger(ticked) && ticked >= before && ticked <= performance.now());
  assert(Math.abs(ticked - performance.now()) < 1000);
});
