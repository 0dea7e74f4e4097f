/**
 * The event log's levels (`--log-level`, `--quiet`) and formats, in process.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { createLogger, type Threshold } from "../../lib/log.ts";
import { startServer } from "../../scripts/support/harness.ts";

function events(level: Threshold, quiet = false): string[] {
  const lines: string[] = [];
  const logger = createLogger({ format: "json", level, quiet, write: (line) => lines.push(line) });
  logger.debug("d", "debug");
  logger.detail("c", "detail");
  logger.info("i", "info");
  logger.warn("w", "warn");
  logger.error("e", "error");
  return lines.map((line) => JSON.parse(line).event);
}

Deno.test("each level writes itself and what is more severe; --quiet drops only the details", () => {
  assertEquals(events("debug"), ["d", "c", "i", "w", "e"]);
  assertEquals(events("info"), ["c", "i", "w", "e"]);
  assertEquals(events("warn"), ["w", "e"]);
  assertEquals(events("error"), ["e"]);
  assertEquals(events("info", true), ["i", "w", "e"]);
  assertEquals(events("debug", true), ["d", "i", "w", "e"]);
  assertEquals(
    createLogger({ level: "warn", write: () => {} }).verbose,
    false,
    "nothing is built for details",
  );
});

Deno.test("text lines: the time, a level marker but for info, the message escaped", () => {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  logger.info("i", "plain");
  logger.warn("w", "typed \\e and a real \x1b");
  assertMatch(lines[0], /^\[\d\d:\d\d:\d\d\.\d{3}\] plain$/);
  assertMatch(lines[1], /^\[\d\d:\d\d:\d\d\.\d{3}\] warn: typed \\\\e and a real \\e$/);
});

Deno.test("--log-level debug shows a browser's spare connection that closed before a byte; no level warns of it", async () => {
  await using server = await startServer(["--mode", "echo", "--web", "0", "--log-level", "debug"]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.webPort! });
  conn.close();
  await server.stderr.waitFor(/127\.0\.0\.1:\d+ closed before a byte$/);
  assertEquals(server.stderr.seen.some((line) => /warn: .*handshake/.test(line)), false);
});
