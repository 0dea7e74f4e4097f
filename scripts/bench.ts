/**
 * `deno task bench`: how many clients Parley serves, how fast, how fairly and at what memory cost,
 * measured on this machine. With `--compare`, the same load against a small Node `net` server
 * written below (Node is common), and the ratio of each pair from the same run.
 *
 *   deno task bench [--compare] [--duration S] [--workers N] [--server-workers N] [--rate MSGS]
 *                   [--flood-rate MSGS] [--cluster-rate MSGS] [--idle N] [--chart PATH]
 *                   [--rooms-rate MSGS] [--only cluster|rooms|resume|web|admin]
 *
 * Scenarios: echo with 100 connections and 1 or 16 lines in flight (throughput, latency); echo with
 * 1,000 busy connections (fairness: Jain's index over per-connection round trips, starved
 * connections); 10,000 idle connections (server RSS per connection, Linux); chat fan-out to 100
 * clients at `--rate` (delivery latency) and at `--flood-rate`, more than one core relays (clients
 * the server dropped, which should be none: overload slows the talkers); and, where `redis-server`
 * is installed, one room on two Parley servers and one Redis, 100 clients at `--cluster-rate`
 * (delivered, latency across servers against within one, Redis's CPU); many rooms, 1,000 clients in
 * 100 rooms of 10 on two servers at `--rooms-rate`, through one Redis and then a Redis Cluster of 3
 * primaries (deliveries/s, p99, Redis's CPU); and chat fan-out with 50 of
 * the 100 clients on WebSockets (`--web`) against 100 TCP clients. With `--compare`, also chat
 * fan-out with all 100 clients on WebSockets against a Node server on the `ws` package (2,000 and
 * 10,000 lines/s: delivered, p99, server CPU), and idle memory per connection on TCP, TLS and
 * WebSocket beside the Deno floor. The load generator runs in
 * Workers (`scripts/bench_worker.ts`).
 * `--workers` sets the generator's Workers; `--server-workers N` runs Parley with `--workers N`, and
 * then unpinned, since its isolates need cores of their own (the Node baseline stays on one core).
 * Prints a table, then one JSON line; with `--compare --chart PATH`, also writes an SVG chart of the
 * ratios (nothing is written unless asked). Talks to 127.0.0.1 only.
 */

import { parseArgs } from "node:util";
import { SERVER_PATH, startServer, taskPermissions, TestClient } from "./support/harness.ts";
import type { BenchJob, BenchResult } from "./bench_worker.ts";
import { BUCKET_US, BUCKETS } from "./bench_worker.ts";
import { cpuSeconds, ensureFileLimit, idleBytesPerConnection, rss } from "./support/measure.ts";
import { RedisCluster, RedisSentinels, RedisServer } from "./support/redis.ts";
import { certificateFiles } from "./support/certificate_files.ts";
import { WsLines } from "./support/ws_lines.ts";

/** The Node baseline: echo (one write per chunk) or chat (relay to the others), TCP_NODELAY on. */
const NODE_SERVER = `
const net = require("node:net");
const mode = process.argv.at(-1); // "echo" or "chat", the last argument with node -e
const clients = new Set();
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  clients.add(socket);
  let pending = "";
  socket.setEncoding("utf8");
  socket.on("data", (data) => {
    const text = pending + data;
    const end = text.lastIndexOf("\\n");
    if (end === -1) { pending = text; return; }
    pending = text.slice(end + 1);
    const complete = text.slice(0, end + 1);
    if (mode === "echo") { socket.write(complete); return; }
    for (const line of complete.split("\\n")) {
      if (line === "") continue;
      for (const other of clients) if (other !== socket) other.write(line + "\\n");
    }
  });
  socket.on("error", () => {});
  socket.on("close", () => clients.delete(socket));
});
server.listen(0, "127.0.0.1", 20000, () => console.error("listening on 127.0.0.1:" + server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

type Kind = "parley" | "node";

/**
 * Says which case runs, how long it has run and how many are left: on a terminal as one status
 * line redrawn in place every half second, otherwise as one plain line per case (stderr, so that
 * stdout keeps only the results).
 */
class Progress {
  #total = 0;
  #done = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #tty = Deno.stderr.isTerminal();

  /** How many cases the run has, once known. */
  plan(total: number): void {
    this.#total = total;
  }

  /** Runs one case, `label`, showing it while it runs. */
  async step<T>(label: string, run: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const position = `[${this.#done + 1}/${this.#total}]`;
    const show = () => {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      const left = this.#total - this.#done - 1;
      writeStderr(`\r\x1b[2K${position} ${label}: ${seconds} s, ${left} more after it`);
    };
    if (this.#tty) {
      show();
      this.#timer = setInterval(show, 500);
    } else writeStderr(`${position} ${label}\n`);
    try {
      return await run();
    } finally {
      clearInterval(this.#timer);
      this.#done++;
      if (this.#tty) writeStderr("\r\x1b[2K");
    }
  }
}

const progressEncoder = new TextEncoder();
function writeStderr(text: string): void {
  Deno.stderr.writeSync(progressEncoder.encode(text));
}

const progress = new Progress();

interface Options {
  /** Prefix that pins a server to its core, or nothing. */
  pin: string[];
  durationMs: number;
  workers: number;
  /** Parley's `--workers`. */
  serverWorkers: number;
  rate: number;
  /** Chat messages per second of the cluster case (two servers, one Redis). */
  clusterRate: number;
  /** Chat messages per second of the rooms case (1,000 clients in 100 rooms, two servers). */
  roomsRate: number;
  /** Chat messages per second of the flood case: more than the server can relay. */
  floodRate: number;
  idle: number;
}

/** With two or more cores and `taskset`, servers run on CPU 0 and the load generator elsewhere. */
async function pinning(): Promise<string[]> {
  const cores = navigator.hardwareConcurrency;
  if (Deno.build.os !== "linux" || cores < 2) return [];
  const self = await new Deno.Command("taskset", { args: ["-a", "-pc", `1-${cores - 1}`, String(Deno.pid)] })
    .output().catch(() => undefined);
  return self?.success ? ["taskset", "-c", "0"] : [];
}

/** A server process for one scenario; `extra` are more flags for Parley (`--web 0`). */
async function start(kind: Kind, mode: "echo" | "chat", options: Options, extra: string[] = []) {
  const { pin, serverWorkers } = options;
  const command = kind === "parley"
    ? [
      ...(serverWorkers > 1 ? [] : pin),
      ...[Deno.execPath(), "run", ...taskPermissions("server"), SERVER_PATH],
      ...["--port", "0", "--mode", mode, "--quiet", "--workers", String(serverWorkers)],
      // Each synthetic client says more lines a second than a person would: no flood control here.
      ...(mode === "chat" ? ["--rate", "0"] : []),
    ]
    : [...pin, "node", "-e", NODE_SERVER, mode];
  const server = await startServer(kind === "parley" ? ["--max-conns", "30000", ...extra] : [], { command });
  if (kind === "parley" && serverWorkers > 1) await server.stderr.waitFor(/workers serving/);
  return server;
}

/** Splits `total` connections over the workers and runs `job` in each. */
async function drive(
  options: Options,
  total: number,
  job: (conns: number, index: number) => BenchJob,
  onWindow?: () => void,
): Promise<BenchResult[]> {
  let windowOpen = false;
  const count = Math.min(options.workers, total);
  return await Promise.all(Array.from({ length: count }, (_, i) => {
    const share = Math.floor(total / count) + (i < total % count ? 1 : 0);
    const worker = new Worker(new URL("./bench_worker.ts", import.meta.url), { type: "module" });
    return new Promise<BenchResult>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<BenchResult | { window: true }>) => {
        if ("window" in event.data) {
          // The first worker to open its window says when the measurement starts.
          if (!windowOpen) onWindow?.();
          windowOpen = true;
          return;
        }
        worker.terminate();
        resolve(event.data);
      };
      worker.onerror = (event) => {
        worker.terminate();
        reject(new Error(event.message));
      };
      worker.postMessage(job(share, i));
    });
  }));
}

