/**
 * Reliability report: `deno task soak`. Measures, on this machine, what the README publishes:
 *
 * - server RSS per idle connection with 10,000 connections open (each proven live by an echo);
 * - how much memory a chat client that stops reading can cost the server during a flood;
 * - replies lost when SIGTERM arrives while 100 clients are busy (must be 0);
 * - a normal client's round-trip latency alone and alongside 50 slowloris clients.
 *
 * Prints a table, then one JSON line. Linux only (RSS comes from /proc). Talks to 127.0.0.1 only;
 * every phase is bounded in time.
 */

import { delay } from "../lib/util/delay.ts";
import { connectPinned } from "../lib/transport/pinned_tls.ts";
import { closeAll, startServer, TestClient } from "./support/harness.ts";
import { echoUntilShutdown, floodRoom } from "./support/load.ts";
import { ensureFileLimit, idleBytesPerConnection } from "./support/measure.ts";

const IDLE_CONNECTIONS = Number(Deno.env.get("SOAK_IDLE_CONNECTIONS") ?? 10_000);
const MiB = 1024 * 1024;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function idleMemory(): Promise<{ connections: number; bytesPerConnection: number }> {
  await using server = await startServer([
    "--mode",
    "echo",
    "--quiet",
    "--max-conns",
    String(IDLE_CONNECTIONS + 10),
  ]);
  const bytes = await idleBytesPerConnection(server.pid, server.port, IDLE_CONNECTIONS);
  return { connections: IDLE_CONNECTIONS, bytesPerConnection: bytes };
}

async function slowConsumer(): Promise<{ maxQueueBytes: number; addedBytes: number; dropped: boolean }> {
  await using server = await startServer([
    "--mode",
    "chat",
    "--max-queue",
    "1M",
    "--drain-timeout",
    "1",
    "--rate",
    "0",
  ]);
  await using talker = await TestClient.connect(server.port);
  await using listener = await TestClient.connect(server.port);
  await talker.lines.waitFor("* user2 joined");
  const warm = await floodRoom(server.pid, talker, listener, 60_000);
  const sleeper = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await listener.lines.waitFor("* user3 joined");
    const peak = await floodRoom(server.pid, talker, listener, 60_000);
    const line = await server.stderr.waitFor(/#3 disconnected/);
    return {
      maxQueueBytes: MiB,
      addedBytes: Math.max(0, peak - warm),
      dropped: /output queue full/.test(line),
    };
  } finally {
    sleeper.close();
  }
}

async function shutdownUnderLoad(): Promise<
  { clients: number; linesRead: number; repliesReceived: number; lost: number }
> {
  await using server = await startServer(["--mode", "echo", "--quiet"]);
  const clients = await Promise.all(Array.from({ length: 100 }, () => TestClient.connect(server.port)));
  const counts = clients.map((client, c) => echoUntilShutdown(client, c));
  await delay(1000);
  await server.stop("SIGTERM");
  const received = (await Promise.all(counts)).reduce((a, b) => a + b, 0);
  await closeAll(clients);
  const linesRead = Number(/(\d+) lines in/.exec(await server.stderr.waitFor(/served/))![1]);
  return { clients: clients.length, linesRead, repliesReceived: received, lost: linesRead - received };
}

async function roundTrips(client: TestClient, count: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await client.send(`ping ${i}`);
    await client.lines.next();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return { p50Ms: round(percentile(samples, 0.5)), p99Ms: round(percentile(samples, 0.99)) };
}

async function latencyUnderSlowloris(): Promise<
  { alone: { p50Ms: number; p99Ms: number }; withSlowloris: { p50Ms: number; p99Ms: number } }
> {
  await using server = await startServer(["--mode", "echo", "--quiet"]);
  await using normal = await TestClient.connect(server.port);
  await roundTrips(normal, 200);
  const alone = await roundTrips(normal, 3000);
  const slow = await Promise.all(Array.from({ length: 50 }, () => TestClient.connect(server.port)));
  let trickling = true;
  const trickle = slow.map(async (client) => {
    while (trickling) {
      await client.write("s");
      await delay(20);
    }
  });
  const withSlowloris = await roundTrips(normal, 3000);
  trickling = false;
  await Promise.all(trickle);
  for (const client of slow) await client[Symbol.asyncDispose]();
  return { alone, withSlowloris };
}

/** What a TLS connection costs when idle, and a normal TLS client's round trips beside 100 that never finish a handshake. */
async function tlsCosts(): Promise<{
  connections: number;
  bytesPerConnection: number;
  alone: { p50Ms: number; p99Ms: number };
  withSilentHandshakes: { p50Ms: number; p99Ms: number };
}> {
  const connections = Math.min(IDLE_CONNECTIONS, 2000);
  await using server = await startServer([
    "--mode",
    "echo",
    "--quiet",
    "--tls",
    "--max-conns",
    String(connections + 200),
  ]);
  const fingerprint = server.fingerprint!;
  const bytesPerConnection = await idleBytesPerConnection(
    server.pid,
    server.port,
    connections,
    async (port) => (await connectPinned({ host: "127.0.0.1", port, fingerprint })).stream,
  );
  await using normal = await TestClient.connectPinned(server.port, fingerprint);
  await roundTrips(normal, 200);
  const alone = await roundTrips(normal, 2000);
  // Connected, and silent: their handshakes never finish.
  const silent = await Promise.all(Array.from({ length: 100 }, () => TestClient.connect(server.port)));
  const withSilentHandshakes = await roundTrips(normal, 2000);
  await closeAll(silent);
  return { connections, bytesPerConnection, alone, withSilentHandshakes };
}

if (import.meta.main) {
  await ensureFileLimit(IDLE_CONNECTIONS + 1000, new URL(import.meta.url).pathname);
  const idle = await idleMemory();
  const slow = await slowConsumer();
  const shutdown = await shutdownUnderLoad();
  const latency = await latencyUnderSlowloris();
  const tls = await tlsCosts();
  const rows = [
    [
      `RSS per idle connection (${idle.connections} open)`,
      `${(idle.bytesPerConnection / 1024).toFixed(1)} KiB`,
    ],
    [
      "memory a non-reading chat client adds during a 60 MB flood",
      `${(slow.addedBytes / MiB).toFixed(1)} MiB (queue limit 1 MiB; dropped: ${
        slow.dropped ? "yes" : "NO"
      })`,
    ],
    [
      `replies lost on SIGTERM, ${shutdown.clients} busy clients`,
      `${shutdown.lost} of ${shutdown.linesRead} lines read`,
    ],
    ["round trip alone, p50 / p99", `${latency.alone.p50Ms} / ${latency.alone.p99Ms} ms`],
    [
      "round trip beside 50 slowloris clients, p50 / p99",
      `${latency.withSlowloris.p50Ms} / ${latency.withSlowloris.p99Ms} ms`,
    ],
    [
      `TLS: RSS per idle connection (${tls.connections} open)`,
      `${(tls.bytesPerConnection / 1024).toFixed(1)} KiB`,
    ],
    ["TLS: round trip alone, p50 / p99", `${tls.alone.p50Ms} / ${tls.alone.p99Ms} ms`],
    [
      "TLS: round trip beside 100 silent handshakes, p50 / p99",
      `${tls.withSilentHandshakes.p50Ms} / ${tls.withSilentHandshakes.p99Ms} ms`,
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
  console.log(JSON.stringify({ idle, slowConsumer: slow, shutdown, latency, tls }));
  if (shutdown.lost !== 0 || !slow.dropped) Deno.exit(1);
}
