/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * Worker for shared_table_test.ts: hammers one table with increments and claim/release pairs, and
 * fails (by throwing) if it ever sees a claim that another worker holds at the same time.
 */

import { SharedTable } from "../lib/shared_table.ts";

interface Job {
  buffer: SharedArrayBuffer;
  index: number;
  rounds: number;
}

self.onmessage = (event: MessageEvent<Job>) => {
  const { buffer, index, rounds } = event.data;
  const table = new SharedTable(buffer);
  const me = index + 1;
  let won = 0;
  for (let i = 0; i < rounds; i++) {
    table.update("counter", (value) => (value ?? 0) + 1);
    if (table.claim(i % 2 === 0 ? "name" : "NAME", me)) {
      won++;
      if (table.get("name") !== me) throw new Error(`worker ${me} lost a name it held`);
      table.release("name", me);
    }
  }
  self.postMessage(won);
};
