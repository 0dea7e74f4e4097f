/** `Connection` on its own, over a real loopback socket, with a handler written for the test. */

import { assertEquals } from "./assert.ts";
import { Connection } from "../lib/connection.ts";
import { TestClient } from "./harness.ts";

const decoder = new TextDecoder();

/** Accepts one client and serves it with `onLine`; resolves with the close reason. */
function serveOne(
  onLine: (conn: Connection, line: Uint8Array) => void,
): { port: number; served: Promise<string> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = listener.accept().then((tcp) => {
    listener.close();
    return new Connection(tcp, { id: 1, maxLine: 1024, maxQueue: 1 << 20, drainTimeoutMs: 1000 }).serve(
      onLine,
    );
  });
  return { port: listener.addr.port, served };
}

Deno.test("a connection closed while handling a read still sends that read's replies", async () => {
  const { port, served } = serveOne((conn, line) => {
    conn.send(line);
    if (decoder.decode(line) === "bye") conn.close("handler said bye");
  });
  await using client = await TestClient.connect(port);
  await client.write("a\nb\nbye\nnever read\n");
  assertEquals(await client.lines.rest(), ["a", "b", "bye"]);
  assertEquals(await served, "handler said bye");
});

Deno.test("send copies its bytes: the caller may reuse them at once", async () => {
  const { port, served } = serveOne((conn, line) => {
    conn.send(line);
    line.fill(0x3f); // the framer's buffer is reused too; what was sent must not change
  });
  await using client = await TestClient.connect(port);
  await client.send("first", "second");
  assertEquals(await client.lines.next(), "first");
  assertEquals(await client.lines.next(), "second");
  await client.closeWrite();
  assertEquals(await served, "client closed");
});