function merged(results: BenchResult[]): number[] {
  const histogram = new Array<number>(BUCKETS + 1).fill(0);
  for (const result of results) result.histogram.forEach((n, i) => histogram[i] += n);
  return histogram;
}

/** The upper bound of the bucket holding quantile `q`, in milliseconds; Infinity past the range. */
function quantileMs(histogram: number[], q: number): number {
  const total = histogram.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram[i];
    if (seen >= total * q) return ((i + 1) * BUCKET_US) / 1000;
  }
  return total === 0 ? NaN : Infinity;
}

function jain(counts: number[]): number {
  const sum = counts.reduce((a, b) => a + b, 0);
  const squares = counts.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 0 : (sum * sum) / (counts.length * squares);
}

async function pingpong(kind: Kind, options: Options, conns: number, pipeline: number, extra: string[] = []) {
  await using server = await start(kind, "echo", options, extra);
  const results = await drive(options, conns, (share) => ({
    mode: "pingpong",
    port: server.port,
    conns: share,
    pipeline,
    size: 64,
    warmupMs: 1000,
    durationMs: options.durationMs,
  }));
  const histogram = merged(results);
  const perConnection = results.flatMap((r) => r.perConnection);
  return {
    msgsPerSecond: Math.round(results.reduce((a, r) => a + r.count, 0) / (options.durationMs / 1000)),
    p50Ms: quantileMs(histogram, 0.5),
    p99Ms: quantileMs(histogram, 0.99),
    jain: Math.round(jain(perConnection) * 1000) / 1000,
    starved: perConnection.filter((n) => n === 0).length,
    errors: results.reduce((a, r) => a + r.errors, 0),
  };
}

/** How long a fan-out waits before measuring, and for the last deliveries after. */
const FANOUT_WARMUP_MS = 1000;
const FANOUT_DRAIN_MS = 2000;

/**
 * Runs a chat fan-out: `conns` clients of the servers at `ports` (in turn) saying `rate` lines a
 * second in all, 64 bytes each; with `webPort`, half of each worker's clients are WebSockets there.
 */
function driveFanout(
  options: Options,
  room: {
    conns: number;
    rate: number;
    ports: number[];
    webPort?: number;
    webShare?: number;
    roomSize?: number;
    /** Called when the measurement's warm-up starts (every client connected, and in its room). */
    onWindow?: () => void;
  },
): Promise<BenchResult[]> {
  const { conns, rate, ports, webPort, webShare = 0.5, roomSize, onWindow } = room;
  return drive(options, conns, (share, index) => ({
    mode: "fanout",
    ports,
    conns: share,
    ...(webPort === undefined ? {} : { web: Math.round(share * webShare), webPort }),
    rate: rate * share / conns,
    size: 64,
    warmupMs: FANOUT_WARMUP_MS,
    durationMs: options.durationMs,
    drainMs: FANOUT_DRAIN_MS,
    tag: index,
    roomSize,
  }), onWindow);
}

/** What every fan-out case reports: deliveries a second, the share delivered, clients dropped. */
function deliveries(results: BenchResult[], options: Options, conns: number) {
  const sent = results.reduce((sum, r) => sum + r.sent, 0);
  const delivered = results.reduce((sum, r) => sum + r.count, 0);
  return {
    linesPerSecond: Math.round(sent / (options.durationMs / 1000)),
    deliveriesPerSecond: Math.round(delivered / (options.durationMs / 1000)),
    delivered: Math.round((delivered / (sent * (conns - 1))) * 10000) / 100,
    dropped: results.reduce((sum, r) => sum + r.dropped, 0),
  };
}

/** The histogram of one subset of deliveries (`across`, `toWeb`), over every worker. */
function mergedSubset(results: BenchResult[], subset: "across" | "toWeb"): number[] {
  const histogram = new Array<number>(BUCKETS + 1).fill(0);
  for (const result of results) result[subset].forEach((n, i) => histogram[i] += n);
  return histogram;
}

