/**
 * Fairness under saturation, end to end. A flooder that pipelines 64 KiB of lines at a time and
 * reads its replies as fast as they come always has bytes ready, so each of its reads completes at
 * once without going back to the event loop; a normal client beside it needs the I/O driver to
 * poll before its read can complete. The read rounds (`lib/server/rounds.ts`) make the flooder
 * wait for that poll too. Measured here: the normal client's round trips had a median of 0.3-1.4 ms
 * and a maximum of 25-33 ms with the rounds, and a median of 600-680 ms and a maximum of 1-2.5 s
 * without them.
 */

import { assert } from "../support/assert.ts";
import { startServer } from "../../scripts/support/harness.ts";
import { writeAll } from "../../lib/util/write.ts";

const encoder = new TextEncoder();

Deno.test("a saturating flooder beside a normal client: the normal client's round trips stay quick", async () => {
  await using server = await startServer(["--mode", "echo", "--quiet"]);
  const flooder = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const burst = encoder.encode(`${"f".repeat(63)}\n`.repeat(1024));
  let stop = false;
  const flooding = Promise.all([
    (async () => {
      while (!stop) await writeAll(flooder, burst);
    })(),
    (async () => {
      const buffer = new Uint8Array(256 * 1024);
      while (!stop && (await flooder.read(buffer)) !== null) {
        // Taken as fast as they come: the flooder is never throttled, only served in turn.
      }
    })(),
  ]).catch(() => {/* closed at the end */});
  const normal = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300)); // the flood is under way
    const buffer = new Uint8Array(1024);
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const started = performance.now();
      await writeAll(normal, encoder.encode(`normal ${i}\n`));
      let reply = "";
      while (!reply.endsWith("\n")) {
        const n = await normal.read(buffer);
        if (n === null) throw new Error("the normal client was closed");
        reply += new TextDecoder().decode(buffer.subarray(0, n));
      }
      assert.ok(reply === `normal ${i}\n`, `reply ${JSON.stringify(reply)}`);
      times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    times.sort((a, b) => a - b);
    const median = times[20];
    const worst = times[39];
    assert.ok(median < 50, `median round trip ${median.toFixed(1)} ms beside the flooder`);
    assert.ok(worst < 400, `slowest round trip ${worst.toFixed(1)} ms beside the flooder`);
  } finally {
    stop = true;
    flooder.close();
    normal.close();
    await flooding;
  }
});
