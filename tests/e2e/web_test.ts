/**
 * `--web` from the outside, without a browser: the page over real HTTP, WebSocket clients (Deno's
 * own, and one written by hand that can misbehave) in the same room as `nc` and TCP clients, the
 * limits and refusals of the WebSocket path, the origin check, HTTPS/WSS and the access list. The
 * page itself is tested in a real browser in `browser_test.ts`.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  closeAll,
  LINUX,
  type ServerProcess,
  spawnProcess,
  startServer,
  TestClient,
} from "../../scripts/support/harness.ts";
import { exchange, frame, openRaw, readFrames } from "../../scripts/support/websocket.ts";
import { certificateFiles } from "../../scripts/support/certificate_files.ts";
import { rss } from "../../scripts/support/measure.ts";
import { writeAll } from "../../lib/util/write.ts";

/** A chat server with a web port on a free port. */
function webServer(extra: string[] = []): Promise<ServerProcess> {
  return startServer(["--mode", "chat", "--web", "0", ...extra]);
}

/** A WebSocket client (Deno's own) that collects what it receives. */
class Browserless implements AsyncDisposable {
  readonly received: string[] = [];
  closed: Promise<CloseEvent>;
  #socket: WebSocket;
  #changed = Promise.withResolvers<void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      this.received.push(String(event.data));
      this.#changed.resolve();
      this.#changed = Promise.withResolvers();
    };
    this.closed = new Promise((resolve) => socket.onclose = resolve);
  }

  static async open(url: string): Promise<Browserless> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot open ${url}`));
    });
    return new Browserless(socket);
  }

  send(data: string | Uint8Array): void {
    this.#socket.send(data);
  }

  /** Waits for a message that `matches`; returns it. */
  async waitFor(matches: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    while (true) {
      for (; seen < this.received.length; seen++) {
        const text = this.received[seen];
        if (typeof matches === "string" ? text === matches : matches.test(text)) return text;
      }
      if (Date.now() > deadline) {
        throw new Error(`no message matching ${matches}; got ${this.received.join(" | ")}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.#changed.promise, new Promise((resolve) => timer = setTimeout(resolve, 100))]);
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.closed;
  }
}

function wsUrl(server: ServerProcess): string {
  return `ws://127.0.0.1:${server.webPort}/ws`;
}

