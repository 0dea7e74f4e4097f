/**
 * The Redis backend's cases of `tests/unit/redis_backend_test.ts`, over a real redis-server
 * through the network link: what keeps the in-memory Redis honest. Reaping waits for real TTLs.
 */

import { createLogger } from "../../lib/log.ts";
import { ClientLink } from "../../lib/redis/client_link.ts";
import { checkRedisUrl, type RedisAddress } from "../../lib/redis/url.ts";
import { LINUX } from "../../scripts/support/harness.ts";
import { RedisServer } from "../../scripts/support/redis.ts";
import { redisBackendCases } from "../support/redis_backend_cases.ts";

redisBackendCases({
  label: "redis-server",
  ignore: !LINUX,
  async open() {
    const redis = await RedisServer.start();
    const address = checkRedisUrl(redis.url) as RedisAddress;
    const logger = createLogger({ write: () => {} });
    return {
      link: () => ClientLink.open({ address, logger }),
      advance: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      close: () => redis[Symbol.asyncDispose](),
    };
  },
});
