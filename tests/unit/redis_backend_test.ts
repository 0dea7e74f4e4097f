/**
 * The Redis backend over an in-memory Redis: names, ids, relay, history and reaping in
 * milliseconds. The same cases run over a real redis-server in `tests/e2e/redis_backend_test.ts`.
 */

import { parseSession } from "../../lib/redis/sessions.ts";
import { assertEquals } from "../support/assert.ts";
import { FakeRedis } from "../support/fake_redis.ts";
import { redisBackendCases } from "../support/redis_backend_cases.ts";

redisBackendCases({
  label: "in-memory Redis",
  open() {
    const redis = new FakeRedis();
    return Promise.resolve({
      link: () => Promise.resolve(redis.link()),
      advance: (ms: number) => Promise.resolve(redis.advance(ms)),
      close: () => Promise.resolve(),
    });
  },
});

Deno.test("a session read from Redis is taken only as a server writes it; anything else is no session", () => {
  const good = {
    sid: "abc_-1",
    name: "zoe",
    rooms: ["#parley", "#rust"],
    current: "#rust",
    node: "n1",
    id: 7,
    floor: { "#parley": 3 },
  };
  assertEquals(parseSession(JSON.stringify(good)), good);
  const bad: unknown[] = [
    "not json",
    "null",
    "[]",
    { ...good, name: "zoe\x1b[2J" },
    { ...good, name: "zo e" },
    { ...good, name: "x".repeat(500) },
    { ...good, rooms: ["#ok", "no hash"] },
    { ...good, rooms: "#parley" },
    { ...good, sid: "has space" },
    { ...good, id: 1.5 },
    { ...good, id: "7" },
    { ...good, floor: { "#parley": "3" } },
    { ...good, current: 3 },
  ];
  for (const value of bad) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    assertEquals(parseSession(text), undefined, text);
  }
});
