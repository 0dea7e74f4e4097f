/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * One load-generator worker for `deno task bench`: drives its share of the connections and
 * reports counts and a latency histogram. Running several in Workers keeps the load generator from
 * being the bottleneck on machines with more cores.
 *
 * pingpong: each connection keeps `pipeline` numbered lines in flight; every reply is checked.
 * fanout:   the worker's connections send `rate` lines per second in total, each stamped with its
 *           send time; every line received from others is a delivery whose latency is measured.
 *           With several ports (servers sharing one room), connections take them in turn, and
 *           deliveries from a client of another server are also counted on their own ("across").
 *           With `roomSize`, each run of `roomSize` connections enters a room of its own (and leaves
 *           the start room) before the window opens, so a line reaches its room only.
 *           With `web` and `webPort`, the first `web` connections are WebSockets (the browser
 *           protocol, through Deno's own client) to the server's `--web` port; deliveries to them
 *           are also counted on their own.
 */

import { LineFramer } from "../lib/protocol/framer.ts";
import { delay } from "../lib/util/delay.ts";
import { writeAll } from "../lib/util/write.ts";

/** A job from the main thread. */
export type BenchJob =
  | {
    mode: "pingpong";
    port: number;
    conns: number;
    pipeline: number;
    size: number;
    warmupMs: number;
    durationMs: number;
  }
  | {
    mode: "fanout";
    /** The servers of the room; connection i goes to ports[i % ports.length]. */
    ports: number[];
    conns: number;
    /** How many of the connections are WebSockets to `webPort`. @default {0} */
    web?: number;
    webPort?: number;
    rate: number;
    size: number;
    warmupMs: number;
    durationMs: number;
    drainMs: number;
    tag: number;
    /** Rooms of this many connections each (TCP only), instead of one room for all. */
    roomSize?: number;
  };

/** What a worker reports. */
export interface BenchResult {
  /** Round trips (pingpong) or deliveries (fanout) inside the measured window. */
  count: number;
  /** Per-connection round trips inside the window (pingpong). */
  perConnection: number[];
  /** Latency histogram: bucket i counts samples in [i*10, (i+1)*10) microseconds; the last is overflow. */
  histogram: number[];
  /** Fanout: the same, for deliveries from a client of another server only. */
  across: number[];
  /** Fanout: the same, for deliveries to WebSocket clients only. */
  toWeb: number[];
  /** Fanout: lines sent inside the window. */
  sent: number;
  /** Fanout: connections the server closed before the end (dropped as slow consumers). */
  dropped: number;
  errors: number;
}

/** Histogram resolution and range: 10 us buckets up to 2 s. */
export const BUCKET_US = 10;
export const BUCKETS = 200_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function now(): number {
  return performance.timeOrigin + performance.now();
}

function padded(text: string, size: number): string {
  return text.length + 1 >= size ? text : text + "x".repeat(size - 1 - text.length);
}

async function pingpong(job: Extract<BenchJob, { mode: "pingpong" }>): Promise<BenchResult> {
  const histogram = new Array<number>(BUCKETS + 1).fill(0);
  const start = now() + job.warmupMs;
  const end = start + job.durationMs;
  let errors = 0;
  const conns = await Promise.all(
    Array.from({ length: job.conns }, () => Deno.connect({ hostname: "127.0.0.1", port: job.port })),
  );
  // The window ends by closing the sockets: a connection still waiting for a reply then (one the
  // server starves) must not keep the run going.
  let over = false;
  const closer = setTimeout(() => {
    over = true;
    for (const conn of conns) conn.close();
  }, end - now());
  const perConnection = await Promise.all(conns.map(async (conn, c) => {
    conn.setNoDelay(true);
    const sentAt: number[] = [];
    let next = 0;
    let expected = 0;
    let inWindow = 0;
    const framer = new LineFramer(1 << 20);
    const buffer = new Uint8Array(64 * 1024);
    const line = (seq: number) => padded(`${c}:${seq}`, job.size);
    const send = async (count: number) => {
      let batch = "";
      for (let i = 0; i < count; i++, next++) {
        sentAt[next % job.pipeline] = now();
        batch += line(next) + "\n";
      }
      await writeAll(conn, encoder.encode(batch));
    };
    try {
      await send(job.pipeline);
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        let replies = 0;
        framer.push(buffer.subarray(0, n), (reply) => {
          const at = now();
          if (decoder.decode(reply) !== line(expected)) errors++;
          if (at >= start && at < end) {
            inWindow++;
            histogram[
              Math.min(BUCKETS, Math.floor(((at - sentAt[expected % job.pipeline]) * 1000) / BUCKET_US))
            ]++;
          }
          expected++;
          replies++;
        });
        if (replies > 0 && !over) await send(replies);
      }
    } catch {
      if (!over) errors++;
    }
    return inWindow;
  }));
  clearTimeout(closer);
  if (!over) { for (const conn of conns) conn.close(); }
  return {
    count: perConnection.reduce((a, b) => a + b, 0),
    perConnection,
    histogram,
    across: [],
    toWeb: [],
    sent: 0,
    dropped: 0,
    errors,
  };
}

