/**
 * `WebSocketStream` in process, over a fake socket: what it writes and when, decided by the order
 * of calls alone, never by how the event loop happens to schedule them.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { FakeStream } from "../support/fake_stream.ts";
import { frame } from "../../scripts/support/websocket.ts";
import { StreamViolation } from "../../lib/transport/transport.ts";
import { WebSocketStream } from "../../lib/transport/websocket.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stream whose upgrade has already happened: `frames` are what the client sent after it. */
async function upgraded(socket: FakeStream, ...frames: Uint8Array[]): Promise<WebSocketStream> {
  const rest = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    rest.set(f, at);
    at += f.length;
  }
  const stream = new WebSocketStream(socket, { maxLine: 1024, upgrade: () => Promise.resolve(rest) });
  await stream.handshake();
  return stream;
}

/** The server frames in `bytes`: `[opcode, text]`, with a close frame's code in front of its text. */
function serverFrames(bytes: Uint8Array): [number, string][] {
  const out: [number, string][] = [];
  for (let at = 0; at < bytes.length;) {
    const opcode = bytes[at] & 0x0f;
    const length = bytes[at + 1] & 0x7f; // the tests' frames are short
    const payload = bytes.subarray(at + 2, at + 2 + length);
    out.push([
      opcode,
      opcode === 0x8
        ? `${(payload[0] << 8) | payload[1]} ${decoder.decode(payload.subarray(2))}`
        : decoder.decode(payload),
    ]);
    at += 2 + length;
  }
  return out;
}

function written(socket: FakeStream): [number, string][] {
  const all = new Uint8Array(socket.writes.reduce((n, w) => n + w.length, 0));
  let at = 0;
  for (const w of socket.writes) {
    all.set(w, at);
    at += w.length;
  }
  return serverFrames(all);
}

Deno.test("a client's close frame ends the stream; the answer goes out after the replies still owed", async () => {
  const socket = new FakeStream();
  const stream = await upgraded(socket, frame(0x1, "last words"), frame(0x8, Uint8Array.of(0x0f, 0xa0)));
  const buffer = new Uint8Array(64);
  const n = await stream.read(buffer);
  assertEquals(decoder.decode(buffer.subarray(0, n!)), "last words");
  assertEquals(await stream.read(buffer), 1); // the line's "\n"
  assertEquals(await stream.read(buffer), null, "the close frame is the end of the stream");
  assertEquals(stream.halfOpen, false, "and of both directions");
  assertEquals(written(socket), [], "nothing is sent while the reply may still be coming");
  await stream.write(encoder.encode("the reply\n"));
  stream.close();
  socket.end();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assertEquals(
    written(socket),
    [[0x1, "the reply"], [0x8, "4000 "]],
    "the reply, then the client's own code",
  );
});

Deno.test("a client's close with a code it may not send is answered with 1002, never echoed", async () => {
  for (const code of [1006, 1005, 1015, 999]) {
    const socket = new FakeStream();
    const stream = await upgraded(socket, frame(0x8, Uint8Array.of(code >> 8, code & 0xff)));
    const error = await stream.read(new Uint8Array(64)).then(() => undefined, (e) => e);
    assert.ok(error instanceof StreamViolation, `${code}: a violation`);
    stream.close();
    socket.end();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assertEquals(written(socket).at(-1)?.[1].split(" ")[0], "1002", `${code}`);
  }
});

Deno.test("pings: one pong is owed at most; a client that pings without reading is closed", async () => {
  const socket = new FakeStream({ slow: true });
  const pings = Array.from({ length: 50 }, (_, i) => frame(0x9, `p${i}`));
  const stream = await upgraded(socket, ...pings);
  const reading = stream.read(new Uint8Array(64)).then(() => "read", (error) => error);
  // The first pong's write hangs (the client does not read); every other ping waits behind it.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assertEquals(socket.waitingWrites, 1, "one pong in flight, none queued behind it");
  const error = await reading;
  assert.ok(error instanceof StreamViolation, "closed after the stall");
  assertEquals(error.message, "it pings faster than it reads the pongs");
  assertEquals(socket.writeCalls, 1);
  stream.close();
  socket.end();
});

Deno.test("pings from a client that reads are each answered, with the latest payload", async () => {
  const socket = new FakeStream();
  const stream = await upgraded(socket, frame(0x9, "a"), frame(0x9, "b"), frame(0x1, "hi"));
  const buffer = new Uint8Array(64);
  const n = await stream.read(buffer);
  assertEquals(decoder.decode(buffer.subarray(0, n!)), "hi");
  await new Promise((resolve) => setTimeout(resolve, 10));
  assertEquals(written(socket), [[0xa, "a"], [0xa, "b"]]);
  stream.close();
  socket.end();
});
