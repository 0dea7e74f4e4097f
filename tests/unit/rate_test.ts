/** The token bucket of `--rate`, on a clock the test gives. */

import { assertEquals } from "../support/assert.ts";
import { TokenBucket } from "../../lib/server/rate.ts";

Deno.test("a full bucket lets a burst through at once, then one line per 1/rate", () => {
  const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, 0);
  assertEquals([bucket.take(0), bucket.take(0), bucket.take(0)], [0, 0, 0]);
  assertEquals(bucket.take(0), 100, "the fourth waits a tenth of a second");
  assertEquals(bucket.take(50), 50, "asked again early, it waits the rest");
  assertEquals(bucket.take(100), 0);
  assertEquals(bucket.take(100), 100);
});

Deno.test("a quiet spell refills the bucket, but never past the burst", () => {
  const bucket = new TokenBucket({ perSecond: 2, burst: 2 }, 0);
  bucket.take(0);
  bucket.take(0);
  assertEquals(bucket.take(0), 500);
  // An hour later: two at once again, not 7200.
  assertEquals([bucket.take(3_600_000), bucket.take(3_600_000), bucket.take(3_600_000) > 0], [0, 0, true]);
});

Deno.test("over a long flood the bucket passes exactly the rate", () => {
  const bucket = new TokenBucket({ perSecond: 20, burst: 50 }, 0);
  let now = 0;
  let passed = 0;
  while (now <= 10_000) {
    const wait = bucket.take(now);
    if (wait === 0) passed++;
    else now += wait;
  }
  // 50 at once, then 20 a second for 10 s.
  assertEquals(passed, 50 + 200);
});