/** One connection of the fan-out: TCP, or a WebSocket. */
interface Peer {
  send(line: string): Promise<void>;
  close(): void;
}

/** Opens a WebSocket and calls `onLine` with each message; resolves once it is open. */
function openWebPeer(port: number, onLine: (line: string) => void, onClose: () => void): Promise<Peer> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  socket.onmessage = (event) => onLine(String(event.data));
  socket.onclose = onClose;
  return new Promise((resolve, reject) => {
    socket.onopen = () =>
      resolve({
        send: (line) => {
          socket.send(line);
          return Promise.resolve();
        },
        close: () => socket.close(),
      });
    socket.onerror = () => reject(new Error("cannot open a WebSocket"));
  });
}

async function fanout(job: Extract<BenchJob, { mode: "fanout" }>): Promise<BenchResult> {
  const histogram = new Array<number>(BUCKETS + 1).fill(0);
  const across = new Array<number>(BUCKETS + 1).fill(0);
  const toWeb = new Array<number>(BUCKETS + 1).fill(0);
  // The window is set once every connection is open: a line sent while others are still joining
  // is, rightly, not theirs, and must not count as lost.
  let start = Infinity;
  let end = Infinity;
  let count = 0;
  let sent = 0;
  let errors = 0;
  let dropped = 0;
  let closing = false;
  const web = job.web ?? 0;
  const serverOf = (i: number) => i % job.ports.length;
  // @@seq.tag.server.sentAt#: the sending worker, the sender's server, and when it was sent.
  const stamp = /@@(\d+)\.(\d+)\.(\d+)\.(\d+(?:\.\d+)?)#/;
  const received = (i: number, line: string) => {
    const match = stamp.exec(line);
    if (match === null) return;
    const sentAt = Number(match[4]);
    if (sentAt >= start && sentAt < end) {
      count++;
      const bucket = Math.min(BUCKETS, Math.floor(((now() - sentAt) * 1000) / BUCKET_US));
      histogram[bucket]++;
      if (Number(match[3]) !== serverOf(i)) across[bucket]++;
      if (i < web) toWeb[bucket]++;
    }
  };
  const peers: Peer[] = [];
  const readers: Promise<void>[] = [];
  // With rooms: each connection's "* left #parley" says it is in its own room only.
  const moved = new Array<() => void>(job.conns);
  const settled = Array.from(
    { length: job.conns },
    (_, i) => new Promise<void>((resolve) => moved[i] = resolve),
  );
  for (let i = 0; i < job.conns; i++) {
    if (i < web) {
      const { promise: done, resolve } = Promise.withResolvers<void>();
      peers.push(
        await openWebPeer(job.webPort!, (line) => received(i, line), () => {
          if (!closing) dropped++;
          resolve();
        }),
      );
      readers.push(done);
      continue;
    }
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: job.ports[serverOf(i)] });
    conn.setNoDelay(true);
    peers.push({ send: (line) => writeAll(conn, encoder.encode(line + "\n")), close: () => conn.close() });
    readers.push((async () => {
      const framer = new LineFramer(1 << 20);
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (now() < end + job.drainMs) {
          const n = await conn.read(buffer);
          if (n === null) {
            if (!closing) dropped++;
            break;
          }
          framer.push(buffer.subarray(0, n), (bytes) => {
            const line = decoder.decode(bytes);
            if (line.startsWith("* left #parley;")) moved[i]();
            received(i, line);
          });
        }
      } catch {
        // Reset by the server (dropped), or closed by us after the drain.
        if (!closing) dropped++;
      }
    })());
  }
  if (job.roomSize !== undefined) {
    for (const [i, peer] of peers.entries()) {
      await peer.send(`/join #b${job.tag}r${Math.floor(i / job.roomSize)}\n/part #parley`);
    }
    await Promise.all(settled);
  }
  start = now() + job.warmupMs;
  end = start + job.durationMs;
  self.postMessage({ window: true });
  // Send at the configured rate from random connections, in 1 ms steps.
  const interval = 1000 / job.rate;
  let due = now();
  let seq = 0;
  while (now() < end) {
    while (due <= now()) {
      const sender = Math.floor(Math.random() * peers.length);
      const at = now();
      if (at >= start && at < end) sent++;
      await peers[sender].send(padded(`@@${seq++}.${job.tag}.${serverOf(sender)}.${at}#`, job.size))
        .catch(() => errors++);
      due += interval;
    }
    await delay(1);
  }
  await delay(job.drainMs);
  closing = true;
  for (const peer of peers) peer.close();
  await Promise.all(readers);
  return { count, perConnection: [], histogram, across, toWeb, sent, dropped, errors };
}

self.onmessage = async (event: MessageEvent<BenchJob>) => {
  const job = event.data;
  const result = job.mode === "pingpong" ? await pingpong(job) : await fanout(job);
  self.postMessage(result);
};
