/** `serve()` used as a library: given a listener and an abort signal, in-process. */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { createLogger } from "../../lib/log.ts";
import { MemoryRegistry } from "../../lib/registry/memory.ts";
import { describeSummary, serve } from "../../lib/server/serve.ts";
import { TestClient } from "../../scripts/support/harness.ts";

Deno.test("serve() runs on a listener it is given and stops when the signal aborts", async () => {
  const logged: string[] = [];
  const logger = createLogger({ format: "json", write: (line) => logged.push(line) });
  const stop = new AbortController();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = serve(listener, {
    mode: "echo",
    logger,
    registry: new MemoryRegistry(),
    signal: stop.signal,
  });
  assertEquals(server.addr, listener.addr);
  {
    await using client = await TestClient.connect(listener.addr.port);
    await client.send("in process");
    assertEquals(await client.lines.next(), "in process");
    stop.abort("test over");
    assertEquals(await client.lines.rest(), ["* server shutting down"]);
  }
  assertEquals(await server.finished, {
    connections: 1,
    linesIn: 1,
    linesOut: 2,
    denied: 0,
    failedHandshakes: 0,
  });
  const events = logged.map((line) => JSON.parse(line));
  assertEquals(events.map((e) => e.event), ["listening", "connect", "shutdown", "disconnect", "summary"]);
  assertMatch(events[2].msg, /^shutting down \(test over\)/);
});

Deno.test("await using a server shuts it down at the end of the scope", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let finished;
  {
    await using server = serve(listener, {
      mode: "chat",
      logger: createLogger({ write: () => {} }),
      registry: new MemoryRegistry(),
    });
    finished = server.finished;
    await using client = await TestClient.connect(listener.addr.port);
    assertMatch(await client.lines.next(), /^\* welcome, user1/);
  }
  assertEquals((await finished).connections, 1);
});

Deno.test("one process serves echo and chat without any SharedArrayBuffer", async () => {
  const original = globalThis.SharedArrayBuffer;
  // Any shared memory made from here on fails loudly.
  globalThis.SharedArrayBuffer = function () {
    throw new Error("a single process must not need shared memory");
  } as unknown as SharedArrayBufferConstructor;
  try {
    for (const mode of ["echo", "chat"] as const) {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      await using _server = serve(listener, {
        mode,
        logger: createLogger({ write: () => {} }),
        registry: new MemoryRegistry({ maxConns: 10, maxConnsPerIp: 5 }),
      });
      await using client = await TestClient.connect(listener.addr.port);
      await client.send("/nick solo", "hi");
      if (mode === "echo") {
        assertEquals([await client.lines.next(), await client.lines.next()], ["/nick solo", "hi"]);
      } else assertEquals(await client.lines.waitFor(/^\* you are now/), "* you are now solo");
    }
  } finally {
    globalThis.SharedArrayBuffer = original;
  }
});

Deno.test("the summary and the close lines count in words: 1 connection, 1 line, 2 lines", () => {
  assertEquals(
    describeSummary({ connections: 1, linesIn: 1, linesOut: 2, denied: 0, failedHandshakes: 1 }),
    "served 1 connection, 1 line in, 2 lines out; 1 failed handshake",
  );
  assertEquals(
    describeSummary({ connections: 0, linesIn: 0, linesOut: 0, denied: 2, failedHandshakes: 3 }),
    "served 0 connections, 0 lines in, 0 lines out; 2 denied, 3 failed handshakes",
  );
});
