/**
 * `--workers N` against the real server: the kernel spreads connections over the workers, chat
 * reaches every client whichever worker holds it, names stay unique across workers, limits count
 * every worker's connections, and shutdown drains them all.
 */

import { assert, assertEquals, assertMatch, waitUntil } from "../support/assert.ts";
import { echoUntilShutdown } from "../../scripts/support/load.ts";
import {
  closeAll,
  LIB_PATH,
  LINUX,
  runClientProcess,
  runToEnd,
  SERVER_PATH,
  type ServerProcess,
  startServer,
  TestClient,
} from "../../scripts/support/harness.ts";
import { roomsScenario } from "../support/rooms_scenario.ts";

async function startWorkers(args: string[]): Promise<ServerProcess> {
  const server = await startServer(args);
  await server.stderr.waitFor(/workers serving/);
  return server;
}

/** The worker each connection went to, from the JSON log's connect events, by connection id. */
function workersById(log: readonly string[]): Map<number, number> {
  const byId = new Map<number, number>();
  for (const line of log) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line);
    if (event.event === "connect") byId.set(event.id, event.worker);
  }
  return byId;
}

Deno.test("echo with 2 workers: connections land on both, all are served, SIGTERM drains all", {
  ignore: !LINUX,
}, async () => {
  await using server = await startWorkers(["--mode", "echo", "--workers", "2", "--log", "json"]);
  const clients = await Promise.all(
    Array.from({ length: 40 }, (_, i) => TestClient.connect(server.port, { label: `c${i}` })),
  );
  try {
    const progress = { replies: 0 };
    const received = clients.map((client, i) => echoUntilShutdown(client, i, progress));
    await waitUntil(() => progress.replies >= 2000, "2000 replies under load", 20_000);
    const status = await server.stop("SIGTERM");
    const counts = await Promise.all(received);
    assertEquals(status.code, 0);
    assert.ok(counts.every((n) => n > 0), `every client was served: ${counts}`);
    const log = [...server.stderr.seen, ...await server.stderr.rest()];
    const workers = new Set(workersById(log).values());
    assertEquals([...workers].sort(), [1, 2], "the kernel spread 40 connections over both workers");
    const summary = log.map((line) => JSON.parse(line)).find((event) => event.msg.startsWith("all workers"));
    assertEquals(summary.connections, 40);
    assertEquals(summary.linesOut, summary.linesIn + 40, "each reply plus one notice per client");
  } finally {
    await closeAll(clients);
  }
});

/**
 * The next line but announcements of earlier joins: one relayed from another worker can reach a
 * newcomer that joined a moment after it, which is in the nature of rooms spread over isolates.
 */
async function nextJoin(client: TestClient): Promise<string> {
  const me = Number(/\d+$/.exec(client.lines.label)![0]);
  let line = await client.lines.next();
  while (Number(/^\* user(\d+) joined$/.exec(line)?.[1] ?? Infinity) < me) line = await client.lines.next();
  return line;
}

Deno.test("chat with 3 workers: every line reaches every other client, /who lists all", {
  ignore: !LINUX,
}, async () => {
  await using server = await startWorkers(["--mode", "chat", "--workers", "3", "--log", "json"]);
  const clients: TestClient[] = [];
  try {
    for (let i = 1; i <= 12; i++) {
      const client = await TestClient.connect(server.port, { label: `user${i}` });
      assertMatch(await client.lines.next(), new RegExp(`^\\* welcome, user${i}: ${i} online`));
      for (const other of clients) assertEquals(await nextJoin(other), `* user${i} joined`);
      clients.push(client);
    }
    const workers = new Set(workersById(server.stderr.seen).values());
    assert.ok(workers.size >= 2, `12 clients landed on ${workers.size} worker(s)`);
    for (const [i, sender] of clients.entries()) {
      await sender.send(`hello from ${i + 1}`);
      for (const receiver of clients) {
        if (receiver !== sender) {
          assertEquals(await receiver.lines.next(), `<user${i + 1}> hello from ${i + 1}`);
        }
      }
    }
    await clients[5].send("/who");
    assertEquals(
      await clients[5].lines.next(),
      `* online: ${Array.from({ length: 12 }, (_, i) => `user${i + 1}`).join(", ")}`,
    );
  } finally {
    await closeAll(clients);
  }
});

Deno.test("chat with 2 workers: rooms span the workers; /rooms and /who count both", {
  ignore: !LINUX,
}, async () => {
  await using server = await startWorkers(["--mode", "chat", "--workers", "2", "--log", "json"]);
  const clients: { client: TestClient; name: string }[] = [];
  try {
    // Enough clients that two land on different workers (the kernel spreads them by hash).
    for (let i = 1; i <= 8; i++) {
      const client = await TestClient.connect(server.port, { label: `user${i}` });
      const welcome = await client.lines.waitFor(/^\* welcome, /);
      clients.push({ client, name: /^\* welcome, (user\d+):/.exec(welcome)![1] });
    }
    const workerOf = (named: { name: string }) =>
      workersById(server.stderr.seen).get(Number(named.name.slice(4)));
    const x = clients[0];
    const y = clients.find((other) => workerOf(other) !== workerOf(x));
    assert.ok(y !== undefined, "8 clients landed on one worker");
    const z = clients.find((other) => other !== x && other !== y)!;
    await roomsScenario(x, y, z, "* rooms: #parley (8, you), #rust (2, you, current)");
  } finally {
    await closeAll(clients.map(({ client }) => client));
  }
});

