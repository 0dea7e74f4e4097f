/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * Worker for shared_table_test.ts: waits at a barrier so that every worker starts at once, then
 * hammers one table with increments and claim/release pairs, and fails (by throwing) if it ever
 * sees a claim that another worker holds at the same time. Reports its wins and losses.
 */

import { SharedTable } from "../../lib/registry/shared_table.ts";

interface Job {
  buffer: SharedArrayBuffer;
  /** An Int32 that the main thread sets to 1 once every worker is ready. */
  barrier: SharedArrayBuffer;
  index: number;
  rounds: number;
}

self.onmessage = (event: MessageEvent<Job>) => {
  const { buffer, barrier, index, rounds } = event.data;
  const table = new SharedTable(buffer);
  const gate = new Int32Array(barrier);
  const me = index + 1;
  self.postMessage({ ready: true });
  Atomics.wait(gate, 0, 0);
  let won = 0;
  let lost = 0;
  for (let i = 0; i < rounds; i++) {
    table.update("counter", (value) => (value ?? 0) + 1);
    if (table.claim("name", me, i % 2 === 0 ? "name" : "NAME")) {
      won++;
      if (table.get("name") !== me) throw new Error(`worker ${me} lost a name it held`);
      table.release("name", me);
    } else {
      lost++;
    }
  }
  self.postMessage({ won, lost });
};