Deno.test("the page is one self-contained response under a strict policy; other paths are 404", async () => {
  await using server = await webServer();
  assertMatch(server.page!, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const response = await fetch(server.page!);
  const html = await response.text();
  assertEquals(response.status, 200);
  assertEquals(response.headers.get("content-type"), "text/html; charset=utf-8");
  const policy = response.headers.get("content-security-policy")!;
  assertMatch(
    policy,
    /default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'; connect-src 'self'/,
  );
  assertEquals(response.headers.get("x-content-type-options"), "nosniff");
  // Nothing fetched from elsewhere: no external script, style, font or image.
  assertEquals(/(src|href)\s*=\s*"(https?:)?\/\//.test(html), false);
  assertEquals((html.match(/<script>/g) ?? []).length, 1);
  const head = await fetch(server.page!, { method: "HEAD" });
  await head.body?.cancel();
  assertEquals([head.status, head.headers.get("content-length")], [
    200,
    String(new TextEncoder().encode(html).length),
  ]);
  for (const path of ["/nope", "/ws/x", "/favicon.ico"]) {
    const missing = await fetch(new URL(path, server.page));
    assertEquals([path, missing.status], [path, 404]);
    await missing.body?.cancel();
  }
  const upgradeMissing = await fetch(new URL("/ws", server.page));
  assertEquals(upgradeMissing.status, 426);
  await upgradeMissing.body?.cancel();
  const posted = await fetch(server.page!, { method: "POST", body: "x" });
  assertEquals(posted.status, 405);
  await posted.body?.cancel();
});

Deno.test("a WebSocket client is a client like any other: it chats with nc and TCP clients", {
  ignore: !LINUX,
}, async () => {
  await using server = await webServer();
  await using web = await Browserless.open(wsUrl(server));
  await web.waitFor(/^\* welcome, user1: 1 online/);
  await using tcp = await TestClient.connect(server.port, { label: "tcp" });
  await tcp.lines.waitFor(/^\* welcome, user2/);
  await using nc = spawnProcess("nc", ["-N", "127.0.0.1", String(server.port)], { stdin: true, label: "nc" });
  await nc.stdout.waitFor(/^\* welcome, user3/);
  web.send("/nick webby");
  await web.waitFor("* you are now webby");
  await tcp.lines.waitFor("* user1 is now webby");
  web.send("hello from a browser");
  await tcp.lines.waitFor("<webby> hello from a browser");
  await nc.stdout.waitFor("<webby> hello from a browser");
  await nc.type("hello from nc");
  await web.waitFor("<user3> hello from nc");
  await tcp.send("/who");
  assertEquals(await tcp.lines.waitFor(/^\* online:/), "* online: webby, user2, user3");
  await server.stderr.waitFor(/#1 connected from 127\.0\.0\.1:\d+/);
});

Deno.test(
  "a message over --max-line, a binary frame, bad UTF-8: ERR and a close that says why; the others go on",
  {
    ignore: !LINUX,
  },
  async () => {
    await using server = await webServer(["--max-line", "100"]);
    await using bystander = await TestClient.connect(server.port, { label: "bystander" });
    await bystander.lines.waitFor(/^\* welcome/);

    await using long = await Browserless.open(wsUrl(server));
    long.send("x".repeat(101));
    assertEquals(await long.waitFor(/^ERR/), "ERR line too long (max 100 bytes)");
    const closedLong = await long.closed;
    assertEquals([closedLong.code, closedLong.reason], [1009, "line too long (max 100 bytes)"]);

    await using binary = await Browserless.open(wsUrl(server));
    binary.send(new Uint8Array([1, 2, 3]));
    assertEquals(await binary.waitFor(/^ERR/), "ERR binary frames are not accepted; send text");
    assertEquals((await binary.closed).code, 1003);

    const raw = await openRaw(server.webPort);
    assertEquals(raw.status, 101);
    await raw.conn.write(frame(0x1, new Uint8Array([0x68, 0x69, 0xc3, 0x28])));
    const frames = await readFrames(raw);
    assertEquals(frames.map((f) => [f.opcode, f.code ?? null, f.text]).slice(-2), [
      [0x1, null, "ERR text that is not UTF-8"],
      [0x8, 1007, "text that is not UTF-8"],
    ]);

    await bystander.send("still here");
    await bystander.send("/who");
    assertMatch(await bystander.lines.waitFor(/^\* online:/), /^\* online: user1$/);
    await server.stderr.waitFor(/disconnected: protocol error: binary frames are not accepted/);
  },
);

Deno.test("a frame announced as too long is refused from its header, before its payload is read", async () => {
  await using server = await webServer(["--max-line", "1K"]);
  const raw = await openRaw(server.webPort);
  // A header claiming a gigabyte, and no payload at all: the answer cannot wait for it.
  await raw.conn.write(frame(0x1, "", { length: 2 ** 30 }).subarray(0, 14));
  const started = Date.now();
  const frames = await readFrames(raw, 3000);
  assert.ok(Date.now() - started < 2000, "answered at once, not after a timeout");
  assertEquals(frames.at(-1)?.code, 1009);
  assertEquals(frames.filter((f) => f.opcode === 0x1).at(-1)?.text, "ERR line too long (max 1024 bytes)");
});

Deno.test("fragments, pings and a client's close frame are handled as RFC 6455 says", async () => {
  await using server = await startServer(["--mode", "echo", "--web", "0"]);
  const raw = await openRaw(server.webPort);
  await raw.conn.write(frame(0x1, "hel", { fin: false }));
  await raw.conn.write(frame(0x9, "are you there"));
  await raw.conn.write(frame(0x0, "lo, ", { fin: false }));
  await raw.conn.write(frame(0x0, "world"));
  await raw.conn.write(frame(0x1, "second"));
  await raw.conn.write(frame(0x8, Uint8Array.of(0x03, 0xe8)));
  const frames = await readFrames(raw);
  assertEquals(frames.map((f) => [f.opcode, f.text]), [
    [0xa, "are you there"],
    [0x1, "hello, world"],
    [0x1, "second"],
    [0x8, ""],
  ]);
  assertEquals(frames.at(-1)?.code, 1000);
  await server.stderr.waitFor(/disconnected: client closed \(2 lines in, 2 out/);
});

Deno.test("origins: a page from another site is refused; the server's own page, --web-origin and non-browsers are let in", async () => {
  await using server = await webServer(["--web-origin", "https://chat.example.com"]);
  const port = server.webPort;
  const cases: [string | undefined, string | undefined, number][] = [
    [`http://127.0.0.1:${port}`, undefined, 101],
    [`http://localhost:${port}`, `localhost:${port}`, 101],
    ["https://chat.example.com", undefined, 101],
    [undefined, undefined, 101],
    ["https://evil.example", undefined, 403],
    ["null", undefined, 403],
    [`http://127.0.0.1:${port + 1}`, undefined, 403],
    // DNS rebinding: a foreign name pointed at 127.0.0.1 does not name this server: refused for its
    // Host (421), before its Origin is looked at.
    [`http://rebound.example:${port}`, `rebound.example:${port}`, 421],
  ];
  for (const [origin, host, status] of cases) {
    const response = await openRaw(port, { origin, host });
    response.conn.close();
    assertEquals([origin, response.status], [origin, status]);
  }
  await server.stderr.waitFor(
    /WebSocket handshake with 127\.0\.0\.1:\d+ failed: origin https:\/\/evil\.example may not connect/,
  );
});

Deno.test("slow, garbage and oversized HTTP requests get a status or a timeout, and nobody else is affected", async () => {
  await using server = await webServer(["--handshake-timeout", "1"]);
  await using web = await Browserless.open(wsUrl(server));
  await web.waitFor(/^\* welcome/);
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port: server.webPort });

  const garbage = await exchange(await connect(), "HELLO THERE\r\n\r\n");
  assertEquals(garbage.status, 400);
  garbage.conn.close();

  const huge = await exchange(await connect(), `GET / HTTP/1.1\r\nX-Big: ${"y".repeat(9000)}\r\n\r\n`);
  assertEquals(huge.status, 431);
  huge.conn.close();

  const slow = await connect();
  await slow.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n"));
  const started = Date.now();
  const answer = await slow.read(new Uint8Array(100)).catch(() => null);
  assertEquals(answer, null, "closed without an answer");
  assert.ok(Date.now() - started >= 900, "after the handshake timeout");
  slow.close();
  await server.stderr.waitFor(/WebSocket handshake with 127\.0\.0\.1:\d+ failed: timed out after 1 s/);

  // A browser's spare connection says nothing at all: closed as quietly as it came.
  const spare = await connect();
  const sparePort = (spare.localAddr as Deno.NetAddr).port;
  assertEquals(await spare.read(new Uint8Array(100)).catch(() => null), null);
  spare.close();
  web.send("still served");
  web.send("/who");
  await web.waitFor("* online: user1");
  assertEquals(server.stderr.seen.some((line) => line.includes(`127.0.0.1:${sparePort} failed`)), false);
});

Deno.test("with --tls the page is HTTPS and the WebSocket WSS, with the server's certificate", async () => {
  await using files = await certificateFiles();
  const { cert } = files;
  await using server = await webServer(["--tls-cert", files.certPath, "--tls-key", files.keyPath]);
  assertMatch(server.page!, /^https:\/\//);
  const web = server.stderr.seen.find((line) => line.includes("page https://"))!;
  assertMatch(
    web,
    new RegExp(`wss, page https://127\\.0\\.0\\.1:\\d+/, certificate ${server.fingerprint}\\)`),
  );
  using client = Deno.createHttpClient({ caCerts: [cert] });
  const response = await fetch(server.page!, { client });
  assertEquals(response.status, 200);
  await response.body?.cancel();
  const raw = await openRaw(server.webPort, {
    caCerts: [cert],
    origin: `https://127.0.0.1:${server.webPort}`,
  });
  assertEquals(raw.status, 101);
  await raw.conn.write(frame(0x1, "/who"));
  await raw.conn.write(frame(0x8, Uint8Array.of(0x03, 0xe8)));
  const texts = (await readFrames(raw)).filter((f) => f.opcode === 0x1).map((f) => f.text);
  assertEquals(texts, ["* welcome, user1: 1 online; /help for commands", "* online: user1"]);
});

Deno.test("--deny keeps an address off the web port as off the TCP port", async () => {
  await using server = await webServer(["--deny", "127.0.0.0/8"]);
  const error = await fetch(server.page!).then(async (response) => {
    await response.body?.cancel();
    return undefined;
  }, (error) => error);
  assert.ok(error instanceof TypeError, "the connection was closed before any answer");
  await server.stderr.waitFor(/denied 127\.0\.0\.1:\d+: in --deny/);
});

Deno.test("--workers 2 --web: browsers and TCP clients share one room across workers", {
  ignore: !LINUX,
}, async () => {
  await using server = await startServer(["--mode", "chat", "--workers", "2", "--web", "0"]);
  const webs = await Promise.all(Array.from({ length: 6 }, () => Browserless.open(wsUrl(server))));
  const tcp = await TestClient.connect(server.port, { label: "tcp" });
  try {
    for (const web of webs) await web.waitFor(/^\* welcome/);
    await tcp.lines.waitFor(/^\* welcome/);
    for (const [i, web] of webs.entries()) web.send(`web ${i}`);
    const heard = [];
    for (let i = 0; i < webs.length; i++) heard.push(await tcp.lines.waitFor(/^<user\d+> web \d$/));
    assertEquals(heard.map((line) => line.slice(-5)).sort(), webs.map((_, i) => `web ${i}`));
    await tcp.send("from tcp");
    for (const web of webs) await web.waitFor(/^<user\d+> from tcp$/);
  } finally {
    await closeAll([tcp]);
    for (const web of webs) await web[Symbol.asyncDispose]();
  }
});

Deno.test("the page's address, with the real port, is on the listening line and in the JSON event", async () => {
  await using server = await startServer(["--mode", "echo", "--web", "0", "--log", "json"]);
  const events = server.stderr.seen.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
  const web = events.find((event) => event.event === "listening" && event.transport === "ws");
  assertEquals(web.page, `http://127.0.0.1:${server.webPort}/`);
  assert.ok(server.webPort > 0 && server.webPort !== server.port);
  assertEquals(web.msg, `listening on 127.0.0.1:${server.webPort} (echo mode, ws, page ${web.page})`);
});

Deno.test(
  "the limits of TCP hold over WebSocket: a browser that stops reading is dropped, a silent one times out",
  {
    ignore: !LINUX,
  },
  async () => {
    // No idle timeout here: the stalled client must be dropped for its queue, however much of the
    // flood the kernel's buffers (tens of MB on Linux) take first.
    await using server = await webServer(["--max-queue", "64K", "--rate", "0"]);
    // A client that completes the upgrade and then never reads a byte of what it is sent.
    const stalled = await openRaw(server.webPort);
    assertEquals(stalled.status, 101);
    await using talker = await TestClient.connect(server.port, { label: "talker" });
    await talker.lines.waitFor(/^\* welcome/);
    const flood = Array.from({ length: 200 }, (_, i) => `${i} ${"z".repeat(1000)}`);
    // Until the stalled client is dropped, the room's back-pressure holds the talker: send in the
    // background, 200 KB at a time, until the server says it dropped the stalled client (at most 400 MB).
    let dropped = false;
    const sending = (async () => {
      for (let i = 0; i < 2000 && !dropped; i++) await talker.send(...flood);
    })();
    await server.stderr.waitFor(/#1 disconnected: output queue full/, 30_000);
    dropped = true;
    await sending;
    stalled.conn.close();
    await talker.send("/who");
    assertEquals(await talker.lines.waitFor(/^\* online:/, 30_000), "* online: user2");

    await using quiet = await webServer(["--idle-timeout", "2"]);
    await using idle = await Browserless.open(wsUrl(quiet));
    assertEquals(await idle.waitFor(/^ERR/, 5000), "ERR idle timeout");
    assertEquals((await idle.closed).reason, "idle timeout");
  },
);

Deno.test("DNS rebinding: on any address, an upgrade whose Host does not name the server gets 421", async () => {
  // Bound to a wildcard and allowing only 127.0.0.1: the victim's browser is allowed, and a page
  // whose name was rebound to this machine makes its Origin and Host agree. The Host gives it away.
  await using server = await startServer([
    "--host",
    "::",
    "--mode",
    "chat",
    "--web",
    "0",
    "--allow",
    "127.0.0.1",
  ]);
  const port = server.webPort;
  const evil = await openRaw(port, { host: `evil.example:${port}`, origin: `http://evil.example:${port}` });
  evil.conn.close();
  assertEquals(evil.status, 421);
  assertMatch(evil.body, /does not name this server \(name it with --web-host\)/);
  await server.stderr.waitFor(/handshake .*failed: host "evil\.example:\d+" does not name this server/i);
  const bare = await openRaw(port, { host: "" });
  bare.conn.close();
  assertEquals(bare.status, 421, "an empty Host names nothing");
  // The machine's own addresses are the server's: loopback, and what its interfaces have.
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
    const ours = await openRaw(port, { host, origin: `http://${host}` });
    ours.conn.close();
    assertEquals(ours.status, 101, host);
  }
  const outward = Deno.networkInterfaces().find((info) =>
    info.family === "IPv4" && !info.address.startsWith("127.")
  );
  if (outward !== undefined) {
    const ours = await openRaw(port, { host: `${outward.address}:${port}` });
    ours.conn.close();
    assertEquals(ours.status, 101, `the interface address ${outward.address}`);
  }
});

Deno.test("--web-host names the server for browsers; on a loopback server the rule holds too", async () => {
  await using server = await webServer(["--web-host", "chat.example.com"]);
  const port = server.webPort;
  const named = await openRaw(port, { host: `chat.example.com:${port}` });
  named.conn.close();
  assertEquals(named.status, 101);
  const evil = await openRaw(port, { host: `evil.example:${port}` });
  evil.conn.close();
  assertEquals(evil.status, 421);
});

Deno.test(
  "a ping flood that never reads owes one pong at a time, is closed, and never holds up anyone else",
  { ignore: !LINUX },
  async () => {
    await using server = await startServer(["--mode", "echo", "--web", "0"]);
    const before = await rss(server.pid);
    const flooder = await openRaw(server.webPort);
    // Pings of the largest size, so that their pongs fill the kernel's buffers soon, never reading a
    // byte back, until the server closes the connection (at most 1 GB).
    const ping = frame(0x9, "p".repeat(125));
    const burst = new Uint8Array(ping.length * 1000);
    for (let i = 0; i < 1000; i++) burst.set(ping, i * ping.length);
    let sent = 0;
    const flooding = (async () => {
      try {
        for (; sent < 2 ** 30; sent += burst.length) await writeAll(flooder.conn, burst);
      } catch {
        // Closed by the server: the point.
      }
    })();
    const closed = await server.stderr.waitFor(/#1 disconnected: protocol error/, 15_000);
    assertMatch(closed, /it pings faster than it reads the pongs/);
    // Meanwhile and after, a TCP client is welcomed and answered at once.
    await using nc = await TestClient.connect(server.port);
    const started = Date.now();
    await nc.send("still here");
    assertEquals(await nc.lines.waitFor("still here", 2000), "still here");
    assert.ok(Date.now() - started < 1000, "answered within a second");
    flooder.conn.close();
    await flooding;
    const grown = (await rss(server.pid)) - before;
    assert.ok(grown < 32 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
  },
);

Deno.test("a connection that closes before sending a byte (a browser's spare one) is no warning", async () => {
  await using server = await webServer();
  for (let i = 0; i < 5; i++) (await Deno.connect({ hostname: "127.0.0.1", port: server.webPort })).close();
  // A request that does fail afterwards: its warning is the only one.
  const garbage = await exchange(
    await Deno.connect({ hostname: "127.0.0.1", port: server.webPort }),
    "NONSENSE\r\n\r\n",
  );
  garbage.conn.close();
  await server.stderr.waitFor(/warn: WebSocket handshake with .* failed: not an HTTP\/1\.1 request/);
  assertEquals(
    server.stderr.seen.filter((line) => /warn:/.test(line)).length,
    1,
    server.stderr.seen.join("\n"),
  );
});