Deno.test("chat with 4 workers: of 16 clients racing for one name, exactly one gets it", {
  ignore: !LINUX,
}, async () => {
  await using server = await startWorkers(["--mode", "chat", "--workers", "4", "--log", "json"]);
  const clients = [];
  for (let i = 0; i < 16; i++) {
    const client = await TestClient.connect(server.port, { label: `c${i}` });
    await client.lines.waitFor(/^\* welcome/);
    clients.push(client);
  }
  try {
    assert.ok(new Set(workersById(server.stderr.seen).values()).size >= 2, "clients on several workers");
    await Promise.all(clients.map((client, i) => client.send(`/nick ${i % 2 ? "Bob" : "bob"}`)));
    const answers = await Promise.all(
      clients.map((client) => client.lines.waitFor(/^(\* you are now|ERR name)/)),
    );
    assertEquals(answers.filter((a) => a.startsWith("* you are now")).length, 1, answers.join("\n"));
    assertEquals(answers.filter((a) => /^ERR name (bob|Bob) is taken$/.test(a)).length, 15);
  } finally {
    await closeAll(clients);
  }
});

Deno.test("--max-conns counts the connections of every worker", { ignore: !LINUX }, async () => {
  await using server = await startWorkers(["--mode", "echo", "--workers", "2", "--max-conns", "6"]);
  const clients = [];
  try {
    for (let i = 0; i < 6; i++) {
      const client = await TestClient.connect(server.port);
      await client.send("hi");
      assertEquals(await client.lines.next(), "hi");
      clients.push(client);
    }
    for (let i = 0; i < 4; i++) {
      await using extra = await TestClient.connect(server.port);
      assertEquals(await extra.lines.rest(), ["ERR server full (max 6 connections)"]);
    }
  } finally {
    await closeAll(clients);
  }
});

Deno.test(
  "--workers refuses a port in use, even by another reusePort server",
  { ignore: !LINUX },
  async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
    try {
      const { port } = taken.addr;
      const result = await runToEnd(
        [
          "run",
          "--allow-net",
          `--allow-read=${LIB_PATH}`,
          SERVER_PATH,
          "--mode",
          "echo",
          "--workers",
          "2",
          "--port",
          String(port),
        ],
      );
      assertEquals(result.stderr, `cannot listen on 127.0.0.1:${port}: address already in use\n`);
      assertEquals(result.code, 1);
    } finally {
      taken.close();
    }
  },
);

Deno.test("--workers from source without read access to lib/ is one sentence and exit 1", {
  ignore: !LINUX,
}, async () => {
  const result = await runToEnd([
    "run",
    "--allow-net",
    SERVER_PATH,
    "--mode",
    "echo",
    "--workers",
    "2",
    "--port",
    "0",
  ]);
  const folder = `${LIB_PATH}/`;
  assertEquals(
    result.stderr,
    `--workers needs read access to ${folder} to load its workers (add --allow-read=${folder})\n`,
  );
  assertEquals(result.code, 1);
});

Deno.test("--workers 2 serves TLS with one certificate, and every worker applies --deny", {
  ignore: !LINUX,
}, async () => {
  // On `::`, so that ::1 reaches the workers and is turned away by them, not by the kernel.
  await using server = await startWorkers([
    "--host",
    "::",
    "--mode",
    "echo",
    "--workers",
    "2",
    "--tls",
    "--deny",
    "::1",
  ]);
  const fingerprint = server.fingerprint!;
  const replies = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      runClientProcess([
        "--port",
        String(server.port),
        "--fingerprint",
        fingerprint,
        "--message",
        `tls ${i}`,
      ])),
  );
  for (const [i, reply] of replies.entries()) assertMatch(reply.stdout, new RegExp(`\\] tls ${i}\\n$`));
  const workers = new Set(
    server.stderr.seen.filter((line) => /connected from/.test(line)).map((line) => /w(\d):/.exec(line)![1]),
  );
  assertEquals([...workers].sort(), ["1", "2"], "both workers served TLS clients");
  // Every connection from ::1 is accepted by the kernel and closed by a worker before a byte; until
  // each worker has denied one (the kernel spreads connections over both), at most 40 tries.
  const deniedBy = () =>
    new Set(
      server.stderr.seen.filter((line) => /denied \[::1\]/.test(line)).map((line) =>
        /w(\d):/.exec(line)?.[1]
      ),
    );
  for (let i = 0; i < 40 && deniedBy().size < 2; i++) {
    await using denied = await TestClient.connect(server.port, { hostname: "::1" });
    // A silent TLS peer keeps its socket until it sends (Deno's handshake task; README: Security).
    await denied.send("hello").catch(() => {/* closed already */});
    assertEquals(await denied.lines.rest(), [], "a denied client gets not a byte");
  }
  assertEquals([...deniedBy()].sort(), ["1", "2"], "both workers applied --deny");
});
