/**
 * Load patterns shared by the load tests and the reliability report (`scripts/soak.ts`), so that
 * the figures published are measured the way the tests check them.
 */

import { delay } from "../../lib/util/delay.ts";
import type { TestClient } from "./harness.ts";
import { rss } from "./measure.ts";

/** Replies counted across every client of one load, as they arrive. */
export interface Progress {
  replies: number;
}

/**
 * Keeps numbered lines (`ID:SEQ`) in flight on an echo connection, 8 at a time and at most 64,
 * until the server's `* server shutting down` notice. Returns how many replies came before it,
 * having checked that they are the lines sent, in order, without gaps, and that the notice is
 * the last line. Each reply is also counted in `progress`, so a test can wait for real load.
 */
export async function echoUntilShutdown(
  client: TestClient,
  id: number,
  progress?: Progress,
): Promise<number> {
  let sent = 0;
  let received = 0;
  let stop = false;
  const sending = (async () => {
    while (!stop) {
      if (sent - received < 64) {
        await client.send(...Array.from({ length: 8 }, (_, i) => `${id}:${sent + i}`)).catch(() =>
          stop = true
        );
        sent += 8;
      }
      await delay(1);
    }
  })();
  try {
    while (true) {
      const line = await client.lines.next();
      if (line === "* server shutting down") break;
      if (line !== `${id}:${received}`) {
        throw new Error(`client ${id}: expected the reply ${id}:${received}, got ${JSON.stringify(line)}`);
      }
      received++;
      if (progress) progress.replies++;
    }
    const after = await client.lines.rest();
    if (after.length > 0) throw new Error(`client ${id}: lines after the notice: ${JSON.stringify(after)}`);
  } finally {
    stop = true;
    await sending;
  }
  return received;
}

/**
 * Sends `count` lines of 1 KB through a chat room from `talker`, 100 at a time, each batch paced
 * by `listener` receiving it (so both keep up), checking every relayed line. Returns the peak RSS
 * of the server process `pid` seen meanwhile. Notices (`* ...`) the listener gets are skipped.
 */
export async function floodRoom(
  pid: number,
  talker: TestClient,
  listener: TestClient,
  count: number,
): Promise<number> {
  const line = "m".repeat(1000);
  let peak = await rss(pid);
  for (let i = 0; i < count; i += 100) {
    await talker.send(...Array.from({ length: 100 }, (_, j) => `${i + j} ${line}`));
    for (let j = 0; j < 100; j++) {
      let received = await listener.lines.next();
      while (received.startsWith("* ")) received = await listener.lines.next();
      if (!received.endsWith(`> ${i + j} ${line}`)) {
        throw new Error(
          `expected line ${i + j} from the talker, got ${JSON.stringify(received.slice(0, 60))}`,
        );
      }
    }
    if (i % 5000 === 0) peak = Math.max(peak, await rss(pid));
  }
  return Math.max(peak, await rss(pid));
}
