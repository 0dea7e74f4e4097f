/**
 * The operator's endpoint (`--admin`) of a real server: health and readiness as a load balancer
 * asks for them, and `/metrics` as Prometheus scrapes it, checked with the real `promtool`.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { closeAll, type ServerProcess, startServer, TestClient } from "../../scripts/support/harness.ts";
import { notReady } from "../../lib/server/admin.ts";
import { renderMetrics, ServerMetrics } from "../../lib/server/metrics.ts";
import { emptyStats } from "../../lib/server/serve.ts";

/** A server with `--admin 0`, and the port its endpoint took. */
async function withAdmin(args: string[]): Promise<{ server: ServerProcess; admin: string }> {
  const server = await startServer([...args, "--admin", "0"]);
  const line = await server.stderr.waitFor(/admin endpoint on http:\/\/127\.0\.0\.1:\d+/);
  return { server, admin: /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0] };
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text() };
}

/** The value of the sample `name` (with its labels, as written) in a scrape. */
function sample(scrape: string, name: string): number | undefined {
  const line = scrape.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function promtool(text: string): Promise<{ ok: boolean; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { ok: out.success, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("/healthz, /readyz and /metrics answer; other paths 404, other methods 405", async () => {
  const { server, admin } = await withAdmin(["--mode", "echo"]);
  await using _ = server;
  assertEquals(await get(`${admin}/healthz`), { status: 200, body: "ok\n" });
  assertEquals(await get(`${admin}/readyz`), { status: 200, body: "ready\n" });
  for (const path of ["/", "/metricz", "/healthz/x", "/admin"]) {
    assertEquals((await get(`${admin}${path}`)).status, 404, path);
  }
  assertEquals((await get(`${admin}/metrics`, { method: "POST" })).status, 405);
  const metrics = await fetch(`${admin}/metrics`);
  assertMatch(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  await metrics.body?.cancel();
});

Deno.test("counters move with what clients do, and every scrape passes promtool check metrics", async () => {
  const { server, admin } = await withAdmin(["--mode", "echo", "--max-line", "100"]);
  await using _ = server;
  const before = (await get(`${admin}/metrics`)).body;
  const checked = await promtool(before);
  assert(checked.ok, checked.output);
  const a = await TestClient.connect(server.port);
  const b = await TestClient.connect(server.port);
  await a.send("one", "two", "three");
  for (const line of ["one", "two", "three"]) assertEquals(await a.lines.next(), line);
  await b.send("x".repeat(200)); // too long: closed by the server
  await b.lines.waitFor(/^ERR line too long/);
  await b.lines.rest();
  const during = (await get(`${admin}/metrics`)).body;
  assertEquals(sample(during, 'parley_connections_open{transport="tcp",mode="echo"}'), 1);
  assertEquals(sample(during, "parley_connections_accepted_total"), 2);
  assertEquals(sample(during, "parley_lines_received_total"), 3);
  assertEquals(sample(during, 'parley_connections_closed_total{reason="line too long"}'), 1);
  // a's 14 bytes, and b's as far as the server read before the line passed --max-line.
  assert(sample(during, "parley_received_bytes_total")! > 14 + 100, during);
  assert(sample(during, "parley_sent_bytes_total")! >= 14, during);
  assert(sample(during, "parley_resident_memory_bytes")! > 10 * 2 ** 20);
  assert(sample(during, "parley_event_loop_lag_seconds_count")! >= 0);
  await closeAll([a]);
  // Counters never go down: the lines of a client that left are still counted.
  let after = (await get(`${admin}/metrics`)).body;
  for (
    let i = 0;
    i < 50 && sample(after, 'parley_connections_closed_total{reason="client closed"}') !== 1;
    i++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = (await get(`${admin}/metrics`)).body;
  }
  assertEquals(sample(after, 'parley_connections_closed_total{reason="client closed"}'), 1);
  assertEquals(sample(after, "parley_lines_received_total"), 3);
  assertEquals(sample(after, 'parley_connections_open{transport="tcp",mode="echo"}'), undefined);
  const final = await promtool(after);
  assert(final.ok, final.output);
});

Deno.test("/readyz is 503 at --max-conns, with the reason, and 200 again when a place frees", async () => {
  const { server, admin } = await withAdmin(["--mode", "chat", "--max-conns", "2"]);
  await using _ = server;
  const clients = [await TestClient.connect(server.port), await TestClient.connect(server.port)];
  for (const client of clients) await client.lines.waitFor(/^\* welcome/);
  assertEquals(await get(`${admin}/readyz`), { status: 503, body: "full: 2 of 2 connections\n" });
  assertEquals((await get(`${admin}/healthz`)).status, 200, "healthy all the same");
  assertEquals(sample((await get(`${admin}/metrics`)).body, "parley_room_members"), 2);
  await closeAll([clients[0]]);
  let ready = await get(`${admin}/readyz`);
  for (let i = 0; i < 50 && ready.status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    ready = await get(`${admin}/readyz`);
  }
  assertEquals(ready, { status: 200, body: "ready\n" });
  await closeAll([clients[1]]);
});

Deno.test("/readyz is 503 while the server drains at shutdown; /healthz still 200", async () => {
  const { server, admin } = await withAdmin(["--mode", "echo", "--drain-timeout", "3", "--max-queue", "64K"]);
  // A client that sends and never reads: replies wait in its queue, and shutdown drains them.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const lines = new TextEncoder().encode("x".repeat(1000) + "\n");
  for (let i = 0; i < 2000; i++) {
    const wrote = await Promise.race([
      conn.write(lines),
      new Promise<null>((r) => setTimeout(() => r(null), 200)),
    ]);
    if (wrote === null) break;
  }
  server.kill("SIGTERM");
  await server.stderr.waitFor(/shutting down/);
  assertEquals(await get(`${admin}/readyz`), {
    status: 503,
    body: "draining: the server is shutting down\n",
  });
  assertEquals((await get(`${admin}/healthz`)).status, 200);
  conn.close();
  await server[Symbol.asyncDispose]();
});

Deno.test("every admin path is refused to an address outside --allow", async () => {
  const { server, admin } = await withAdmin(["--mode", "echo", "--allow", "10.0.0.0/8"]);
  await using _ = server;
  for (const path of ["/healthz", "/readyz", "/metrics", "/nope"]) {
    assertEquals(await get(`${admin}${path}`), { status: 403, body: "forbidden\n" }, path);
  }
});

Deno.test("readiness in-process: draining, then full, then the Redis link, in that order", () => {
  const stats = { ...emptyStats(new ServerMetrics(), "chat", 2, false), clients: 1 };
  const down = { up: false, outages: 1, unconfirmedBytes: 0, roundTripSeconds: 0 };
  assertEquals(notReady(stats, undefined, true), undefined);
  assertEquals(notReady(stats, down, false), undefined, "the link counts only with --ready-needs-redis");
  assertEquals(notReady(stats, down, true), "the link to Redis is down");
  assertEquals(notReady({ ...stats, clients: 2 }, down, true), "full: 2 of 2 connections");
  assertEquals(
    notReady({ ...stats, clients: 2, draining: true }, down, true),
    "draining: the server is shutting down",
  );
  // A label value with a quote, a backslash and a newline stays one valid sample.
  const metrics = new ServerMetrics();
  metrics.closed.add('odd "reason"\\\n');
  const text = renderMetrics({
    ...stats,
    metrics,
    roomMembers: 0,
    rssBytes: 1,
    ready: true,
    redis: down,
  });
  assertMatch(text, /parley_connections_closed_total\{reason="odd \\"reason\\"\\\\\\n"\} 1/);
  assertMatch(text, /^parley_redis_up 0$/m);
});

Deno.test("SIGHUP reloads the deny file: the newly denied address is refused; a broken file keeps the old list", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-reload-" });
  const file = `${dir}/deny.txt`;
  await Deno.writeTextFile(file, "# nobody yet\n");
  try {
    await using server = await startServer(["--mode", "echo", "--host", "127.0.0.1", "--deny-file", file]);
    const first = await TestClient.connect(server.port);
    await first.send("before");
    assertEquals(await first.lines.next(), "before");
    await Deno.writeTextFile(file, "127.0.0.0/8\n");
    server.kill("SIGHUP");
    await server.stderr.waitFor(/reloaded the access lists \(1 entry\)/);
    // The open connection stays; a new one from 127.0.0.1 is closed at the door.
    await first.send("still here");
    assertEquals(await first.lines.next(), "still here");
    const denied = await TestClient.connect(server.port);
    assertEquals(await denied.lines.rest(), []);
    await server.stderr.waitFor(/denied 127\.0\.0\.1:\d+: in --deny/);
    // A file that does not parse: one sentence, and the list in force stays.
    await Deno.writeTextFile(file, "not an address\n");
    server.kill("SIGHUP");
    await server.stderr.waitFor(
      /reload failed, kept the old settings: --deny-file .*deny\.txt: "not an address" is not/,
    );
    const stillDenied = await TestClient.connect(server.port);
    assertEquals(await stillDenied.lines.rest(), []);
    await Deno.writeTextFile(file, "\n");
    server.kill("SIGHUP");
    await server.stderr.waitFor(/reloaded the access lists \(0 entries\)/);
    const welcome = await TestClient.connect(server.port);
    await welcome.send("back");
    assertEquals(await welcome.lines.next(), "back");
    await closeAll([first, denied, stillDenied, welcome]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with --workers 2 one scrape covers every worker, summed, and passes promtool", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const { server, admin } = await withAdmin(["--mode", "echo", "--workers", "2"]);
  await using _ = server;
  const clients = await Promise.all(Array.from({ length: 8 }, () => TestClient.connect(server.port)));
  try {
    for (const [i, client] of clients.entries()) {
      await client.send(`line ${i}`);
      assertEquals(await client.lines.next(), `line ${i}`);
    }
    // Connections landed on both workers (the log tags each line with its worker).
    let scrape = (await get(`${admin}/metrics`)).body;
    // Each worker samples its event loop every 100 ms from its start.
    for (let i = 0; i < 40 && !(sample(scrape, "parley_event_loop_lag_seconds_count")! > 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      scrape = (await get(`${admin}/metrics`)).body;
    }
    assertEquals(sample(scrape, 'parley_connections_open{transport="tcp",mode="echo"}'), 8);
    assertEquals(sample(scrape, "parley_connections_accepted_total"), 8);
    // Each worker's share, labelled with its number; together, every connection.
    const shares = [1, 2].map((worker) =>
      sample(scrape, `parley_worker_connections_open{worker="${worker}"}`)!
    );
    assertEquals(shares[0] + shares[1], 8);
    assertEquals(sample(scrape, "parley_lines_received_total"), 8);
    assert(sample(scrape, "parley_event_loop_lag_seconds_count")! > 0, "the workers measure their loops");
    const checked = await promtool(scrape);
    assert(checked.ok, checked.output);
    assertEquals(await get(`${admin}/readyz`), { status: 200, body: "ready\n" });
  } finally {
    await closeAll(clients);
  }
});
