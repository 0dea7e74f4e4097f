/** `serve()` used as a library: given a listener and an abort signal, in-process. */

import { assertEquals, assertMatch } from "./assert.ts";
import { createLogger } from "../lib/log.ts";
import { serve } from "../lib/server.ts";
import { TestClient } from "./harness.ts";

Deno.test("serve() runs on a listener it is given and stops when the signal aborts", async () => {
  const logged: string[] = [];
  const logger = createLogger({ format: "json", write: (line) => logged.push(line) });
  const stop = new AbortController();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = serve(listener, { mode: "echo", logger, signal: stop.signal });
  assertEquals(server.addr.port, listener.addr.port);
  {
    await using client = await TestClient.connect(server.addr.port);
    await client.send("in process");
    assertEquals(await client.lines.next(), "in process");
    stop.abort("test over");
    assertEquals(await client.lines.rest(), ["* server shutting down"]);
  }
  assertEquals(await server.finished, { connections: 1, linesIn: 1, linesOut: 2 });
  const events = logged.map((line) => JSON.parse(line));
  assertEquals(events.map((e) => e.event), ["listening", "connect", "shutdown", "disconnect", "summary"]);
  assertMatch(events[2].msg, /^shutting down \(test over\)/);
});

Deno.test("await using a server shuts it down at the end of the scope", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let finished;
  {
    await using server = serve(listener, { mode: "chat", logger: createLogger({ write: () => {} }) });
    finished = server.finished;
    await using client = await TestClient.connect(server.addr.port);
    assertMatch(await client.lines.next(), /^\* welcome, user1/);
  }
  assertEquals((await finished).connections, 1);
});