async function fanout(kind: Kind, options: Options, rate: number) {
  await using server = await start(kind, "chat", options);
  const conns = 100;
  const results = await driveFanout(options, { conns, rate, ports: [server.port] });
  const histogram = merged(results);
  const { deliveriesPerSecond, delivered, dropped } = deliveries(results, options, conns);
  return {
    deliveriesPerSecond,
    delivered,
    p50Ms: quantileMs(histogram, 0.5),
    p99Ms: quantileMs(histogram, 0.99),
    dropped,
  };
}

/**
 * Chat fan-out with half the clients on the browser protocol: 50 WebSockets (Deno's own client) on
 * `--web` and 50 TCP clients in one room, at `--rate`, against the same room of 100 TCP clients
 * in the same run. Parley only: the Node baseline has no WebSocket side.
 */
async function webFanout(options: Options) {
  await using server = await start("parley", "chat", options, ["--web", "0"]);
  const conns = 100;
  const results = await driveFanout(options, {
    conns,
    rate: options.rate,
    ports: [server.port],
    webPort: server.webPort,
  });
  const all = merged(results);
  const toWeb = mergedSubset(results, "toWeb");
  const { deliveriesPerSecond, delivered, dropped } = deliveries(results, options, conns);
  return {
    deliveriesPerSecond,
    delivered,
    p99Ms: quantileMs(all, 0.99),
    p99ToWebMs: quantileMs(toWeb, 0.99),
    p99ToTcpMs: quantileMs(all.map((n, i) => n - toWeb[i]), 0.99),
    dropped,
  };
}

/**
 * The ecosystem's standard WebSocket server as the browsers' baseline: a chat room on Node's `ws`
 * package (no compression, 64 KiB messages at most, as Parley's default), relaying each message to
 * every other client.
 */
const NODE_WS_SERVER = `
const { WebSocketServer } = require("ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/ws", perMessageDeflate: false, maxPayload: 65536 });
wss.on("connection", (socket) => {
  socket.on("message", (data) => {
    for (const other of wss.clients) if (other !== socket && other.readyState === 1) other.send(data, { binary: false });
  });
  socket.on("error", () => {});
});
wss.on("listening", () => console.error("listening on 127.0.0.1:" + wss.address().port));
process.on("SIGTERM", () => process.exit(0));
`;
/** The `ws` release the baseline runs on, installed by npm into a cache folder on first use. */
const NODE_WS_VERSION = "8.23.1";

