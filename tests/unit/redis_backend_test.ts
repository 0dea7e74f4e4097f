/**
 * The Redis backend over an in-memory Redis: names, ids, relay, history and reaping in
 * milliseconds. The same cases run over a real redis-server in `tests/e2e/redis_backend_test.ts`.
 */

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