/** The folder holding `node_modules/ws`, installed there first if need be. */
async function nodeWsModules(): Promise<string> {
  const dir = `${
    Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`
  }/parley-bench/ws-${NODE_WS_VERSION}`;
  const installed = await Deno.stat(`${dir}/node_modules/ws/package.json`).then(() => true, () => false);
  if (!installed) {
    await Deno.mkdir(dir, { recursive: true });
    const npm = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        dir,
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        `ws@${NODE_WS_VERSION}`,
      ],
      stdout: "null",
    }).output();
    if (!npm.success) throw new Error(`cannot install ws@${NODE_WS_VERSION} with npm`);
  }
  return `${dir}/node_modules`;
}

/**
 * Chat fan-out with every one of 100 clients on the browser protocol (Deno's own WebSocket client),
 * at `rate`, on Parley's `--web` or on the Node `ws` baseline: delivered, p99, and how much of a core
 * the server used over the measured window.
 */
async function browserFanout(kind: "parley" | "node-ws", options: Options, rate: number) {
  await using server = kind === "parley"
    ? await start("parley", "chat", options, ["--web", "0"])
    : await startServer([], {
      command: [...options.pin, "env", `NODE_PATH=${await nodeWsModules()}`, "node", "-e", NODE_WS_SERVER],
    });
  const webPort = kind === "parley" ? server.webPort : server.port;
  const conns = 100;
  const cpu: number[] = [];
  const sample = async () => cpu.push(await cpuSeconds(server.pid));
  const first = setTimeout(sample, FANOUT_WARMUP_MS);
  const last = setTimeout(sample, FANOUT_WARMUP_MS + options.durationMs);
  const results = await driveFanout(options, { conns, rate, ports: [server.port], webPort, webShare: 1 });
  clearTimeout(first);
  clearTimeout(last);
  const { delivered, dropped } = deliveries(results, options, conns);
  return {
    delivered,
    p99Ms: quantileMs(merged(results), 0.99),
    serverCpu: cpu.length === 2
      ? Math.round(((cpu[1] - cpu[0]) / (options.durationMs / 1000)) * 100) / 100
      : NaN,
    dropped,
  };
}

/**
 * The floor of a Deno server: an accept loop whose connections each hold one pending 16-byte read
 * and echo it. What a connection costs beyond this is the server's own, not the runtime's.
 */
const DENO_FLOOR = `
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.error("listening on 127.0.0.1:" + listener.addr.port);
for await (const conn of listener) {
  (async () => {
    const buffer = new Uint8Array(16);
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) await conn.write(buffer.subarray(0, n));
    } catch {}
    try { conn.close(); } catch {}
  })();
}
`;

/** Idle memory per connection on each transport, beside the Deno floor: `count` connections each. */
async function idleByTransport(options: Options, count: number) {
  if (Deno.build.os !== "linux") return undefined;
  await using cert = await certificateFiles();
  const parley = (extra: string[]) =>
    start("parley", "echo", { ...options, serverWorkers: 1 }, ["--idle-timeout", "0", ...extra]);
  const tcp = await (async () => {
    await using server = await parley([]);
    return await idleBytesPerConnection(server.pid, server.port, count);
  })();
  const tls = await (async () => {
    await using server = await parley(["--tls-cert", cert.certPath, "--tls-key", cert.keyPath]);
    return await idleBytesPerConnection(
      server.pid,
      server.port,
      count,
      (port) => Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [cert.cert] }),
    );
  })();
  const ws = await (async () => {
    await using server = await parley(["--web", "0"]);
    return await idleBytesPerConnection(server.pid, server.webPort, count, (port) => WsLines.open(port));
  })();
  const floor = await (async () => {
    await using server = await startServer([], {
      command: [...options.pin, Deno.execPath(), "eval", DENO_FLOOR],
    });
    return await idleBytesPerConnection(server.pid, server.port, count);
  })();
  return { count, tcp, tls, ws, floor };
}

type BrowserFanout = Awaited<ReturnType<typeof browserFanout>>;

/** Whether `redis-server` can be run here. */
async function haveRedis(): Promise<boolean> {
  return await new Deno.Command("redis-server", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((result) => result.success, () => false);
}

/**
 * One room on two Parley servers and one Redis: 100 clients, half on each server, saying
 * `--cluster-rate` lines a second in all. Delivery latency across servers (through Redis) against
 * within one server, and how much of a core Redis used while it was measured.
 */
async function cluster(options: Options) {
  // The servers and Redis share the servers' core; the load generator keeps the others.
  await using redis = await RedisServer.start({ prefix: options.pin });
  await using a = await start("parley", "chat", options, ["--redis", redis.url]);
  await using b = await start("parley", "chat", options, ["--redis", redis.url]);
  const conns = 100;
  const cpu: number[] = [];
  const sample = async () => cpu.push(await cpuSeconds(redis.pid));
  const first = setTimeout(sample, FANOUT_WARMUP_MS);
  const last = setTimeout(sample, FANOUT_WARMUP_MS + options.durationMs);
  const results = await driveFanout(options, { conns, rate: options.clusterRate, ports: [a.port, b.port] });
  clearTimeout(first);
  clearTimeout(last);
  const all = merged(results);
  const across = mergedSubset(results, "across");
  const within = all.map((n, i) => n - across[i]);
  const { linesPerSecond, delivered, dropped } = deliveries(results, options, conns);
  // The same again, with Redis frozen (SIGSTOP) for 5 s from the start of the measurement: what
  // the clients of each server feel of it within their own room.
  const freeze = setTimeout(() => {
    Deno.kill(redis.pid, "SIGSTOP");
    setTimeout(() => Deno.kill(redis.pid, "SIGCONT"), STALL_MS);
  }, FANOUT_WARMUP_MS);
  const stalled = await driveFanout(options, { conns, rate: options.clusterRate, ports: [a.port, b.port] });
  clearTimeout(freeze);
  Deno.kill(redis.pid, "SIGCONT");
  const stalledAll = merged(stalled);
  const stalledAcross = mergedSubset(stalled, "across");
  return {
    linesPerSecond,
    delivered,
    p99AcrossMs: quantileMs(across, 0.99),
    p99WithinMs: quantileMs(within, 0.99),
    p99WithinStalledMs: quantileMs(stalledAll.map((n, i) => n - stalledAcross[i]), 0.99),
    redisCpuPercent: cpu.length === 2
      ? Math.round(((cpu[1] - cpu[0]) / (options.durationMs / 1000)) * 1000) / 10
      : NaN,
    dropped,
    failoverSeconds: await failover(),
  };
}

/**
 * Many rooms on two Parley servers: 1,000 clients in 100 rooms of 10 (each room half on each
 * server), saying `--rooms-rate` lines a second in all, first through one Redis and then through a
 * Redis Cluster of 3 primaries. Deliveries a second, the share delivered (each line to the 9 others
 * of its room), p99 (all, and across servers), and the CPU Redis used (all nodes together).
 */
async function rooms(options: Options, through: "one Redis" | "a 3-primary cluster") {
  await using redis = through === "one Redis"
    ? await RedisServer.start({ prefix: options.pin })
    : await RedisCluster.start({ prefix: options.pin });
  const nodes = redis instanceof RedisCluster ? redis.nodes : [redis];
  await using a = await start("parley", "chat", options, ["--redis", redis.url]);
  await using b = await start("parley", "chat", options, ["--redis", redis.url]);
  const conns = 1000;
  const roomSize = 10;
  const cpu: number[] = [];
  const sample = async () => {
    const seconds = await Promise.all(nodes.map((node) => cpuSeconds(node.pid)));
    cpu.push(seconds.reduce((sum, s) => sum + s, 0));
  };
  // The window opens once every client is in its room: sample from then (the generator's own clock).
  const results = await driveFanout(options, {
    conns,
    rate: options.roomsRate,
    ports: [a.port, b.port],
    roomSize,
    onWindow: () => {
      setTimeout(sample, FANOUT_WARMUP_MS);
      setTimeout(sample, FANOUT_WARMUP_MS + options.durationMs);
    },
  });
  const all = merged(results);
  const across = mergedSubset(results, "across");
  const sent = results.reduce((sum, r) => sum + r.sent, 0);
  const count = results.reduce((sum, r) => sum + r.count, 0);
  return {
    through,
    linesPerSecond: Math.round(sent / (options.durationMs / 1000)),
    deliveriesPerSecond: Math.round(count / (options.durationMs / 1000)),
    delivered: Math.round((count / (sent * (roomSize - 1))) * 10000) / 100,
    p99Ms: quantileMs(all, 0.99),
    p99AcrossMs: quantileMs(across, 0.99),
    redisCpuPercent: cpu.length === 2
      ? Math.round(((cpu[1] - cpu[0]) / (options.durationMs / 1000)) * 1000) / 10
      : NaN,
    dropped: results.reduce((sum, r) => sum + r.dropped, 0),
  };
}

/**
 * Sessions (`/session`, `/resume`): how long a client that comes back takes to get 1,000 lines it
 * missed (from its new connect to the last of them; the median of 5), on one server and across
 * two servers through Redis (gone from one, back on the other); and the server's memory for
 * 10,000 sessions parked at once (RSS growth over the server with none).
 */
async function resumeCase(options: Options) {
  let times: number[];
  {
    await using server = await start("parley", "chat", options, ["--resume-buffer", "4M"]);
    times = await resumeRounds(server.port, server.port);
  }
  let across: number[];
  let redisBytes = 0;
  {
    await using redis = await RedisServer.start({ prefix: options.pin });
    const flags = ["--resume-buffer", "4M", "--redis", redis.url];
    await using a = await start("parley", "chat", options, flags);
    await using b = await start("parley", "chat", options, flags);
    across = await resumeRounds(a.port, b.port);
    // What a session away costs Redis: 1,000 parked at once, the growth of its used memory.
    const before = await redisMemory(redis.port);
    for (let i = 0; i < 1000; i += 250) {
      const batch = await Promise.all(Array.from({ length: 250 }, async () => {
        const client = await TestClient.connect(a.port);
        await client.lines.waitFor(/^\* welcome/);
        await client.send("/session");
        await client.lines.waitFor(/^\* session /);
        return client;
      }));
      for (const client of batch) await client[Symbol.asyncDispose]();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    redisBytes = (await redisMemory(redis.port)) - before;
  }
  // The same 10,000 connects and drops with sessions off: what churn alone leaves in the RSS.
  const count = 10_000;
  const churn = await parkedGrowth(options, count, false);
  const parked = await parkedGrowth(options, count, true);
  const median = (values: number[]) => Math.round([...values].sort((a, b) => a - b)[2] * 10) / 10;
  return {
    resumeMs: median(times),
    rounds: times.map((ms) => Math.round(ms * 10) / 10),
    acrossMs: median(across),
    acrossRounds: across.map((ms) => Math.round(ms * 10) / 10),
    redisBytesPerSession: Math.round(redisBytes / 1000),
    parkedSessions: count,
    parkedBytes: parked,
    churnBytes: churn,
  };
}

/** Redis's `used_memory`, in bytes. */
async function redisMemory(port: number): Promise<number> {
  const { stdout } = await new Deno.Command("redis-cli", { args: ["-p", String(port), "INFO", "memory"] })
    .output();
  return Number(/used_memory:(\d+)/.exec(new TextDecoder().decode(stdout))?.[1] ?? NaN);
}

/**
 * Five rounds of: a client with a session on `awayPort` drops, a talker on `backPort` says 1,000
 * lines, and the client comes back on `backPort`; the time from its new connect to its last
 * missed line, each round.
 */
async function resumeRounds(awayPort: number, backPort: number): Promise<number[]> {
  const times: number[] = [];
  const talker = await TestClient.connect(backPort, { label: "talker" });
  await talker.lines.waitFor(/^\* welcome/);
  try {
    for (let round = 0; round < 5; round++) {
      const away = await TestClient.connect(awayPort, { label: "away" });
      await away.lines.waitFor(/^\* welcome/);
      await away.send("/session");
      const token = (await away.lines.waitFor(/^\* session /)).slice("* session ".length);
      // Whatever was said before, it saw: it comes back for the 1,000 lines after.
      await talker.send("mark");
      const seen = /^@(#\w+:\d+) /.exec(await away.lines.waitFor(/<\w+> mark$/))![1];
      await away[Symbol.asyncDispose]();
      await talker.send(...Array.from({ length: 1000 }, (_, i) => `missed ${i + 1}`));
      // The talker's own lines are in order: once it hears back from the room, they are all told.
      await talker.send("/rooms");
      await talker.lines.waitFor(/^\* rooms: /);
      const started = performance.now();
      await using back = await TestClient.connect(backPort, { label: "back" });
      await back.lines.waitFor(/^\* welcome/);
      await back.send(`/resume ${token} ${seen}`);
      await back.lines.waitFor(/^\* resumed as \S+; 1000 missed lines follow$/);
      await back.lines.waitFor(/ missed 1000$/);
      times.push(performance.now() - started);
      await back.send("/quit");
      await back.lines.waitFor("* bye");
    }
  } finally {
    await talker[Symbol.asyncDispose]();
  }
  return times;
}

/**
 * The RSS growth of a chat server after `count` clients each connected, asked for a session (with
 * `sessions`; the server refuses one without) and dropped, 250 at a time.
 */
async function parkedGrowth(options: Options, count: number, sessions: boolean): Promise<number> {
  await using server = await start("parley", "chat", options, sessions ? [] : ["--resume-window", "0"]);
  const before = await rss(server.pid);
  for (let i = 0; i < count; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, count - i) }, async () => {
      const client = await TestClient.connect(server.port);
      await client.lines.waitFor(/^\* welcome/);
      // A /resume with no session starts one without settling the join (a first /session would:
      // 10,000 joins told to up to 10,000 members is another benchmark), so the figure is the
      // parked sessions and their held names.
      await client.send("/resume AAAAAAAAAAAAAAAAAAAAAA");
      await client.lines.waitFor(sessions ? /^\* session / : /^ERR sessions are off/);
      return client;
    }));
    for (const client of batch) await client[Symbol.asyncDispose]();
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return (await rss(server.pid)) - before;
}

/**
 * What `--admin` costs: echo with 100 connections with it and without it, three rounds each,
 * interleaved (medians compared); and how long one scrape of `/metrics` takes with `options.idle`
 * connections open (the median of five).
 */
async function adminCost(options: Options) {
  const rates: Record<"off" | "on", number[]> = { off: [], on: [] };
  for (let round = 0; round < 3; round++) {
    rates.off.push((await pingpong("parley", options, 100, 1)).msgsPerSecond);
    rates.on.push((await pingpong("parley", options, 100, 1, ["--admin", "0"])).msgsPerSecond);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  await using server = await start("parley", "echo", options, ["--admin", "0"]);
  const admin = /http:\/\/[\d.:]+/.exec(await server.stderr.waitFor(/admin endpoint on /))![0];
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < options.idle; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    const scrapes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const text = await (await fetch(`${admin}/metrics`)).text();
      scrapes.push(performance.now() - started);
      if (!text.includes(`parley_connections_open{transport="tcp",mode="echo"} ${options.idle}`)) {
        throw new Error(`the scrape does not count ${options.idle} connections open`);
      }
    }
    return {
      offMsgsPerSecond: median(rates.off),
      onMsgsPerSecond: median(rates.on),
      rounds: rates,
      scrapeMs: Math.round(median(scrapes) * 10) / 10,
    };
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** How long Redis is frozen in the stalled-cluster measurement. */
const STALL_MS = 5000;

/**
 * Behind Sentinel (a primary, a replica, three sentinels), two servers and a client on each: the
 * seconds from `kill -9` of the primary until a line said on one server reaches the other again.
 */
async function failover(): Promise<number> {
  await using set = await RedisSentinels.start();
  const options = { command: undefined };
  await using a = await startServer(
    ["--mode", "chat", "--quiet", "--rate", "0", "--redis", set.url],
    options,
  );
  await using b = await startServer(
    ["--mode", "chat", "--quiet", "--rate", "0", "--redis", set.url],
    options,
  );
  await using speaker = await TestClient.connect(a.port);
  await using listener = await TestClient.connect(b.port);
  await listener.lines.waitFor(/^\* welcome/);
  await speaker.lines.waitFor(/^\* welcome/);
  const killed = performance.now();
  await set.primary.kill();
  let n = 0;
  let crossed = false;
  const heard = listener.lines.waitFor(/> after \d+$/, 60_000).then(() => crossed = true);
  while (!crossed) {
    await speaker.send(`after ${n++}`);
    await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  return Math.round((performance.now() - killed) / 100) / 10;
}

async function idle(kind: Kind, options: Options) {
  if (Deno.build.os !== "linux") return { bytesPerConnection: NaN };
  await using server = await start(kind, "echo", options);
  return { bytesPerConnection: await idleBytesPerConnection(server.pid, server.port, options.idle) };
}

async function measure(kind: Kind, options: Options) {
  const step = <T>(label: string, run: () => Promise<T>) => progress.step(`${kind}: ${label}`, run);
  return {
    echo100: await step("echo, 100 connections", () => pingpong(kind, options, 100, 1)),
    echo100x16: await step("echo, 100 connections x 16 in flight", () => pingpong(kind, options, 100, 16)),
    echo1000: await step("echo, 1,000 busy connections", () => pingpong(kind, options, 1000, 1)),
    idle: await step(`${options.idle.toLocaleString("en")} idle connections`, () => idle(kind, options)),
    fanout: await step("chat fan-out", () => fanout(kind, options, options.rate)),
    flood: await step("chat flood", () => fanout(kind, options, options.floodRate)),
  };
}

type Measured = Awaited<ReturnType<typeof measure>>;

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : `> ${(BUCKETS * BUCKET_US) / 1000}`;
}

/** Rows of the report: label, value for a server, and whether higher is better. */
const ROWS: [string, (m: Measured) => number, boolean, (n: number) => string][] = [
  [
    "echo, 100 conns, 1 in flight (msgs/s)",
    (m) => m.echo100.msgsPerSecond,
    true,
    (n) => n.toLocaleString("en"),
  ],
  ["  p99 round trip (ms)", (m) => m.echo100.p99Ms, false, ms],
  [
    "echo, 100 conns, 16 in flight (msgs/s)",
    (m) => m.echo100x16.msgsPerSecond,
    true,
    (n) => n.toLocaleString("en"),
  ],
  ["echo, 1000 conns (msgs/s)", (m) => m.echo1000.msgsPerSecond, true, (n) => n.toLocaleString("en")],
  ["  fairness (Jain index, 1 = even)", (m) => m.echo1000.jain, true, (n) => n.toFixed(3)],
  ["  starved connections", (m) => m.echo1000.starved, false, (n) => String(n)],
  [
    "idle conns: RSS per connection (bytes)",
    (m) => m.idle.bytesPerConnection,
    false,
    (n) => n.toLocaleString("en"),
  ],
  ["chat fan-out: deliveries/s", (m) => m.fanout.deliveriesPerSecond, true, (n) => n.toLocaleString("en")],
  ["  delivered (%)", (m) => m.fanout.delivered, true, (n) => n.toFixed(2)],
  ["  delivery p99 (ms)", (m) => m.fanout.p99Ms, false, ms],
  [
    "chat flood (--flood-rate): deliveries/s",
    (m) => m.flood.deliveriesPerSecond,
    true,
    (n) => n.toLocaleString("en"),
  ],
  ["  flood delivered (%)", (m) => m.flood.delivered, true, (n) => n.toFixed(2)],
  ["  flood delivery p99 (ms)", (m) => m.flood.p99Ms, false, ms],
  ["  flood clients dropped", (m) => m.flood.dropped, false, (n) => String(n)],
];

/** Parley relative to Node: above 1 is better for Parley, whichever way the metric points. */
function ratio(parley: number, node: number, higherIsBetter: boolean): number {
  if (!(parley > 0 && node > 0 && Number.isFinite(parley) && Number.isFinite(node))) return NaN;
  return Math.round((higherIsBetter ? parley / node : node / parley) * 100) / 100;
}

function table(parley: Measured, node: Measured | undefined): string {
  const header = node ? ["", "parley", "node net", "parley vs node"] : ["", "parley"];
  const rows = ROWS.map(([label, get, higher, format]) => {
    const row = [label, format(get(parley))];
    const r = node ? ratio(get(parley), get(node), higher) : NaN;
    if (node) row.push(format(get(node)), Number.isFinite(r) ? `${r.toFixed(2)}x` : "-");
    return row;
  });
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i].length)));
  return [header, ...rows].map((row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("   ")
  ).join("\n");
}

/** A horizontal bar chart of Parley-vs-Node ratios, with the parity line at 1x. */
function chart(parley: Measured, node: Measured): string {
  const rows = ROWS.filter(([label]) =>
    !label.startsWith("  ") || label.includes("p99") || label.includes("Jain")
  )
    .map(([label, get, higher]) => [label.trim(), ratio(get(parley), get(node), higher)] as const)
    .filter(([, r]) => Number.isFinite(r));
  const max = Math.max(2, ...rows.map(([, r]) => r));
  const left = 300, width = 360, rowHeight = 26, top = 40;
  const x = (r: number) => left + (Math.min(r, max) / max) * width;
  const bars = rows.map(([label, r], i) => {
    const y = top + i * rowHeight;
    const color = r >= 1 ? "#2e7d32" : "#c62828";
    return `<text x="${left - 8}" y="${y + 16}" text-anchor="end">${label}</text>` +
      `<rect x="${left}" y="${y + 4}" width="${(x(r) - left).toFixed(1)}" height="16" fill="${color}"/>` +
      `<text x="${x(r) + 6}" y="${y + 16}">${r.toFixed(2)}x</text>`;
  }).join("\n");
  const height = top + rows.length * rowHeight + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${
    left + width + 80
  }" height="${height}" font-family="sans-serif" font-size="13">
<text x="10" y="22" font-size="15" font-weight="bold">Parley relative to Node net, same run (above 1x: Parley better)</text>
<line x1="${x(1)}" y1="${top}" x2="${x(1)}" y2="${height - 16}" stroke="#555" stroke-dasharray="4 3"/>
${bars}
</svg>
`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      compare: { type: "boolean", default: false },
      duration: { type: "string", default: "4" },
      workers: { type: "string", default: String(Math.max(1, navigator.hardwareConcurrency - 1)) },
      "server-workers": { type: "string", default: "1" },
      rate: { type: "string", default: "2000" },
      "cluster-rate": { type: "string", default: "5000" },
      "rooms-rate": { type: "string", default: "10000" },
      "flood-rate": { type: "string", default: "50000" },
      idle: { type: "string", default: "10000" },
      chart: { type: "string" },
      only: { type: "string" },
    },
  });
  if (values.only !== undefined && !["cluster", "rooms", "resume", "web", "admin"].includes(values.only)) {
    throw new TypeError(`--only takes "cluster", "rooms", "resume", "web" or "admin", got "${values.only}"`);
  }
  const options: Options = {
    pin: await pinning(),
    durationMs: Number(values.duration) * 1000,
    workers: Number(values.workers),
    serverWorkers: Number(values["server-workers"]),
    rate: Number(values.rate),
    clusterRate: Number(values["cluster-rate"]),
    roomsRate: Number(values["rooms-rate"]),
    floodRate: Number(values["flood-rate"]),
    idle: Number(values.idle),
  };
  if (Deno.build.os === "linux") {
    await ensureFileLimit(options.idle + 2000, new URL(import.meta.url).pathname, Deno.args);
  }
  if (values.only === "resume") {
    progress.plan(1);
    const resume = await progress.step(
      "sessions: resume 1,000 missed lines; 10,000 parked",
      () => resumeCase(options),
    );
    console.log([
      "",
      "sessions",
      `  resume with 1,000 missed lines, one server (ms, connect to the last line; median of 5)  ${resume.resumeMs}  (${
        resume.rounds.join(", ")
      })`,
      `  the same across two servers through Redis (gone from one, back on the other)  ${resume.acrossMs}  (${
        resume.acrossRounds.join(", ")
      })`,
      `  1,000 sessions parked through Redis: Redis used_memory growth  ${resume.redisBytesPerSession} bytes a session`,
      `  ${resume.parkedSessions.toLocaleString("en")} parked sessions: server RSS growth  ${
        (resume.parkedBytes / 1048576).toFixed(1)
      } MiB; the same connects without sessions  ${(resume.churnBytes / 1048576).toFixed(1)} MiB; ` +
      `so about ${
        Math.round((resume.parkedBytes - resume.churnBytes) / resume.parkedSessions).toLocaleString("en")
      } bytes a parked session`,
    ].join("\n"));
    console.log(JSON.stringify({ options, resume }));
    Deno.exit(0);
  }
  if (values.only === "admin") {
    progress.plan(1);
    const cost = await progress.step("the cost of --admin, and a scrape", () => adminCost(options));
    console.log([
      "",
      `--admin: echo, 100 connections, median of 3 interleaved rounds`,
      `  msgs/s without --admin       ${cost.offMsgsPerSecond.toLocaleString("en")}  (${
        cost.rounds.off.join(", ")
      })`,
      `  msgs/s with --admin          ${cost.onMsgsPerSecond.toLocaleString("en")}  (${
        cost.rounds.on.join(", ")
      })`,
      `  with / without               ${(cost.onMsgsPerSecond / cost.offMsgsPerSecond).toFixed(3)}`,
      `  one /metrics scrape, ${
        options.idle.toLocaleString("en")
      } connections open (ms, median of 5)  ${cost.scrapeMs}`,
    ].join("\n"));
    console.log(JSON.stringify({ options, admin: cost }));
    Deno.exit(0);
  }
  const redis = (values.only === undefined || values.only === "cluster") && await haveRedis();
  const manyRooms = (values.only === undefined || values.only === "rooms") && await haveRedis();
  const web = values.only === undefined || values.only === "web";
  progress.plan(
    (values.only === undefined ? (values.compare ? 12 : 6) : 0) + (web ? 2 : 0) +
      (values.compare && web ? 5 : 0) + (redis ? 1 : 0) + (manyRooms ? 2 : 0),
  );
  const parley = values.only === undefined ? await measure("parley", options) : undefined;
  const node = values.compare && parley ? await measure("node", options) : undefined;
  if (parley !== undefined) console.log(table(parley, node));
  const browsers = web
    ? {
      tcpOnly: await progress.step("chat fan-out, 100 TCP", () => fanout("parley", options, options.rate)),
      mixed: await progress.step("chat fan-out, 50 WebSocket + 50 TCP", () => webFanout(options)),
    }
    : undefined;
  if (browsers !== undefined) {
    const { tcpOnly, mixed } = browsers;
    console.log([
      "",
      `chat fan-out, 100 clients, ${
        options.rate.toLocaleString("en")
      } lines/s   100 TCP   50 WebSocket + 50 TCP`,
      `  deliveries/s                      ${
        String(tcpOnly.deliveriesPerSecond.toLocaleString("en")).padStart(9)
      }   ${mixed.deliveriesPerSecond.toLocaleString("en")}`,
      `  delivered (%)                     ${tcpOnly.delivered.toFixed(2).padStart(9)}   ${
        mixed.delivered.toFixed(2)
      }`,
      `  delivery p99 (ms)                 ${ms(tcpOnly.p99Ms).padStart(9)}   ${
        ms(mixed.p99Ms)
      } (to browsers ${ms(mixed.p99ToWebMs)}, to TCP ${ms(mixed.p99ToTcpMs)})`,
      `  clients dropped                   ${String(tcpOnly.dropped).padStart(9)}   ${mixed.dropped}`,
    ].join("\n"));
  }
  // With --compare: browsers against Node's `ws`, and what an idle connection costs on each transport.
  let webCompare: { rate: number; parley: BrowserFanout; nodeWs: BrowserFanout }[] | undefined;
  if (values.compare && web) {
    webCompare = [];
    // One case at a time: two loads at once would measure each other.
    for (const rate of [2000, 10000]) {
      const label = `100 WebSockets at ${rate.toLocaleString("en")} lines/s`;
      const parley = await progress.step(`${label}, parley`, () => browserFanout("parley", options, rate));
      const nodeWs = await progress.step(`${label}, node ws`, () => browserFanout("node-ws", options, rate));
      webCompare.push({ rate, parley, nodeWs });
    }
  }
  if (webCompare !== undefined) {
    const cell = (r: BrowserFanout) =>
      `${r.delivered.toFixed(1)}%, ${ms(r.p99Ms)} ms, ${r.serverCpu.toFixed(2)} core`.padEnd(28);
    console.log([
      "",
      `chat fan-out, 100 WebSocket clients   parley --web                 node ws@${NODE_WS_VERSION}`,
      "  (delivered, p99, server CPU)",
      ...webCompare.map(({ rate, parley, nodeWs }) =>
        `  ${`${rate.toLocaleString("en")} lines/s`.padEnd(35)}  ${cell(parley)} ${cell(nodeWs)}`
      ),
    ].join("\n"));
  }
  const idleTransports = values.compare && web
    ? await progress.step(
      "idle memory by transport",
      () => idleByTransport(options, Math.min(options.idle, 2000)),
    )
    : undefined;
  if (idleTransports !== undefined) {
    const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
    const { count, tcp, tls, ws, floor } = idleTransports;
    console.log([
      "",
      `idle memory per connection (${count.toLocaleString("en")} connections, server RSS growth)`,
      `  TCP ${kib(tcp)}   TLS ${kib(tls)}   WebSocket ${kib(ws)}   Deno floor (TCP, one pending read) ${
        kib(floor)
      }`,
    ].join("\n"));
  }
  const shared = redis
    ? await progress.step("cluster: 2 servers, 1 Redis", () => cluster(options))
    : undefined;
  console.log(
    shared === undefined ? "\ncluster: skipped (no redis-server here, or --only)" : [
      "",
      `cluster: 2 servers, 1 Redis, 100 clients (50 on each), ${
        shared.linesPerSecond.toLocaleString("en")
      } lines/s`,
      `  delivered (%)                  ${shared.delivered.toFixed(2)}`,
      `  delivery p99 across (ms)       ${ms(shared.p99AcrossMs)}`,
      `  delivery p99 within (ms)       ${ms(shared.p99WithinMs)}`,
      `  p99 within, Redis frozen 5 s   ${ms(shared.p99WithinStalledMs)}`,
      `  Sentinel failover (s, kill -9 of the primary to a line across)  ${shared.failoverSeconds}`,
      `  Redis CPU (% of one core)      ${shared.redisCpuPercent.toFixed(1)}`,
      `  clients dropped                ${shared.dropped}`,
    ].join("\n"),
  );
  const roomsResults: Awaited<ReturnType<typeof rooms>>[] = [];
  if (manyRooms) {
    for (const through of ["one Redis", "a 3-primary cluster"] as const) {
      roomsResults.push(await progress.step(`rooms: 2 servers, ${through}`, () => rooms(options, through)));
    }
    console.log([
      "",
      `rooms: 1,000 clients in 100 rooms of 10 on 2 servers, ${
        options.roomsRate.toLocaleString("en")
      } lines/s`,
      `  ${"".padEnd(28)}${roomsResults.map((r) => r.through.padStart(22)).join("")}`,
      ...([
        ["deliveries/s", (r) => r.deliveriesPerSecond.toLocaleString("en")],
        ["delivered (%)", (r) => r.delivered.toFixed(2)],
        ["delivery p99 (ms)", (r) => ms(r.p99Ms)],
        ["delivery p99 across (ms)", (r) => ms(r.p99AcrossMs)],
        ["Redis CPU (% of one core)", (r) => r.redisCpuPercent.toFixed(1)],
        ["clients dropped", (r) => String(r.dropped)],
      ] as [string, (r: typeof roomsResults[number]) => string][]).map(([label, get]) =>
        `  ${label.padEnd(28)}${roomsResults.map((r) => get(r).padStart(22)).join("")}`
      ),
    ].join("\n"));
  }
  const ratios = node && parley
    ? Object.fromEntries(
      ROWS.map(([label, get, higher]) => [label.trim(), ratio(get(parley!), get(node), higher)]),
    )
    : undefined;
  console.log(
    JSON.stringify({
      options,
      parley,
      node,
      ratios,
      browsers,
      webCompare,
      idleTransports,
      cluster: shared,
      rooms: roomsResults,
    }),
  );
  if (values.chart !== undefined) {
    if (node === undefined || parley === undefined) {
      throw new TypeError("--chart needs --compare: the chart shows Parley against Node");
    }
    await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${values.chart}`), { recursive: true });
    await Deno.writeTextFile(values.chart, chart(parley, node));
    console.error(`wrote ${values.chart}`);
  }
}
